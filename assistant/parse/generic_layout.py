"""The layout side of parse/generic.py: the rows of cells of a text export (tab-separated, one cell
per line, or space-separated PDF text) and the regions where a non-standard table stands, with its
title, unit and as-of year."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.models import SourceLine
from assistant.parse.lexicon import WRITTEN_UNITS

MAX_TITLE_LEN = 60


MAX_TITLE_GAP = 6  # lines between a title and its table's first row


UNIT_ALT = "|".join(re.escape(u) for u in WRITTEN_UNITS)


_CMP = r"[≥≤≧≦<>=＝]{1,2}"


# A cell that is one value: an optional comparison, a number, an optional unit (nothing else).
_VALUE_CELL_RE = re.compile(
    rf"^(?P<cmp>{_CMP})?\s*(?P<num>-?(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?)\s*"
    rf"(?P<unit>{UNIT_ALT})?$"
)


_DASH_RE = re.compile(r"^[—\-－–]+$")


# The tail of a space-separated row: value cells (a comparison and a unit may stand apart) or dashes.
_SPACE_VALUE_RE = re.compile(
    rf"(?:{_CMP}\s*)?-?(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?(?:\s*(?:{UNIT_ALT})(?![\u4e00-\u9fff]))?"
    r"|[—\-－–]+"
)


_SPACE_TAIL_RE = re.compile(rf"(?:(?<=\s)|^)(?:{_SPACE_VALUE_RE.pattern})$")


_TABLE_UNIT_RE = re.compile(r"单位[:：]\s*(万元|元|亿元)")


_AS_OF_RE = re.compile(r"截[止至](?:时间|日期)?[:：]?\s*((?:19|20)\d{2})\s*年")


_SENTENCE_RE = re.compile(r"[。，；;]")


CJK_RE = re.compile(r"[\u4e00-\u9fff]")


_YEAR_ONLY_RE = re.compile(r"^\(?\s*\d{4}\s*年度?\s*\)?$")


MARKER_RE = re.compile(rf"\((?:[A-Z](?:/[A-Z])?|金额)?(?:单位[:：]?)?\s*(?:{UNIT_ALT})?\)")


# Words that name a column (header cells are made of them; data cells mostly are not).
_HEADER_WORD_RE = re.compile(
    r"指标|值|数|率|额|名称|项目|科目|合计|小计|单位|分|情况|原因|措施|依据|描述|性质|内容|"
    r"类型|方式|时间|编号|序号|价值|规格|说明|备注|年度|来源|用途|对象|标准|目标|金额"
)


_TABLE_NO_RE = re.compile(r"^(?:公开|附)?\s*(?:表\s*\d+|\d+\s*表)$")


@dataclass
class Row:
    """One row of cells, with the lines it came from."""

    cells: list[str]
    first: SourceLine
    last: int
    spaced: bool = False  # split at spaces (positions of empty cells unknown)
    values: list[tuple[int, re.Match[str] | None]] = field(default_factory=list)  # (cell index, match)

    @property
    def first_value(self) -> int | None:
        return self.values[0][0] if self.values else None

    @property
    def texts(self) -> list[str]:
        return [c for c in self.cells if c]


def _value_match(cell: str) -> re.Match[str] | None:
    return _VALUE_CELL_RE.match(cell.strip())


def with_values(row: Row) -> Row:
    row.values = []
    for i, c in enumerate(row.cells):
        c = c.strip()
        if not c:
            continue
        m = _value_match(c)
        if m is not None:
            row.values.append((i, m))
        elif _DASH_RE.match(c) and row.spaced:
            row.values.append((i, None))
    if row.values and all(m is None for _, m in row.values):
        row.values = []
    return row


def _space_row(ln: SourceLine) -> Row | None:
    """A PDF text line as label + value cells, or None when it does not end in numbers."""
    text = ln.text.replace("\t", " ").strip()
    if not text or _SENTENCE_RE.search(text):
        return None
    cells: list[str] = []
    end = len(text)
    # Peel value cells off the end, right to left.
    while end > 0:
        m = _SPACE_TAIL_RE.search(text, 0, end)
        if m is None:
            break
        cells.insert(0, m.group().replace(" ", ""))
        end = m.start()
        while end > 0 and text[end - 1] == " ":
            end -= 1
    label = text[:end].strip()
    if not cells or not label or not CJK_RE.search(label):
        return None
    label = label.replace(" ", "") if CJK_RE.search(label) else label
    return with_values(Row([label, *cells], ln, ln.line, spaced=True))


def _blank(ln: SourceLine) -> bool:
    """An empty line; a line holding only a tab is an empty cell, not a blank line."""
    return not ln.text.strip(" \u3000\r\n")


def is_header(row: Row) -> bool:
    """A row that names columns: no values, two or more cells, most of them column words."""
    texts = row.texts
    return (
        not row.values
        and len(texts) >= 2
        and sum(1 for t in texts if _HEADER_WORD_RE.search(t)) >= 0.6 * len(texts)
    )


def is_column_numbers(row: Row) -> bool:
    """A 栏次 row (1 2 3 …) under a header, not data."""
    nums = [m.group("num") for _, m in row.values if m is not None]
    return (
        len(nums) >= 2
        and all(n.isdigit() for n in nums)
        and nums == [str(k) for k in range(int(nums[0]), int(nums[0]) + len(nums))]
        or any("栏次" in c or "行次" in c for c in row.texts)
    )


def grid(lines: list[SourceLine], skip: set[int]) -> list[Row | SourceLine]:
    """The lines as rows of cells (tab layouts) or themselves (everything else), blank lines dropped."""
    out: list[Row | SourceLine] = []
    i, n = 0, len(lines)
    while i < n:
        ln = lines[i]
        if ln.line in skip or _blank(ln):
            i += 1
            continue
        raw = ln.text
        if "\t" in raw.strip("\t ") or (raw.startswith("\t") and raw.count("\t") > 1):
            out.append(with_values(Row([c.strip() for c in raw.split("\t")], ln, ln.line)))
            i += 1
            continue
        if raw.startswith("\t"):
            # One cell per line up to the next blank line; lines without a tab continue the cell above.
            cells: list[str] = []
            last = ln
            while (
                i < n
                and not _blank(lines[i])
                and lines[i].line not in skip
                and "\t" not in lines[i].text.strip("\t ")
            ):
                t = lines[i].text
                if t.startswith("\t") or not cells:
                    cells.append(t.strip())
                else:
                    cells[-1] += t.strip()
                last = lines[i]
                i += 1
            out.append(with_values(Row(cells, ln, last.line)))
            continue
        out.append(ln)
        i += 1
    return out


def _is_title(text: str) -> bool:
    t = text.strip().strip("\t")
    return (
        0 < len(t) <= MAX_TITLE_LEN
        and not _TABLE_NO_RE.match(t.replace(" ", ""))
        and bool(CJK_RE.search(t))
        and not _SENTENCE_RE.search(t)
        and not _YEAR_ONLY_RE.match(t)
        and not _value_match(t)
    )


def _title_before(items: list[Row | SourceLine], start: int) -> tuple[str, int] | None:
    """The title of a table whose rows start at items[start]: its own single-cell row ending in 表, or
    the nearest short line before it (a line ending in 表 preferred)."""
    first = items[start]
    assert isinstance(first, Row)
    if len(first.texts) == 1 and first.texts[0].endswith("表") and _is_title(first.texts[0]):
        return first.texts[0], start + 1
    found: str | None = None
    for k in range(start - 1, max(-1, start - MAX_TITLE_GAP - 1), -1):
        item = items[k]
        if isinstance(item, Row):
            if item.values:
                break
            if len(item.texts) == 1 and item.texts[0].endswith("表") and _is_title(item.texts[0]):
                return item.texts[0], start
            continue
        if first.first.line - item.line > MAX_TITLE_GAP * 2:
            break
        t = item.text.strip()
        if _is_title(t):
            if t.endswith("表"):
                return t, start
            found = found or t
        elif _SENTENCE_RE.search(t) and len(t) > 30:
            break
    return (found, start) if found else None


@dataclass
class Region:
    title: str
    title_line: int
    rows: list[Row]
    unit: str | None
    as_of: int | None = None  # 截止时间：2020年12月31日 under the title: the year the figures are of
    partial: bool = False  # only some numbers of its lines become cells (Table.partial)


def table_regions(items: list[Row | SourceLine]) -> list[Region]:
    """Runs of rows (tab layouts: consecutive rows; space layout: consecutive label+numbers lines with
    their header) that have a title and at least one row with numbers."""
    out: list[Region] = []
    i = 0
    while i < len(items):
        item = items[i]
        if not isinstance(item, Row):
            i += 1
            continue
        j = i
        while j < len(items) and isinstance(items[j], Row):
            j += 1
        run = [r for r in items[i:j] if isinstance(r, Row)]
        if any(r.values for r in run):
            t = _title_before(items, i)
            if t is not None:
                title, first = t
                rows = [r for r in items[first:j] if isinstance(r, Row)]
                line = _line_of(items, i, title)
                out.append(Region(title, line, rows, _unit_near(items, i, j), _as_of(items, line, rows)))
        i = j
    return out


def _line_of(items: list[Row | SourceLine], start: int, title: str) -> int:
    for k in range(start, max(-1, start - MAX_TITLE_GAP - 1), -1):
        it = items[k]
        if isinstance(it, Row) and title in it.texts:
            return it.first.line
        if isinstance(it, SourceLine) and it.text.strip() == title:
            return it.line
    first = items[start]
    return first.first.line if isinstance(first, Row) else first.line


def _as_of(items: list[Row | SourceLine], title_line: int, rows: list[Row]) -> int | None:
    """The year of a 截止时间/截至 date between a table's title and its first row with numbers."""
    first = next((r.first.line for r in rows if r.values), None)
    for it in items:
        line = it.line if isinstance(it, SourceLine) else it.first.line
        if first is None or line >= first:
            break
        if line >= title_line:
            text = it.text if isinstance(it, SourceLine) else "\t".join(it.cells)
            if m := _AS_OF_RE.search(text.replace(" ", "")):
                return int(m.group(1))
    return None


def _unit_near(items: list[Row | SourceLine], start: int, stop: int) -> str | None:
    """单位：万元 written on a line right before the rows or in them."""
    for k in range(max(0, start - 4), stop):
        it = items[k]
        text = it.text if isinstance(it, SourceLine) else "\t".join(it.cells)
        if m := _TABLE_UNIT_RE.search(text):
            return m.group(1)
    return None


def space_regions(lines: list[SourceLine], skip: set[int]) -> list[Region]:
    """Tables of PDF text: a title, a header line, then at least two rows ending in the same number
    of values (text-only rows, e.g. ``1、房屋（平方米）``, may stand between)."""
    out: list[Region] = []
    content = [
        ln for ln in lines if ln.text.strip() and ln.line not in skip and "\t" not in ln.text.strip("\t ")
    ]
    split = [_space_row(ln) for ln in content]  # each line is split once
    i = 0
    while i < len(content):
        row = split[i]
        if row is None or i == 0:
            i += 1
            continue
        header_ln = content[i - 1]
        header = header_ln.text.split()
        width = len(row.cells) - 1
        if split[i - 1] is not None or _SENTENCE_RE.search(header_ln.text) or len(header) < width + 1:
            i += 1
            continue
        rows = [row]
        j = i + 1
        while j < len(content):
            nxt = split[j]
            if nxt is not None and len(nxt.cells) - 1 == width:
                rows.append(nxt)
                j += 1
                continue
            # Up to three short lines without numbers (1、房屋（平方米）) may stand between two rows.
            k = j
            while (
                k < min(j + 3, len(content))
                and split[k] is None
                and _is_title(content[k].text)
                and len(content[k].text.strip()) <= 20
            ):
                k += 1
            nxt = split[k] if k < len(content) and k > j else None
            if nxt is None or len(nxt.cells) - 1 != width:
                break
            j = k
        if len(rows) < 2:
            i += 1
            continue
        title = None
        for k in range(i - 2, max(-1, i - 2 - MAX_TITLE_GAP), -1):
            t = content[k].text.strip()
            if _is_title(t) and t.replace(" ", "").endswith("表"):
                title = (t.replace(" ", ""), content[k].line)
                break
        if title is None:
            i = j
            continue
        head = Row(
            [" ".join(header[: len(header) - width]), *header[len(header) - width :]],
            header_ln,
            header_ln.line,
            spaced=True,
        )
        unit, as_of = None, None
        for k in range(max(0, i - 2 - MAX_TITLE_GAP), i):
            if m := _TABLE_UNIT_RE.search(content[k].text):
                unit = m.group(1)
            if content[k].line > title[1] and (m := _AS_OF_RE.search(content[k].text.replace(" ", ""))):
                as_of = int(m.group(1))
        out.append(Region(title[0], title[1], [head, *rows], unit, as_of))
        i = j
    return out
