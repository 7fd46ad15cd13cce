"""Tables that are not standard ones (绩效目标表, 绩效自评表, 固定资产占用表, 政府采购表 …), parsed by their
structure: a title line, a header row, rows with numbers. Each number becomes a cell of row label ×
column header, with the table's own title and unit.

Text exports lay cells out in three ways, each turned into rows of cells here:
  - tab-separated cells on one line (``\\t产出指标\\t数量指标\\t参保人数\\t≥150 人\\t≥150 人``);
  - one cell per line, each starting with a tab, a blank line ending the row (DOCX exports; a line
    without the leading tab continues the cell above: ``\\t一级`` / ``指标``);
  - space-separated lines (PDF text): a label and the numbers after it, split as rows.py does for
    the standard tables (``4、其他固定资产 130 49.90``). Spaces lose the positions of empty cells, so
    such a table is accepted only when every row has as many numbers as the header has value columns
    to its right.

Columns: the cells before a row's first number are its label; multi-level labels (一级指标 / 二级指标 /
三级指标) carry merged cells down and keep the path (``产出指标/数量指标/参保人数``). Values are placed
under the header's value columns, aligned at the first value column (merged cells shift some rows).
Units: the cell's own (``24万人``, ``94.30%``), else the column header's (``价值（万元）``, ``数量（台）``),
else the header row's (``资金情况（万元）``), else the table's (``单位：万元``); counts without a unit
take the row label's (``车辆（台、辆）``), else 个. A ``截止时间：2020年12月31日`` under the title gives the
year of the figures (an asset table of a 2021 budget holds the stock of 2020); else the report's year.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from assistant.models import Fact, Report, SourceLine, Table, TableRow
from assistant.parse.lexicon import WRITTEN_UNITS, all_terms, metric_kind, normalize_label, to_yuan, unit_kind
from assistant.parse.rows import clean_label
from assistant.parse.schemas import match_schema

__all__ = ["generic_tables", "GENERIC_SCHEMA"]

GENERIC_SCHEMA = "generic"  # Table.schema_name of every table found here
MAX_TITLE_LEN = 60
MAX_TITLE_GAP = 6  # lines between a title and its table's first row
_UNIT_ALT = "|".join(re.escape(u) for u in WRITTEN_UNITS)
_CMP = r"[≥≤≧≦<>=＝]{1,2}"
# A cell that is one value: an optional comparison, a number, an optional unit (nothing else).
_VALUE_CELL_RE = re.compile(rf"^(?P<cmp>{_CMP})?\s*(?P<num>-?(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?)\s*"
                            rf"(?P<unit>{_UNIT_ALT})?$")
_DASH_RE = re.compile(r"^[—\-－–]+$")
# The tail of a space-separated row: value cells (a comparison and a unit may stand apart) or dashes.
_SPACE_VALUE_RE = re.compile(rf"(?:{_CMP}\s*)?-?(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?(?:\s*(?:{_UNIT_ALT})(?![\u4e00-\u9fff]))?"
                             r"|[—\-－–]+")
_SPACE_TAIL_RE = re.compile(rf"(?:(?<=\s)|^)(?:{_SPACE_VALUE_RE.pattern})$")
_HEADER_UNIT_RE = re.compile(rf"\((?:金额)?(?:单位[:：]?)?\s*({_UNIT_ALT})\)")
_TABLE_UNIT_RE = re.compile(r"单位[:：]\s*(万元|元|亿元)")
_AS_OF_RE = re.compile(r"截[止至](?:时间|日期)?[:：]?\s*((?:19|20)\d{2})\s*年")
_SENTENCE_RE = re.compile(r"[。，；;]")
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")
_YEAR_ONLY_RE = re.compile(r"^\(?\s*\d{4}\s*年度?\s*\)?$")
_PROJECT_RE = re.compile(r"项目\)?名称|项目名称")
_MARKER_RE = re.compile(rf"\((?:[A-Z](?:/[A-Z])?|金额)?(?:单位[:：]?)?\s*(?:{_UNIT_ALT})?\)")
_COUNT_HEADER_RE = re.compile(r"数量|个数|人数|台数|辆数|次数")
_SCORE_HEADER_RE = re.compile(r"得分|分值")
# Words that name a column (header cells are made of them; data cells mostly are not).
_HEADER_WORD_RE = re.compile(r"指标|值|数|率|额|名称|项目|科目|合计|小计|单位|分|情况|原因|措施|依据|描述|性质|内容|"
                             r"类型|方式|时间|编号|序号|价值|规格|说明|备注|年度|来源|用途|对象|标准|目标|金额")
_TABLE_NO_RE = re.compile(r"^(?:公开|附)?\s*(?:表\s*\d+|\d+\s*表)$")
_LABEL_UNIT_RE = re.compile(rf"\((?P<unit>{_UNIT_ALT})(?:[、,/][^)]*)?\)")


@dataclass
class _Row:
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


def _with_values(row: _Row) -> _Row:
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


def _space_row(ln: SourceLine) -> _Row | None:
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
    if not cells or not label or not _CJK_RE.search(label):
        return None
    label = label.replace(" ", "") if _CJK_RE.search(label) else label
    return _with_values(_Row([label, *cells], ln, ln.line, spaced=True))


def _blank(ln: SourceLine) -> bool:
    """An empty line; a line holding only a tab is an empty cell, not a blank line."""
    return not ln.text.strip(" \u3000\r\n")


def _is_header(row: _Row) -> bool:
    """A row that names columns: no values, two or more cells, most of them column words."""
    texts = row.texts
    return not row.values and len(texts) >= 2 and \
        sum(1 for t in texts if _HEADER_WORD_RE.search(t)) >= 0.6 * len(texts)


def _is_column_numbers(row: _Row) -> bool:
    """A 栏次 row (1 2 3 …) under a header, not data."""
    nums = [m.group("num") for _, m in row.values if m is not None]
    return len(nums) >= 2 and all(n.isdigit() for n in nums) \
        and nums == [str(k) for k in range(int(nums[0]), int(nums[0]) + len(nums))] or any("栏次" in c or "行次" in c for c in row.texts)


def _grid(lines: list[SourceLine], skip: set[int]) -> list[_Row | SourceLine]:
    """The lines as rows of cells (tab layouts) or themselves (everything else), blank lines dropped."""
    out: list[_Row | SourceLine] = []
    i, n = 0, len(lines)
    while i < n:
        ln = lines[i]
        if ln.line in skip or _blank(ln):
            i += 1
            continue
        raw = ln.text
        if "\t" in raw.strip("\t ") or (raw.startswith("\t") and raw.count("\t") > 1):
            out.append(_with_values(_Row([c.strip() for c in raw.split("\t")], ln, ln.line)))
            i += 1
            continue
        if raw.startswith("\t"):
            # One cell per line up to the next blank line; lines without a tab continue the cell above.
            cells: list[str] = []
            last = ln
            while i < n and not _blank(lines[i]) and lines[i].line not in skip \
                    and "\t" not in lines[i].text.strip("\t "):
                t = lines[i].text
                if t.startswith("\t") or not cells:
                    cells.append(t.strip())
                else:
                    cells[-1] += t.strip()
                last = lines[i]
                i += 1
            out.append(_with_values(_Row(cells, ln, last.line)))
            continue
        out.append(ln)
        i += 1
    return out


def _is_title(text: str) -> bool:
    t = text.strip().strip("\t")
    return (0 < len(t) <= MAX_TITLE_LEN and not _TABLE_NO_RE.match(t.replace(" ", "")) and bool(_CJK_RE.search(t)) and not _SENTENCE_RE.search(t)
            and not _YEAR_ONLY_RE.match(t) and not _value_match(t))


def _title_before(items: list[_Row | SourceLine], start: int) -> tuple[str, int] | None:
    """The title of a table whose rows start at items[start]: its own single-cell row ending in 表, or
    the nearest short line before it (a line ending in 表 preferred)."""
    first = items[start]
    assert isinstance(first, _Row)
    if len(first.texts) == 1 and first.texts[0].endswith("表") and _is_title(first.texts[0]):
        return first.texts[0], start + 1
    found: str | None = None
    for k in range(start - 1, max(-1, start - MAX_TITLE_GAP - 1), -1):
        item = items[k]
        if isinstance(item, _Row):
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
class _Region:
    title: str
    title_line: int
    rows: list[_Row]
    unit: str | None
    as_of: int | None = None  # 截止时间：2020年12月31日 under the title: the year the figures are of


def _regions(items: list[_Row | SourceLine]) -> list[_Region]:
    """Runs of rows (tab layouts: consecutive rows; space layout: consecutive label+numbers lines with
    their header) that have a title and at least one row with numbers."""
    out: list[_Region] = []
    i = 0
    while i < len(items):
        item = items[i]
        if not isinstance(item, _Row):
            i += 1
            continue
        j = i
        while j < len(items) and isinstance(items[j], _Row):
            j += 1
        run = [r for r in items[i:j] if isinstance(r, _Row)]
        if any(r.values for r in run):
            t = _title_before(items, i)
            if t is not None:
                title, first = t
                rows = [r for r in items[first:j] if isinstance(r, _Row)]
                line = _line_of(items, i, title)
                out.append(_Region(title, line, rows, _unit_near(items, i, j), _as_of(items, line, rows)))
        i = j
    return out


def _line_of(items: list[_Row | SourceLine], start: int, title: str) -> int:
    for k in range(start, max(-1, start - MAX_TITLE_GAP - 1), -1):
        it = items[k]
        if isinstance(it, _Row) and title in it.texts:
            return it.first.line
        if isinstance(it, SourceLine) and it.text.strip() == title:
            return it.line
    first = items[start]
    return first.first.line if isinstance(first, _Row) else first.line


def _as_of(items: list[_Row | SourceLine], title_line: int, rows: list[_Row]) -> int | None:
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


def _unit_near(items: list[_Row | SourceLine], start: int, stop: int) -> str | None:
    """单位：万元 written on a line right before the rows or in them."""
    for k in range(max(0, start - 4), stop):
        it = items[k]
        text = it.text if isinstance(it, SourceLine) else "\t".join(it.cells)
        if m := _TABLE_UNIT_RE.search(text):
            return m.group(1)
    return None


def _space_regions(lines: list[SourceLine], skip: set[int]) -> list[_Region]:
    """Tables of PDF text: a title, a header line, then at least two rows ending in the same number
    of values (text-only rows, e.g. ``1、房屋（平方米）``, may stand between)."""
    out: list[_Region] = []
    content = [ln for ln in lines if ln.text.strip() and ln.line not in skip and "\t" not in ln.text.strip("\t ")]
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
            while k < min(j + 3, len(content)) and split[k] is None \
                    and _is_title(content[k].text) and len(content[k].text.strip()) <= 20:
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
        head = _Row([" ".join(header[: len(header) - width]), *header[len(header) - width:]], header_ln,
                    header_ln.line, spaced=True)
        unit, as_of = None, None
        for k in range(max(0, i - 2 - MAX_TITLE_GAP), i):
            if m := _TABLE_UNIT_RE.search(content[k].text):
                unit = m.group(1)
            if content[k].line > title[1] and (m := _AS_OF_RE.search(content[k].text.replace(" ", ""))):
                as_of = int(m.group(1))
        out.append(_Region(title[0], title[1], [head, *rows], unit, as_of))
        i = j
    return out


def _header_unit(text: str) -> str | None:
    m = _HEADER_UNIT_RE.search(text.replace("（", "(").replace("）", ")"))
    return m.group(1) if m else None


def _column_name(text: str) -> str:
    """A header cell as a qualifier: without its unit and (A)/(B/A) markers."""
    name = _MARKER_RE.sub("", text.replace("（", "(").replace("）", ")")).strip(" :：")
    return name.replace(" ", "") if _CJK_RE.search(name) else name


@lru_cache(maxsize=1)
def _lexicon() -> dict[str, str]:
    """Normalised lexicon term -> canonical metric."""
    return dict(all_terms())


_TRAILING_PAREN_RE = re.compile(r"\([^()]*\)$")
MIN_SYNONYM = 4  # shorter synonyms (车辆, 公车, 出国) are too loose for a row label of another table


def _metric_for(leaf: str, unit: str) -> str:
    """The lexicon's canonical name when the label is that name or one of its longer synonyms exactly and
    the unit fits the metric (a 车辆 row's 价值 is not 公务用车购置及运行维护费); else the label, without a
    trailing unit note (车辆（台、辆） → 车辆)."""
    bare = _TRAILING_PAREN_RE.sub("", leaf) or leaf
    key = normalize_label(bare)
    canonical = _lexicon().get(key)
    if canonical is not None and (key == normalize_label(canonical) or len(key) >= MIN_SYNONYM) \
            and metric_kind(canonical) == (unit_kind(unit) or "money"):
        return canonical
    return bare


def _project_name(row: _Row) -> str | None:
    texts = row.texts
    for k, t in enumerate(texts[:-1]):
        if _PROJECT_RE.search(t):
            return texts[k + 1]
    return None


@dataclass
class _Cell:
    """One value of a generic table: its row, the row's last label, column, value, unit, comparison."""

    row: TableRow
    leaf: str
    column: str
    value: Decimal
    unit: str
    cmp: str | None
    metric: str = ""


def _table_from_region(doc: str, region: _Region, table_id: str) -> tuple[Table, list[_Cell]] | None:
    project: str | None = None
    columns: list[str] = []
    cells: list[_Cell] = []
    # Each value row under the header above it; text-only rows in between are data without numbers.
    sections: list[tuple[_Row, list[_Row]]] = []
    for r in region.rows:
        if not r.values or _is_column_numbers(r):
            if len(r.texts) >= 2 and (name := _project_name(r)):
                project = project or name
            if _is_header(r) or r.spaced:
                sections.append((r, []))
                continue
            if _is_column_numbers(r):
                continue
        if sections:  # text-only rows stay: their labels are the merged cells of the rows below
            sections[-1][1].append(r)
    rows: list[TableRow] = []
    for header, body in sections:
        header_unit = _header_unit(header.texts[0])
        # Where most rows of the section start their values: rows that start elsewhere lost a merged cell.
        starts = Counter(r.first_value for r in body if r.values and not r.spaced)
        anchor = starts.most_common(1)[0][0] if starts else None
        levels: list[str] = []
        for r in body:
            _section_row(r, header, header_unit, anchor, levels, region, rows, cells, columns)
    if not rows:
        return None
    named = project and normalize_label(project) not in normalize_label(region.title)
    title = region.title + (f"：{project}" if named else "")
    table = Table(doc=doc, table_id=f"{table_id}：{project}" if named else table_id, schema_name=GENERIC_SCHEMA,
                  title=title, unit=region.unit, columns=columns, rows=rows, line_start=region.title_line,
                  line_end=max(r.line_end or r.line for r in rows))
    return table, cells


def _section_row(r: _Row, header: _Row, header_unit: str | None, anchor: int | None, levels: list[str],
                 region: _Region, rows: list[TableRow], cells: list[_Cell], columns: list[str]) -> None:
    """Append the TableRow and cells of value row ``r`` (``levels``: the label path so far)."""
    j = r.first_value if r.values else (anchor if anchor is not None else len(r.cells))
    # A row without numbers has its label cells where the header has its label columns.
    shift = 0 if r.spaced or anchor is None or not r.values else anchor - j
    label_cells = r.cells[:j]
    # Merged cells: an empty level repeats the row above; a new level clears the deeper ones.
    for k, c in enumerate(label_cells):
        level = k + shift
        c = clean_label(c).rstrip(":：")
        if c:
            del levels[level:]
            levels.extend([""] * (level - len(levels)))
            levels.append(c)
    path = [p for p in levels if p]
    if not path:
        return
    leaf = path[-1]
    label = "/".join(path)
    values: list[Decimal | None] = []
    cols: list[str] = []
    units: list[tuple[str, str | None]] = []
    for idx, m in r.values:
        h = idx + shift
        if r.spaced:
            h = len(header.cells) - (len(r.cells) - idx)
        head = header.cells[h] if 0 <= h < len(header.cells) else ""
        if not head or _PROJECT_RE.search(head):
            continue
        col = _column_name(head)
        if m is None:
            continue
        unit = m.group("unit") or _header_unit(head) or _label_unit(leaf, head) or header_unit or region.unit
        if unit is None and _SCORE_HEADER_RE.search(head):
            unit = "分"
        if unit is None:
            continue  # a bare number whose unit nothing states (a 行次, a code): not a fact
        values.append(Decimal(m.group("num").replace(",", "")))
        cols.append(col)
        units.append((unit, m.group("cmp")))
        if col not in columns:
            columns.append(col)
    if not values:
        return
    row = TableRow(label=label, values=values, columns=cols, line=r.first.line,
                   line_end=r.last if r.last != r.first.line else None, page=r.first.page,
                   snippet=" ".join(r.texts))
    rows.append(row)
    cells.extend(_Cell(row, leaf, c, v, u, cmp) for c, v, (u, cmp) in zip(cols, values, units, strict=True))


def _label_unit(leaf: str, head: str) -> str | None:
    """The unit of a count column taken from the row label: 车辆（台、辆） → 台; 个 when none is written."""
    if not _COUNT_HEADER_RE.search(head):
        return None
    m = _LABEL_UNIT_RE.search(leaf.replace("（", "(").replace("）", ")"))
    return m.group("unit") if m else "个"


def generic_tables(report: Report, lines: list[SourceLine], standard: list[Table],
                   exact_tabs: bool = True) -> tuple[list[Table], list[Fact]]:
    """The non-standard tables of a document and their facts (lines of the ``standard`` tables are left
    alone). ``exact_tabs`` as for tables.find_tables: PDF lines join word groups with tabs that lose
    empty cells, so there they count as spaces (the space layout, whose rows must agree in width).

    One fact per value cell: source "table", table_id = the normalised title (``…（2）`` when a title
    repeats; ``：<项目名称>`` when the table names its project), metric = the row's last label (the
    lexicon's canonical name when the label is exactly one of its terms), label = the label path
    (``产出指标/数量指标/参保人数``), qualifier = the column header (without unit and (A)/(B) markers),
    unit per cell; a bound written in the cell (``≥90%``) is kept as a flag (``≥``).

    A metric that several rows of the report's generic tables share (年度资金总额, 参保人员满意度 in
    every project's 自评表) would let a question that names it get one project's figure: such a metric
    is written with its row's label path and, across tables, the table's project (or title) in brackets
    (``参保人员满意度（完善医保付费体系）``, label ``满意度指标/…/参保人员满意度（完善医保付费体系）``), so
    that a question naming the metric alone finds no one project's figure.
    """
    skip: set[int] = set()
    for t in standard:
        skip.update(range(t.line_start, t.line_end + 1))
    if not exact_tabs:
        lines = [ln.model_copy(update={"text": ln.text.replace("\t", " ")}) if "\t" in ln.text and ln.line not in skip
                 else ln for ln in lines]
    items = _grid(lines, skip)
    regions = _regions(items)
    taken = {r.first.line for reg in regions for r in reg.rows}
    regions += _space_regions(lines, skip | taken)
    regions.sort(key=lambda reg: reg.title_line)
    tables: list[Table] = []
    facts: list[Fact] = []
    seen: Counter[str] = Counter()
    owners: dict[str, set[tuple[str, str]]] = {}  # metric -> (table_id, label) of the rows that have it
    pending: list[tuple[Table, int | None, list[_Cell]]] = []
    for reg in regions:
        if match_schema(reg.title) is not None:
            continue  # a standard table (schemas.py), even one the table parser found empty
        base = normalize_label(reg.title)
        seen[base] += 1
        parsed = _table_from_region(report.doc, reg, base if seen[base] == 1 else f"{base}({seen[base]})")
        if parsed is None:
            continue
        table, cells = parsed
        tables.append(table)
        year = reg.as_of or report.year
        for c in cells:
            c.metric = _metric_for(c.leaf, c.unit)
            owners.setdefault(c.metric, set()).add((table.table_id, c.row.label))
        pending.append((table, year, cells))
    for table, year, cells in pending:
        for c in cells:
            metric, label = c.metric, c.row.label
            rows = owners[metric]
            if len(rows) > 1:
                base = c.row.label if len({lb for _, lb in rows}) > 1 else metric
                if len({tid for tid, _ in rows}) == 1:
                    metric = base
                else:  # the table named in brackets, at the end (a search for the bare name ends elsewhere)
                    suffix = table.table_id.split("：", 1)[-1]
                    metric, label = f"{base}（{suffix}）", f"{label}（{suffix}）"
            cmp = (c.cmp or "").replace("＝", "=").replace("≧", "≥").replace("≦", "≤").replace(">=", "≥") \
                .replace("<=", "≤")
            facts.append(Fact(
                doc=report.doc, department=report.department, year=year, kind=report.kind,
                metric=metric, label=label, qualifier=c.column or None, value=c.value,
                unit=c.unit, value_yuan=to_yuan(c.value, c.unit) if unit_kind(c.unit) == "money" else None,
                source="table", table_id=table.table_id, line=c.row.line, line_end=c.row.line_end,
                page=c.row.page, snippet=c.row.snippet, flags=[cmp] if cmp and cmp != "=" else [],
            ))
    return tables, facts
