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
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from assistant.models import Fact, Report, SourceLine, Table, TableRow
from assistant.parse.generic_indicators import indicator_regions
from assistant.parse.generic_layout import (
    CJK_RE,
    MARKER_RE,
    UNIT_ALT,
    Region,
    Row,
    grid,
    is_column_numbers,
    is_header,
    space_regions,
    table_regions,
)
from assistant.parse.lexicon import all_terms, metric_kind, normalize_label, to_yuan, unit_kind
from assistant.parse.rows import clean_label
from assistant.parse.schemas import match_schema

__all__ = ["generic_tables", "GENERIC_SCHEMA"]

GENERIC_SCHEMA = "generic"  # Table.schema_name of every table found here
_HEADER_UNIT_RE = re.compile(rf"\((?:金额)?(?:单位[:：]?)?\s*({UNIT_ALT})\)")
_PROJECT_RE = re.compile(r"项目\)?名称|项目名称")
_COUNT_HEADER_RE = re.compile(r"数量|个数|人数|台数|辆数|次数")
_SCORE_HEADER_RE = re.compile(r"得分|分值")
_LABEL_UNIT_RE = re.compile(rf"\((?P<unit>{UNIT_ALT})(?:[、,/][^)]*)?\)")


def _header_unit(text: str) -> str | None:
    m = _HEADER_UNIT_RE.search(text.replace("（", "(").replace("）", ")"))
    return m.group(1) if m else None


def _column_name(text: str) -> str:
    """A header cell as a qualifier: without its unit and (A)/(B/A) markers."""
    name = MARKER_RE.sub("", text.replace("（", "(").replace("）", ")")).strip(" :：")
    return name.replace(" ", "") if CJK_RE.search(name) else name


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
    if (
        canonical is not None
        and (key == normalize_label(canonical) or len(key) >= MIN_SYNONYM)
        and metric_kind(canonical) == (unit_kind(unit) or "money")
    ):
        return canonical
    return bare


def _project_name(row: Row) -> str | None:
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


def _table_from_region(doc: str, region: Region, table_id: str) -> tuple[Table, list[_Cell]] | None:
    project: str | None = None
    columns: list[str] = []
    cells: list[_Cell] = []
    # Each value row under the header above it; text-only rows in between are data without numbers.
    sections: list[tuple[Row, list[Row]]] = []
    for r in region.rows:
        if not r.values or is_column_numbers(r):
            if len(r.texts) >= 2 and (name := _project_name(r)):
                project = project or name
            if is_header(r) or r.spaced:
                sections.append((r, []))
                continue
            if is_column_numbers(r):
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
    table = Table(
        doc=doc,
        table_id=f"{table_id}：{project}" if named else table_id,
        schema_name=GENERIC_SCHEMA,
        title=title,
        unit=region.unit,
        columns=columns,
        rows=rows,
        line_start=region.title_line,
        line_end=max(r.line_end or r.line for r in rows),
        partial=region.partial,
    )
    return table, cells


def _section_row(
    r: Row,
    header: Row,
    header_unit: str | None,
    anchor: int | None,
    levels: list[str],
    region: Region,
    rows: list[TableRow],
    cells: list[_Cell],
    columns: list[str],
) -> None:
    """Append the TableRow and cells of value row ``r`` (``levels``: the label path so far)."""
    first = r.first_value
    j = first if first is not None else (anchor if anchor is not None else len(r.cells))
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
    values: list[Decimal] = []
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
    row = TableRow(
        label=label,
        values=list[Decimal | None](values),
        columns=cols,
        line=r.first.line,
        line_end=r.last if r.last != r.first.line else None,
        page=r.first.page,
        snippet=" ".join(r.texts),
    )
    rows.append(row)
    cells.extend(_Cell(row, leaf, c, v, u, cmp) for c, v, (u, cmp) in zip(cols, values, units, strict=True))


def _label_unit(leaf: str, head: str) -> str | None:
    """The unit of a count column taken from the row label: 车辆（台、辆） → 台; 个 when none is written."""
    if not _COUNT_HEADER_RE.search(head):
        return None
    m = _LABEL_UNIT_RE.search(leaf.replace("（", "(").replace("）", ")"))
    return m.group("unit") if m else "个"


def generic_tables(
    report: Report, lines: list[SourceLine], standard: list[Table], exact_tabs: bool = True
) -> tuple[list[Table], list[Fact]]:
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
        lines = [
            ln.model_copy(update={"text": ln.text.replace("\t", " ")})
            if "\t" in ln.text and ln.line not in skip
            else ln
            for ln in lines
        ]
    items = grid(lines, skip)
    regions = table_regions(items)
    taken = {r.first.line for reg in regions for r in reg.rows}
    regions += space_regions(lines, skip | taken)
    # Wrapped 绩效指标 rows: only on lines no other layout took (a table is read one way).
    taken |= {n for reg in regions for r in reg.rows for n in range(r.first.line, r.last + 1)}
    regions += indicator_regions(lines, skip | taken)
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
            cmp = (
                (c.cmp or "")
                .replace("＝", "=")
                .replace("≧", "≥")
                .replace("≦", "≤")
                .replace(">=", "≥")
                .replace("<=", "≤")
            )
            facts.append(
                Fact(
                    doc=report.doc,
                    department=report.department,
                    year=year,
                    kind=report.kind,
                    metric=metric,
                    label=label,
                    qualifier=c.column or None,
                    value=c.value,
                    unit=c.unit,
                    value_yuan=to_yuan(c.value, c.unit) if unit_kind(c.unit) == "money" else None,
                    source="table",
                    table_id=table.table_id,
                    line=c.row.line,
                    line_end=c.row.line_end,
                    page=c.row.page,
                    snippet=c.row.snippet,
                    flags=[cmp] if cmp and cmp != "=" else [],
                )
            )
    return tables, facts
