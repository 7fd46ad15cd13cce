"""Split a report into retrieval passages along its own structure.

The report's headings (第一部分…, 一、, （一）, 1. / 1、, (1), table titles …表) give every passage a
section path; inside a section, prose is split into sentences (。；！？ and paragraph ends) and packed
into chunks of about ``size`` characters, consecutive chunks of one section sharing up to ``overlap``
characters of whole sentences. A line that is a table row is never split. Text exports wrap prose
mid-sentence (often with blank lines between the pieces): wrapped lines are joined without spaces.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from assistant.models import Chunk, Document, Report, SourceLine

__all__ = [
    "CHUNKER_VERSION",
    "chunk_document",
    "chunk_document_with_context",
    "display_line",
    "split_sentences",
    "heading_level",
]

# Bump when the chunking rules change: the index manifest stores it, a change forces a rebuild.
CHUNKER_VERSION = 3

_BOOKMARK = re.compile(r"\[bookmark:\s*[^\]]*\]")
_WS = re.compile(r"[ \t\u3000\u00a0]+")
_NON_WS = re.compile(r"\s+")
# Page numbers and separator rows: layout, not content.
_ARTEFACT = re.compile(
    r"^(?:[-—–]\s*\d{1,3}\s*[-—–]|第\s*\d{1,3}\s*页(?:\s*[,，]?\s*共\s*\d{1,3}\s*页)?|[\s|:：\-—_=·]*)$"
)

_CN_NUM = "一二三四五六七八九十"
_HEADINGS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (0, re.compile(rf"^第\s*[{_CN_NUM}\d]{{1,3}}\s*部分")),
    (1, re.compile(rf"^[{_CN_NUM}]{{1,3}}\s*[、.．]")),
    (2, re.compile(rf"^[（(]\s*[{_CN_NUM}]{{1,3}}\s*[）)]")),
    (3, re.compile(r"^\d{1,2}\s*[、.．](?!\d)")),
    (4, re.compile(r"^[（(]\s*\d{1,2}\s*[）)]")),
)
_TABLE_TITLE = re.compile(r"^[^\s，。；：:、]{3,30}表$")
# Unnumbered part titles of PDF reports ("2025年部门预算编制说明", "…主要职能", "名词解释").
_PART_TITLE = re.compile(r"^[^\s，。；：:、,;()（）]{0,28}(?:说明|主要职能|机构设置|名词解释)$")
_TABLE_CODE = re.compile(r"^公开\s*\d+\s*表$")
_SECOND_MARKER = re.compile(rf"\s[{_CN_NUM}]{{1,3}}、")
_NUM_TOKEN = re.compile(r"^[-+]?[\d,，.]+%?$|^[—–\-]+$")
_PROSE_PUNCT = re.compile(r"[，。；！？：]")
# A sentence ends after 。！？； or a line break.
_AFTER_SENTENCE_END = re.compile(r"(?<=[。！？；\n])")
# A prose line ending with one of these closes its paragraph; otherwise the next line continues it.
_PARA_END = "。！？；：:!?;"
_LIST_START = re.compile(
    rf"^(?:[-•·]\s|[（(]?[{_CN_NUM}\d]{{1,3}}[）)]|[{_CN_NUM}]{{1,3}}、|\d{{1,2}}[、.．](?!\d))"
)
_CJK = re.compile(r"[\u3400-\u9fff]")
# One non-digit glyph drawn four times in a row (a PDF bold artefact the normaliser left).
_QUAD_GLYPH = re.compile(r"([^\d\s.\-—…_=·])\1{3,}")
_MAX_HEADING = 40  # headings are short; a longer numbered line is a list item of prose
_MIN_WRAP = 15  # a shorter line not ending a sentence is a label, not a wrapped piece of prose
_LABEL_MAX = 30  # characters of a heading kept in the section path


def _collapse_quad(m: re.Match[str]) -> str:
    run = m.group(0)
    return m.group(1) if len(run) == 4 else run


def display_line(line: SourceLine) -> str:
    """The text of a line for display: the raw line with Word bookmarks dropped and spaces squeezed.

    When the loader had to repair the line (PDF glyphs drawn four times, doubled characters: the
    normalised text is shorter), the raw text is unreadable and the normalised text is used instead.
    A single glyph drawn exactly four times (七、““““三公”) is collapsed here too.
    """
    return _display(line.raw, line.text)


@lru_cache(maxsize=100_000)
def _display(raw: str, text: str) -> str:
    # cached: lines repeat within and across reports (see _line_kind)
    if "[bookmark:" in raw:
        raw = _BOOKMARK.sub("", raw)
    cleaned = _WS.sub(" ", raw).strip()
    if cleaned and text != cleaned and len(_NON_WS.sub("", text)) < len(_NON_WS.sub("", cleaned)):
        cleaned = _WS.sub(" ", text).strip()
    return _QUAD_GLYPH.sub(_collapse_quad, cleaned)


def heading_level(text: str, wrap: int | None = None) -> int | None:
    """Level of a heading line (0 part, 1 一、, 2 （一）, 3 1., 4 (1), 5 table title) or None.

    A short unnumbered line ending in 说明 / 主要职能 / 机构设置 / 名词解释 is a part title (level 0).

    ``wrap`` is the line width of a text export that wraps prose: a numbered line that fills it is
    the first piece of a wrapped list item, not a heading.
    """
    if not text or _TABLE_CODE.match(text):
        return None
    if _HEADINGS[0][1].match(text):
        return 0 if len(text) <= 60 else None
    if len(text) > _MAX_HEADING or "\t" in text or text[-1] in "。；，,;":
        return None
    if wrap is not None and len(text) >= 0.85 * wrap:
        return None
    tokens = text.split()
    if len(tokens) > 1 and _NUM_TOKEN.match(tokens[-1]):
        return None  # a table row such as "二、机关运行经费 22 — 221,653.72"
    for level, rx in _HEADINGS[1:]:
        if rx.match(text):
            if _SECOND_MARKER.search(text) or "。" in text[:-1]:
                return None
            return level
    if _TABLE_TITLE.match(text) and _CJK.search(text):
        return 5
    if _PART_TITLE.match(text) and _CJK.search(text):
        return 0
    return None


def _is_table_row(text: str) -> bool:
    """A row of a table: cells separated by tabs, or numbers as separate tokens and no prose punctuation."""
    if "\t" in text:
        return True
    if _PROSE_PUNCT.search(text):
        return False
    return sum(1 for t in text.split() if _NUM_TOKEN.match(t)) >= 1 and len(text.split()) >= 2


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (ends 。！？； and newlines kept with their sentence)."""
    return [piece for piece in _AFTER_SENTENCE_END.split(text) if piece.strip()]


@dataclass
class _Unit:
    """An indivisible piece of a chunk: a sentence, a table row or a heading."""

    text: str
    line_start: int
    line_end: int
    page: int | None
    para: int  # units of one paragraph are joined without a separator
    heading: int | None = None  # heading level, None for content
    row: bool = False  # a table row (numbers in cells)


@dataclass
class _Para:
    pieces: list[tuple[str, SourceLine]]

    @property
    def text(self) -> str:
        return "".join(t for t, _ in self.pieces)


def _join(prev: str, nxt: str) -> str:
    """Separator for a wrapped line: none between Chinese text, a space between two ASCII words."""
    if prev and nxt and prev[-1].isascii() and prev[-1].isalnum() and nxt[0].isascii() and nxt[0].isalnum():
        return " "
    return ""


def _split_long(sentence: str, size: int) -> list[str]:
    """Cut an over-long sentence at commas (then hard) into pieces of at most ~size characters."""
    if len(sentence) <= size * 3 // 2:
        return [sentence]
    parts = re.split(r"(?<=[，、,])", sentence)
    out: list[str] = []
    cur = ""
    for p in parts:
        while len(p) > size:  # no comma for a long stretch: hard cut
            if cur:
                out.append(cur)
                cur = ""
            out.append(p[:size])
            p = p[size:]
        if cur and len(cur) + len(p) > size:
            out.append(cur)
            cur = ""
        cur += p
    if cur:
        out.append(cur)
    return out


def _para_units(para: _Para, pid: int, size: int) -> list[_Unit]:
    """Sentences of a joined paragraph, each with the lines it spans."""
    starts: list[int] = []
    pos = 0
    for t, _ in para.pieces:
        starts.append(pos)
        pos += len(t)

    def line_at(i: int) -> SourceLine:  # the line of the last piece starting at or before i
        return para.pieces[max(bisect_right(starts, i) - 1, 0)][1]

    units: list[_Unit] = []
    pos = 0
    for sent in split_sentences(para.text):
        for piece in _split_long(sent, size):
            first, last = line_at(pos), line_at(pos + len(piece) - 1)
            units.append(_Unit(piece.strip(), first.line, last.line, first.page, pid))
            pos += len(piece)
    return [u for u in units if u.text]


def _wrap_width(texts: list[str]) -> int | None:
    """Line width of a hard-wrapped text export (None when paragraphs are single long lines).

    Wrapped exports put most prose lines at nearly the same length; that length is the upper
    quartile of the lengths of lines with Chinese text.
    """
    lengths = sorted(len(t) for t in texts if len(t) >= 8 and _CJK.search(t))
    if len(lengths) < 20:
        return None
    p75 = lengths[len(lengths) * 3 // 4]
    near = sum(1 for n in lengths if 0.85 * p75 <= n <= 1.15 * p75)
    return p75 if p75 <= 60 and near >= 0.3 * len(lengths) else None


def _units(doc: Document, size: int) -> list[_Unit]:
    """The document as a sequence of headings, table rows and sentences, in reading order."""
    texts = [display_line(sl) for sl in doc.lines]
    wrap = _wrap_width(texts)
    units: list[_Unit] = []
    para: _Para | None = None
    pid = 0

    def flush() -> None:
        nonlocal para, pid
        if para is not None:
            units.extend(_para_units(para, pid, size))
            pid += 1
            para = None

    for sl, text in zip(doc.lines, texts, strict=True):
        kind = _line_kind(text, wrap)
        if kind is None:
            continue
        level, row = kind
        if level is not None:
            flush()
            units.append(_Unit(text, sl.line, sl.line, sl.page, pid, heading=level))
            pid += 1
        elif row:
            flush()
            units.append(_Unit(text, sl.line, sl.line, sl.page, pid, row=True))
            pid += 1
        else:
            if para is not None:
                prev = para.pieces[-1][0]
                wrapped = len(prev) >= _MIN_WRAP and prev[-1] not in _PARA_END and not _LIST_START.match(text)
                if wrapped:
                    para.pieces.append((_join(prev, text) + text, sl))
                    continue
                flush()
            para = _Para([(text, sl)])
    flush()
    return units


@lru_cache(maxsize=100_000)
def _line_kind(text: str, wrap: int | None) -> tuple[int | None, bool] | None:
    """None for a line that is layout (empty, a page number, a separator), else its heading level
    and whether it is a table row. Cached: reports repeat page headers, table headers and whole
    passages (名词解释, 职能), within one report and across reports."""
    if not text or _ARTEFACT.match(text):
        return None
    level = heading_level(text, wrap)
    return level, level is None and _is_table_row(text)


def _label(text: str) -> str:
    return text if len(text) <= _LABEL_MAX else text[: _LABEL_MAX - 1] + "…"


# Lines under a table title that are not part of the column header: who compiled it, the unit.
_NOT_HEADER = re.compile(r"^(?:编制(?:部门|单位)|单位[:：]|金额单位|注[:：])")


# A piece of a chunk with its place in the document: (first line, last line, paragraph number, page,
# text).
Span = tuple[int, int, int, int | None, str]


def chunk_document(
    doc: Document, report: Report, size: int, overlap: int, table_size: int | None = None
) -> list[Chunk]:
    """Chunks of ``doc`` (see ``chunk_document_with_context``), without their table context."""
    return [c for c, _, _ in chunk_document_with_context(doc, report, size, overlap, table_size)]


def chunk_document_with_context(
    doc: Document, report: Report, size: int, overlap: int, table_size: int | None = None
) -> list[tuple[Chunk, str, list[Span]]]:
    """Chunks of ``doc`` of about ``size`` characters (``overlap`` shared between neighbours), each
    with its *table context* and its spans (the sentences / rows / headings it is made of, with
    their line numbers: a sentence of a chunk can be cited by its own lines).

    Chunks never cross a heading of level 0-5 (a new section starts a new chunk), never split a
    line that is a table row, carry the section path ("第三部分 名词解释 > …"), their 1-based line
    span and the page of their first line, and the report's department, year and kind.

    Inside a table (a section opened by a table title) chunks are cut at ``table_size`` characters
    (default: half of ``size``) and each carries, as context, the table's title and column header
    ("…经济分类预算表 | 编码 经济分类科目名称 合计 人员经费 公用经费"), so a chunk holding the
    合计 row deep inside a long table still says which table and columns its numbers belong to. The
    context is indexed with the chunk (BM25 and embeddings) but is not part of ``chunk.text``; it is
    "" outside tables.
    """
    tsize = table_size or max(80, size // 2)
    stack: list[tuple[int, str]] = []
    out: list[tuple[Chunk, str, list[Span]]] = []
    cur: list[_Unit] = []
    section = ""
    table_title: str | None = None  # the current table's title while inside one
    header: list[_Unit] = []  # the current table's header lines (before its first row)
    in_header = False
    # kept up to date with cur: whether it holds content (not only headings), its length in characters
    content, length = False, 0

    def has_content() -> bool:
        return any(u.heading is None for u in cur)

    def context() -> str:
        if table_title is None:
            return ""
        head = " ".join(u.text for u in header if u not in cur)
        return f"{table_title} | {head}" if head else table_title

    def emit() -> None:
        if not has_content():
            return
        parts: list[str] = []
        for i, u in enumerate(cur):
            if i and u.para != cur[i - 1].para:
                parts.append("\n")
            parts.append(u.text)
        chunk = Chunk(
            doc=doc.doc,
            chunk_id=len(out),
            text="".join(parts),
            section=section,
            line_start=min(u.line_start for u in cur),
            line_end=max(u.line_end for u in cur),
            page=cur[0].page,
            department=report.department,
            year=report.year,
            kind=report.kind,
        )
        out.append((chunk, context(), [(u.line_start, u.line_end, u.para, u.page, u.text) for u in cur]))

    for u in _units(doc, size):
        if u.heading is not None:
            if content:
                emit()
                cur = []
            # headings still waiting for content that this heading replaces are dropped
            cur = [h for h in cur if h.heading is not None and h.heading < u.heading]
            while stack and stack[-1][0] >= u.heading:
                stack.pop()
            stack.append((u.heading, _label(u.text)))
            cur.append(u)
            content, length = False, sum(len(x.text) for x in cur)
            table_title = u.text if u.heading == 5 else None
            header, in_header = [], u.heading == 5
            continue
        if in_header:
            if u.row:
                in_header = False
            elif not _NOT_HEADER.match(u.text):
                header.append(u)
        if not content:
            section = " > ".join(label for _, label in stack)
        limit = tsize if table_title is not None and not in_header else size
        if content and length + len(u.text) > limit:
            emit()
            # overlap: trailing whole sentences/rows of the previous chunk, same section only
            tail: list[_Unit] = []
            kept = 0
            for prev in reversed(cur):
                if prev.heading is not None or kept + len(prev.text) > overlap:
                    break
                tail.insert(0, prev)
                kept += len(prev.text)
            cur, length = tail, kept
        cur.append(u)
        content, length = True, length + len(u.text)
    emit()
    return out
