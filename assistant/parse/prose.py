"""The prose of a report as parse/narrative.py and parse/mentions.py read it: consecutive lines joined
into paragraphs (headings, titles and table rows apart), split into sentences at 。, with the line and
page every character came from."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain

from assistant.models import Document

_QUOTE_CHARS = frozenset('“”"‘’「」『』')


_SENTENCE_END = frozenset("。!?！？")


_OPEN_BRACKETS = "《【〔["


_CLOSE_BRACKETS = "》】〕]"


def one_of(chars: str | frozenset[str]) -> re.Pattern[str]:
    return re.compile("[" + re.escape("".join(sorted(chars))) + "]")


_SENTENCE_END_RE = one_of(_SENTENCE_END)


# A character prose_sentences must look at one by one: a quote (dropped) or whitespace (dropped or kept).
_SPECIAL_RE = re.compile("[\\s" + re.escape("".join(sorted(_QUOTE_CHARS))) + "]")


_NON_SPACE_RE = re.compile(r"\S")  # \s is str.isspace()


_OPEN_BRACKET_RE = one_of(_OPEN_BRACKETS)


HEADING_RE = re.compile(
    r"^(?:第[一二三四五六七八九十\d]+部分|[一二三四五六七八九十]+、|\([一二三四五六七八九十]+\)|"
    r"\d+\s*[、.．](?!\d)|\(\d+\)|[①②③④⑤⑥⑦⑧⑨⑩])\s*"
)


_TITLE_END_RE = re.compile(r"(?:情况|说明|原因|概况|职能|设置|解释|预算|决算|措施|问题|目标)$")


_SENTENCE_PUNCT_RE = re.compile(r"[，。；;:、,]")


_PAGE_NUMBER_RE = re.compile(r"^[-—–\s]*(?:第\s*)?\d{1,3}(?:\s*页)?[-—–\s]*$")


_THRESHOLD_START_RE = re.compile(r"^[≥≤≧≦<>=＝～~]")


# The same shape, for table lines: (?<![\d.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\d.,]|\s*年).
_LINE_NUMBER_RE = re.compile(r"\d(?<![\d.,]\d)(?:\d{0,2}(?:,\d{3})+|\d*)(?:\.\d+)?(?![\d.,]|\s*年)")


@dataclass
class Where:
    """Where each character of a sentence's match text came from (parallel to the text)."""

    lines: list[int]
    pages: list[int | None]


def is_table_line(text: str) -> bool:
    """Table rows and indicator tables: tab-separated, thresholds, or several bare numbers."""
    if "\t" in text or _THRESHOLD_START_RE.match(text):
        return True
    if not _SENTENCE_PUNCT_RE.search(text):
        return len(_LINE_NUMBER_RE.findall(text)) >= 2
    return False


def _is_title(text: str) -> bool:
    """A section title (short, or a numbered heading ending like one), kept out of the next sentence."""
    body = HEADING_RE.sub("", text)
    if _SENTENCE_PUNCT_RE.search(body) or _LINE_NUMBER_RE.search(body):
        return False
    return len(body) <= 20 or (body != text and bool(_TITLE_END_RE.search(body)))


def prose_paragraphs(doc: Document) -> Iterator[tuple[str, list[tuple[int, int | None, int]]]]:
    """Consecutive prose lines joined; headings, titles and table rows break paragraphs.

    A paragraph is its text and the (line, page, number of characters) of its pieces, in order
    (see origins).
    """
    parts: list[str] = []
    pieces: list[tuple[int, int | None, int]] = []
    for sl in doc.lines:
        text = sl.text.strip()
        if not text:
            continue  # blank lines inside paragraphs are common in exports (000 alternates them)
        if _PAGE_NUMBER_RE.match(text):
            continue  # a page number between two halves of a sentence
        if is_table_line(text):
            if parts:
                yield "".join(parts), pieces
            parts, pieces = [], []
            continue
        title = _is_title(text)
        if (title or HEADING_RE.match(text)) and parts:
            yield "".join(parts), pieces
            parts, pieces = [], []
        if parts and parts[-1][-1].isdigit() and text[0].isdigit():
            parts.append(" ")  # never glue two numbers across a line break
            pieces.append((sl.line, sl.page, 1))
        parts.append(text)
        pieces.append((sl.line, sl.page, len(text)))
        if title:
            yield "".join(parts), pieces
            parts, pieces = [], []
    if parts:
        yield "".join(parts), pieces


def origins(pieces: list[tuple[int, int | None, int]]) -> tuple[list[int], list[int | None]]:
    """The line and the page of every character of a paragraph."""
    lines: list[int] = []
    pages: list[int | None] = []
    for line, page, n in pieces:
        lines.extend([line] * n)
        pages.extend([page] * n)
    return lines, pages


def prose_sentences(para: str, lines: list[int], pages: list[int | None]) -> Iterator[tuple[str, Where, str]]:
    """Split a paragraph at 。: (match text, where each match character came from, display text).

    The match text drops quotes, and spaces except one between two numbers.
    """
    start = 0  # index in para of the sentence start
    ends = [m.end() for m in _SENTENCE_END_RE.finditer(para)]
    if not ends or ends[-1] < len(para):
        ends.append(len(para))
    for end in ends:
        if not _SPECIAL_RE.search(para, start, end):
            # the common case: every character is kept as it is
            if start < end:
                yield para[start:end], Where(lines[start:end], pages[start:end]), para[start:end].strip()
            start = end
            continue
        # quotes dropped; a space kept (as " ") only between two numbers
        kept: list[str] = []
        spans: list[tuple[int, int]] = []  # the para range each kept piece comes from
        last = ""  # last kept character
        pos = start
        for m in _SPECIAL_RE.finditer(para, start, end):
            i = m.start()
            if pos < i:
                kept.append(para[pos:i])
                spans.append((pos, i))
                last = para[i - 1]
            pos = i + 1
            if para[i].isspace() and last.isdigit():
                nm = _NON_SPACE_RE.search(para, i + 1)
                if nm is not None and nm.group().isdigit():
                    kept.append(" ")
                    spans.append((i, i + 1))
                    last = " "
        if pos < end:
            kept.append(para[pos:end])
            spans.append((pos, end))
        if kept:
            where = Where(
                list(chain.from_iterable(lines[a:b] for a, b in spans)),
                list(chain.from_iterable(pages[a:b] for a, b in spans)),
            )
            yield "".join(kept), where, para[start:end].strip()
        start = end


def bracket_depths(text: str) -> list[int]:
    """Nesting depth of 《》【】〔〕 at each position (numbers inside titles are not facts)."""
    if not _OPEN_BRACKET_RE.search(text):
        return [0] * len(text)  # a closing bracket alone leaves the depth at 0
    depth, out = 0, []
    for ch in text:
        if ch in _OPEN_BRACKETS:
            depth += 1
        out.append(depth)
        if ch in _CLOSE_BRACKETS:
            depth = max(0, depth - 1)
    return out


def iter_paragraphs(doc: Document) -> Iterator[tuple[str, list[int], list[int | None]]]:
    """Every prose paragraph of ``doc`` as this module reads it (lines joined; headings, titles and table
    rows apart), with the line and page of each character (used by the audit, assistant/audit/)."""
    for para, pieces in prose_paragraphs(doc):
        yield (para, *origins(pieces))


BOUNDARY = frozenset("，；;。!?！？、")
