"""Text normalisation for matching, and Decimal number parsing/formatting.

``normalize_text`` folds full-width ASCII to half-width, collapses the "bold" artefacts some PDF
exporters leave (every glyph drawn 4 times: ``（（（（一一一一））））主要职能主要职能主要职能主要职能``), removes
Word ``[bookmark: _Toc…]`` markers and squeezes runs of spaces. It is idempotent by construction:
the rewrite steps are applied until a fixpoint is reached.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from decimal import Decimal, InvalidOperation
from functools import partial

__all__ = ["normalize_text", "normalize_lines", "parse_number", "format_number"]

# Full-width forms folded to ASCII. Chinese sentence punctuation (。、；“”‘’！？《》) is kept, and so
# is the full-width comma ，: in prose it separates list items ("10，20"), so it is folded only
# inside a thousands-grouped number (see _FW_COMMA_IN_NUMBER).
_FOLD_EXTRA = "（）：％＋－．／＜＞＝＃＆＊＠［］｛｝｜＿"
_FOLD = {ord(c): ord(c) - 0xFEE0 for c in _FOLD_EXTRA}
_FOLD.update({cp: cp - 0xFEE0 for cp in range(ord("０"), ord("９") + 1)})
_FOLD.update({cp: cp - 0xFEE0 for cp in range(ord("Ａ"), ord("Ｚ") + 1)})
_FOLD.update({cp: cp - 0xFEE0 for cp in range(ord("ａ"), ord("ｚ") + 1)})
_FOLD[0x3000] = 0x20  # ideographic space
_FOLD[0xA0] = 0x20  # no-break space
_FOLDABLE = re.compile("[" + "".join(re.escape(chr(cp)) for cp in sorted(_FOLD)) + "]")

_FW_COMMA_IN_NUMBER = re.compile(r"(?<=\d)，(?=\d{3}(?!\d))")
_BOOKMARK = re.compile(r"\[bookmark:\s*[^\]]*\]")
_SPACES = re.compile(r" {2,}")
_CJK = re.compile(r"[\u3400-\u9fff]")
# A unit (1..24 chars, lazily shortest) repeated exactly 4 times: the bold-glyph artefact.
_QUAD = re.compile(r"(.{1,24}?)\1{3}", re.S)
# Digits/dots token entirely made of quadrupled chars ("4444....", "1111") or of one unit x4
# ("2020202020202020", "1.1.1.1.").
_NUM_TOKEN = re.compile(r"[0-9.:：]+")
# A 4-digit year drawn 4 times: strong evidence even on a line without CJK doubling.
_YEAR_QUAD = re.compile(r"(?<!\d)((?:19|20)\d\d)\1{3}(?!\d)")
# 2x/3x doubling is common in real Chinese (人人, 常常), so only a run of >=3 consecutive CJK chars
# each repeated exactly k times counts.
_DOUBLED_CHARS = r"[\u3400-\u9fff（）：:，。、；“”]"
_CJK_DOUBLED = {
    k: re.compile(r"(?:(" + _DOUBLED_CHARS + r")\1{" + str(k - 1) + r"}(?!\1)){3,}") for k in (2, 3)
}
_ADJACENT_PAIR = re.compile("(" + _DOUBLED_CHARS + r")\1")  # what both _CJK_DOUBLED patterns need
# Anything in a line that one normalisation pass could change, except a bold unit with a CJK
# character (see _cjk_quad_lines): a line with none of these is already normal.
# (Each alternative starts with a literal or a class so the scan fails fast at most positions: the
# comma of _FW_COMMA_IN_NUMBER before its lookbehind; 16 digits for a _YEAR_QUAD, a superset.)
_MAYBE_CHANGED = re.compile(
    r"\[bookmark:|"
    + _FOLDABLE.pattern
    + r"|，(?<=\d，)(?=\d{3}(?!\d))|  |^ | $|\d{16}|("
    + _DOUBLED_CHARS
    + r")\1",
    re.M,
)
# Longest bold unit _QUAD looks for.
_QUAD_MAX_UNIT = 24


def _exact_quad_spans(line: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, unit) of units repeated exactly 4 times (not 5+)."""
    spans: list[tuple[int, int, str]] = []
    pos = 0
    while pos < len(line):
        m = _QUAD.search(line, pos)
        if m is None:
            break
        unit = m.group(1)
        start, end = m.start(), m.end()
        # exactness: the unit must not continue on either side (a 5th copy means real text, e.g. ……)
        if line.startswith(unit, end) or (start >= len(unit) and line[start - len(unit) : start] == unit):
            pos = start + 1
            continue
        if unit.strip() == "":
            pos = end
            continue
        spans.append((start, end, unit))
        pos = end
    return spans


def _collapse_num_token(tok: str) -> str:
    """Collapse a digit token only if it is wholly a quadrupled artefact."""
    runs = re.findall(r"((.)\2*)", tok)
    if runs and all(len(r[0]) == 4 for r in runs):
        return "".join(r[1] for r in runs)
    m = re.fullmatch(r"(.+?)\1{3}", tok)
    if m:
        return m.group(1)
    return tok


def _collapse_bold(line: str, cjk_quad: bool = True) -> str:
    """Collapse 4x glyph repetition when a CJK unit proves the line is affected.

    ``cjk_quad=False``: the caller knows no CJK character of ``line`` recurs 3 times at one distance
    of 1..24 (so no unit with a CJK character is repeated 4 times).
    """
    if len(line) >= 16:  # a year drawn 4 times is 16 digits
        collapsed = _YEAR_QUAD.sub(r"\1", line)
        if collapsed != line:
            line, cjk_quad = collapsed, True  # distances changed: what the caller knew no longer holds
    # A unit with a CJK character repeated 4 times needs some character 4 times; most lines (short
    # labels, numbers) have too few repeated characters, so the costly span search is skipped
    if not cjk_quad or len(line) - len(set(line)) < 3 or not _CJK.search(line):
        return _collapse_doubled(line)
    spans = _exact_quad_spans(line)
    if not any(_CJK.search(u) for _, _, u in spans):
        return _collapse_doubled(line)
    out: list[str] = []
    last = 0
    for start, end, unit in spans:
        if _NUM_TOKEN.fullmatch(unit):
            continue  # digits handled token-wise below, so 10000 is never touched
        out.append(line[last:start])
        out.append(unit)
        last = end
    out.append(line[last:])
    text = "".join(out)
    return _NUM_TOKEN.sub(lambda m: _collapse_num_token(m.group(0)), text)


def _collapse_doubled(line: str) -> str:
    """Collapse 2x/3x doubled CJK runs (主主要要职职能能 → 主要职能)."""
    if not _ADJACENT_PAIR.search(line):
        return line  # both patterns need two equal adjacent characters
    for k, rx in _CJK_DOUBLED.items():
        line = rx.sub(partial(_every_kth, k), line)
    return line


def _every_kth(k: int, m: re.Match[str]) -> str:
    return m.group(0)[::k]


def _normalize_once(text: str, cjk_quad: bool = True) -> str:
    # each step is skipped when a cheap test shows it cannot change the text. ``cjk_quad=False``:
    # see _collapse_bold; folding and the comma keep every CJK character where it is, removing a
    # bookmark does not
    if "[bookmark:" in text:
        text = _BOOKMARK.sub("", text)
        cjk_quad = True
    if _FOLDABLE.search(text):
        text = text.translate(_FOLD)
    if "，" in text:
        text = _FW_COMMA_IN_NUMBER.sub(",", text)
    if "\n" not in text:
        text = _collapse_bold(text, cjk_quad)
        if "  " in text:
            text = _SPACES.sub(" ", text)
        return text.strip(" ")
    text = "\n".join(_collapse_bold(line) for line in text.split("\n"))
    text = _SPACES.sub(" ", text)
    return "\n".join(line.strip(" ") for line in text.split("\n"))


def normalize_text(raw: str) -> str:
    """Return ``raw`` normalised for matching (idempotent).

    Folds full-width digits/letters/（）：％ to half-width (keeps 。、；“” and prose ，), collapses PDF
    bold artefacts (glyphs or words drawn 4 times, a year drawn 4 times, runs of 2x/3x doubled CJK),
    removes ``[bookmark: …]`` markers, squeezes runs of spaces and strips spaces at line ends.
    Tabs are kept: they separate table cells.
    """
    prev = None
    text = raw
    # every changing pass after the first strictly shortens the text, so this terminates
    while text != prev:
        prev, text = text, _normalize_once(text)
    return text


def normalize_lines(lines: list[str]) -> list[str]:
    """``[normalize_text(s) for s in lines]``, much faster on the lines of a document.

    Most lines of a report are already normal. Each pass scans the lines not yet at their fixpoint
    together to find those a pass could change and those that may hold a bold CJK unit; only the
    former are rewritten, and the costly bold-unit search runs only on the latter.
    """
    if any("\n" in s for s in lines):
        return [normalize_text(s) for s in lines]  # the shared scan needs one line per text line
    out = list(lines)
    todo = list(range(len(lines)))
    while todo:
        texts = [out[i] for i in todo]
        joined = "\n".join(texts)
        starts = [0]
        for s in texts[:-1]:
            starts.append(starts[-1] + len(s) + 1)
        quads = _cjk_quad_lines(joined, starts)
        maybe = set(quads)
        pos = 0
        while (m := _MAYBE_CHANGED.search(joined, pos)) is not None:
            j = bisect_right(starts, m.start()) - 1
            maybe.add(j)
            if j + 1 == len(starts):
                break
            pos = starts[j + 1]  # one hit is enough: go on at the next line
        changed = []
        for j in sorted(maybe):
            text = _normalize_once(texts[j], j in quads)
            if text != texts[j]:
                out[todo[j]] = text
                changed.append(todo[j])
        todo = changed  # every changing pass after the first shortens a line, so this terminates
    return out


def _cjk_quad_lines(joined: str, starts: list[int]) -> set[int]:
    """Indexes of the lines where a CJK character recurs 3 times at one distance of 1..24.

    A unit of _QUAD with a CJK character needs that (the character in each of the 4 copies), so the
    other lines have no bold unit for _collapse_bold to remove. Vectorised over the whole text.
    """
    import numpy as np

    a = np.frombuffer(joined.encode("utf-32-le"), dtype="<u4")
    n = len(a)
    hit = np.zeros(n, dtype=bool)
    cjk = (a >= 0x3400) & (a <= 0x9FFF)
    for k in range(1, _QUAD_MAX_UNIT + 1):
        m = n - 3 * k
        if m <= 0:
            break
        head = a[:m]
        hit[:m] |= cjk[:m] & (head == a[k : k + m]) & (head == a[2 * k : 2 * k + m]) & (head == a[3 * k :])
    # a hit spanning a line break only costs a needless check of its line
    return {bisect_right(starts, int(p)) - 1 for p in np.flatnonzero(hit)}


_NUM_RE = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+")
_NONE_TOKENS = {"", "-", "—", "——", "－", "–", "/", "…", "……"}


def parse_number(s: str) -> Decimal | None:
    """Parse a report number: ``11,598,130.25``, ``1，234``, ``12.5%`` (→ 12.5), ``(3.00)`` (→ -3.00).

    Dashes, blanks and anything that is not a single number return None. Thousands separators must
    group by three, so ``10,20`` (a list) is rejected.
    """
    t = s.strip().translate(_FOLD).replace("，", ",").replace(" ", "")
    if t in _NONE_TOKENS:
        return None
    negative = False
    if len(t) >= 2 and t[0] == "(" and t[-1] == ")":
        negative, t = True, t[1:-1]
    if t.endswith("%"):
        t = t[:-1]
    if not _NUM_RE.fullmatch(t):
        return None
    try:
        value = Decimal(t.replace(",", ""))
    except InvalidOperation:
        return None
    return -value if negative else value


def format_number(d: Decimal) -> str:
    """Format with thousands separators, keeping the stated decimals (``1234.50`` → ``1,234.50``)."""
    if not d.is_finite():
        raise ValueError(f"cannot format non-finite number {d}")
    return f"{d:,f}"
