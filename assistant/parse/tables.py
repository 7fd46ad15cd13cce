"""Find the standard tables of a report and turn their rows into Tables.

A table starts at a title line that names a standard table (schemas.py) and ends at its note
(注：/说明：), at the next title or at narrative text. Its unit comes from `单位：元/万元` near the title.
Rows are split by rows.py; labels wrapped around their code and numbers (PDFs) are rejoined here;
columns are assigned by columns.py.
"""

from __future__ import annotations

import re
from decimal import Decimal

from assistant.models import SourceLine, Table, TableRow
from assistant.parse.columns import assign_columns
from assistant.parse.pdf_cells import (
    code_columns,
    codes_in,
    columns_above,
    has_positions,
    header_columns,
    merge_offset_cells,
    number_cells,
    place_by_header,
)
from assistant.parse.rows import Segment, clean_label, split_segments, to_decimal
from assistant.parse.schemas import TableSchema, match_schema

UNIT_RE = re.compile(r"单位[:：]\s*(万元|元|亿元)")
TABLE_NO_RE = re.compile(r"(公开\s*\d+\s*表|表\s*\d+)")
END_RE = re.compile(r"^\s*(注[:：]|注\d|说明[:：]|备注[:：]|第[一二三四五六七八九十]+部分)")
HEADER_HINT_RE = re.compile(r"栏\s*次|类\s*款\s*项|^\s*项\s*目")
MAX_TABLE_LINES = 220
_AMOUNT_THEN_SPACE = re.compile(r"\d[\d,]*\.\d\d\s")
_SPACES = re.compile(r"\s+")
_SHORT_CJK = re.compile(r"[\u4e00-\u9fff]{2,12}")
_HEADER_WORDS = re.compile(r"合计|科目|项目|编码|名称|单位|类|款")
_DIGITS_AND_SPACES = re.compile(r"[\d\s\t]+")
_AMOUNT_CELL = re.compile(r"(^|[\s\t])(-?\d{1,3}(,\d{3})+(\.\d+)?|\d+\.\d+|—)([\s\t]|$)")
_CODE_START = re.compile(r"^\d{3}(\d{2}){0,2}\s+\S")


def _is_narrative(text: str) -> bool:
    """A sentence of prose (ends a table region in text exports)."""
    t = text.strip()
    return len(t) > 45 and ("。" in t or "，" in t) and not _AMOUNT_THEN_SPACE.search(t)


def find_tables(
    doc_name: str, lines: list[SourceLine], kind: str | None, exact_tabs: bool = True
) -> list[Table]:
    """All standard tables of a document, with rows and columns assigned.

    ``exact_tabs``: tab-separated lines keep their empty cells (text exports, DOCX). PDF lines are
    joined from word groups whose empty cells are lost, so their tabs count as plain spaces.
    """
    if not exact_tabs:
        lines = [ln.model_copy(update={"text": ln.text.replace("\t", " ")}) for ln in lines]
    q = {"预算": "预算数", "决算": "决算数"}.get(kind or "", "金额")
    starts: list[tuple[int, TableSchema]] = []
    for i, ln in enumerate(lines):
        schema = match_schema(ln.text)
        if schema is not None:
            starts.append((i, schema))
    tables: list[Table] = []
    hints: dict[str, Decimal | None] = {}
    for n, (i, schema) in enumerate(starts):
        stop = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        stop = min(stop, i + MAX_TABLE_LINES)
        table = _parse_region(doc_name, lines, i, stop, schema, q, hints)
        if table is None:
            continue
        tables.append(table)
        if schema.name == "收支总表":
            # Its income lines (上级补助收入, 其他收入 …) tell later tables which columns are empty.
            for row in table.rows:
                hints.setdefault(clean_label(row.label), next((v for v in row.values if v is not None), None))
    return tables


def _parse_region(
    doc_name: str,
    lines: list[SourceLine],
    start: int,
    stop: int,
    schema: TableSchema,
    q: str,
    hints: dict[str, Decimal | None],
) -> Table | None:
    title_line = lines[start]
    unit: str | None = None
    table_no: str | None = None
    header_text: list[str] = []
    header_lines: list[SourceLine] = []
    body: list[SourceLine] = []
    in_body = False
    for ln in lines[start + 1 : stop]:
        text = ln.text.strip()
        if not text:
            continue
        if END_RE.match(text):
            break
        if not in_body:
            if unit is None and (m := UNIT_RE.search(text)):
                unit = m.group(1)
            if table_no is None and (m := TABLE_NO_RE.search(text)) and len(text) < 12:
                table_no = _SPACES.sub("", m.group(1))
                header_lines.append(ln)
                continue
            if _is_data_line(text) and not HEADER_HINT_RE.search(text):
                in_body = True
                prev_line = header_lines[-1] if header_lines else None  # the line right before
                if (
                    prev_line is not None
                    and _SHORT_CJK.fullmatch(prev_line.text.strip())
                    and not _HEADER_WORDS.search(prev_line.text)
                ):
                    # The start of a label wrapped around the first data row.
                    body.append(prev_line)
            else:
                header_text.append(text)
                header_lines.append(ln)
                continue
        if _is_narrative(text):
            break
        body.append(ln)
    has_row_numbers = "行次" in "".join(header_text).replace(" ", "")
    positioned = has_positions(body)
    if positioned:  # PDF: the cells' x positions (pdf_cells.py)
        body = merge_offset_cells(body)
        horizontal = _horizontal_rows_by_x(header_lines, body, q)
    else:
        horizontal = _horizontal_rows(header_lines, body)
    if horizontal is not None:
        last = body[0].line
        return Table(
            doc=doc_name,
            table_id=table_no or schema.name,
            schema_name=schema.name,
            title=_SPACES.sub("", title_line.text),
            unit=unit,
            columns=sorted({c for r in horizontal for c in r.columns}),
            rows=horizontal,
            line_start=title_line.line,
            line_end=last,
        )
    rows = _assemble_rows(body, has_row_numbers, code_columns(body) if positioned else [])
    if not rows and not header_text:
        return None
    table_id = table_no or schema.name
    columns_by_side = [tuple(c.replace("{q}", q) for c in side) for side in schema.sides]
    alt = tuple(c.replace("{q}", q) for c in schema.alt_single_side)
    if positioned and not has_row_numbers:
        one_side = columns_by_side[0] if len(columns_by_side) == 1 else alt
        if one_side and all(seg.side == 0 for seg, _, _ in rows):
            _place_by_header(rows, header_lines, one_side)
    table_rows, columns, failed = assign_columns(rows, columns_by_side, alt, schema.parts_sum_to_first, hints)
    last = body[-1].line if body else title_line.line
    return Table(
        doc=doc_name,
        table_id=table_id,
        schema_name=schema.name,
        title=_SPACES.sub("", title_line.text),
        unit=unit,
        columns=columns,
        rows=table_rows,
        line_start=title_line.line,
        line_end=last,
        failed_checks=failed,
    )


def _horizontal_rows(header: list[SourceLine], body: list[SourceLine]) -> list[TableRow] | None:
    """Tables laid out sideways (the 2020+ 三公经费表): header cells name the columns, one line of
    numbers below. Only for tab-separated lines, whose empty cells keep the positions.

    Each column's name is its lowest non-empty header cell; the top header row (2020年度预算数 |
    2020年度决算数) spans to the right until the next non-empty cell and gives the qualifier.
    """
    header = [ln for ln in header if "\t" in ln.raw]
    if not body or not header or "\t" not in body[0].raw:
        return None
    values = [c.strip() for c in body[0].raw.split("\t")]
    nums = [to_decimal(v) if v else None for v in values]
    if any(v and n is None for v, n in zip(values, nums, strict=True)) or not any(
        n is not None for n in nums
    ):
        return None
    grid = [
        [c.strip() for c in ln.text.split("\t")] for ln in header if not _DIGITS_AND_SPACES.fullmatch(ln.text)
    ]  # drop the 栏次 line "1 2 3 …"
    if not grid:
        return None
    rows: list[TableRow] = []
    group = ""
    for i, num in enumerate(nums):
        top = grid[0][i] if i < len(grid[0]) else ""
        group = top or group
        level = next((k for k in range(len(grid) - 1, 0, -1) if i < len(grid[k]) and grid[k][i]), 0)
        name = grid[level][i] if level else top
        if name == "小计" and level > 1:
            # 小计 of a spanning group: the group's name, found left of it in the row above.
            above = grid[level - 1]
            name = next((above[j] for j in range(min(i, len(above) - 1), -1, -1) if above[j]), name)
        if num is None or not name:
            continue
        qualifier = "预算数" if "预算" in group else "决算数" if "决算" in group else None
        rows.append(
            TableRow(
                label=name,
                values=[num],
                columns=[qualifier or "金额"],
                line=body[0].line,
                page=body[0].page,
                snippet=body[0].raw.strip(),
            )
        )
    return rows or None


def _place_by_header(
    rows: list[tuple[Segment, SourceLine, int]], header: list[SourceLine], columns: tuple[str, ...]
) -> None:
    """PDF rows of a one-sided table: each number goes to the column whose header cell is above it, and
    the empty cells between are kept (so no placement has to be guessed; pdf_cells.place_by_header)."""
    anchors = header_columns(header, columns)
    if len(anchors) < 2:
        return
    per_line: dict[int, int] = {}
    for seg, src, _ in rows:
        if seg.values:
            per_line[src.line] = per_line.get(src.line, 0) + 1
    for seg, src, _ in rows:
        if not seg.values or per_line[src.line] != 1:
            continue
        cells = number_cells(src, seg.code)
        if len(cells) != len(seg.values):
            continue
        placed = place_by_header(cells, anchors, len(columns))
        if placed is None:
            continue
        vec: list[Decimal | None] = [None] * (placed[-1] + 1)
        for v, j in zip(seg.values, placed, strict=True):
            vec[j] = v
        seg.values, seg.exact_positions = vec, True


def _horizontal_rows_by_x(header: list[SourceLine], body: list[SourceLine], q: str) -> list[TableRow] | None:
    """A sideways table of a PDF (the 三公经费 table): each number of its one value line is named by the
    header cell above it; the qualifier is the report's (预算数/决算数)."""
    if not body or not header or len(body[0].cells or []) < 2:
        return None
    named = columns_above(header, body[0])
    if named is None:
        return None
    rows = [
        TableRow(
            label=name,
            values=[to_decimal(v)],
            columns=[q],
            line=body[0].line,
            page=body[0].page,
            snippet=body[0].raw.strip(),
        )
        for name, v in named
    ]
    return rows


def _is_data_line(text: str) -> bool:
    return bool(_AMOUNT_CELL.search(text)) or bool(_CODE_START.match(text))


def _assemble_rows(
    body: list[SourceLine], has_row_numbers: bool, code_xs: list[float] | None = None
) -> list[tuple[Segment, SourceLine, int]]:
    """Segments of the body lines, each with its line and end line; wrapped labels rejoined.

    PDFs print a long label around its code and numbers: `机关事业单位基本养老保` / `2080505 6.18 6.18` /
    `险缴费支出`. A text-only line before a labelless coded row is the label's start; a short text-only
    line right after it is the label's end.
    """
    out: list[tuple[Segment, SourceLine, int]] = []
    pending: SourceLine | None = None
    last_wrapped: int | None = None
    for ln in body:
        segs = split_segments(ln.text, has_row_numbers, codes_in(ln, code_xs) if code_xs else frozenset())
        text_only = bool(segs) and all(not s.values and not s.code for s in segs)
        if text_only:
            if last_wrapped is not None and len(segs) == 1 and len(segs[0].label) <= 10:
                seg, src, _ = out[last_wrapped]
                seg.label += segs[0].label
                out[last_wrapped] = (seg, src, ln.line)
                last_wrapped = None
                continue
            pending = ln
            last_wrapped = None
            continue
        last_wrapped = None
        for k, seg in enumerate(segs):
            if k == 0 and seg.code and pending is not None:
                head = split_segments(pending.text, False)
                seg.label = (head[0].label if head else "") + seg.label
                last_wrapped = len(out)
            out.append((seg, ln, ln.line))
        pending = None
    return out
