"""PDF tables read by the x positions of their cells (assistant/parse/pdf_cells.py): a row's total
printed on the line below, a right-half code whose label wrapped, and the sideways 三公经费 table.

The layouts are made from the real lines of the corpus PDFs, changed the way another PDF prints them.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from assistant.audit import audit_document
from assistant.ingest.loaders import load_document
from assistant.models import Document, SourceLine
from assistant.parse.facts import parse_document
from assistant.parse.tables import find_tables

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
SHEGONG = "中共上海市普陀区委社会工作部 2024 年度部门决算.pdf"
ZHENGFUBAN = "上海市普陀区人民政府办公室25年预算.pdf"


@pytest.fixture(scope="module")
def shegong() -> Document:
    return load_document(CORPUS / SHEGONG)


def _line(doc: Document, n: int) -> SourceLine:
    return next(ln for ln in doc.lines if ln.line == n)


def _with_cells(ln: SourceLine, cells, line: int | None = None) -> SourceLine:
    raw = "\t".join(c.text for c in cells)
    return ln.model_copy(
        update={"cells": cells, "raw": raw, "text": raw, "line": ln.line if line is None else line}
    )


def _total_on_next_line(doc: Document, n: int) -> Document:
    """Line ``n`` with its first number cell moved to a line of its own below it (lines renumbered)."""
    out: list[SourceLine] = []
    for ln in doc.lines:
        if ln.line < n:
            out.append(ln)
        elif ln.line == n:
            cells = ln.cells or []
            k = next(i for i, c in enumerate(cells) if c.text[0].isdigit() and "." in c.text)
            out.append(_with_cells(ln, cells[:k] + cells[k + 1 :]))
            out.append(_with_cells(ln, [cells[k]], line=n + 1))
        else:
            out.append(ln.model_copy(update={"line": ln.line + 1}))
    return doc.model_copy(update={"lines": out})


def _table(doc: Document, schema: str):
    return next(
        t for t in find_tables(doc.doc, doc.lines, "决算", exact_tabs=False) if t.schema_name == schema
    )


@pytest.mark.parametrize(
    ("line", "code", "values"),
    [
        (123, None, ["307.82", "105.58", "202.24"]),  # 合计 307.82 on the line below
        (124, "201", ["264.87", "62.63", "202.24"]),  # 201 一般公共服务支出 264.87 on the line below
    ],
)
def test_a_total_printed_on_the_next_line_belongs_to_the_row_above(shegong, line, code, values) -> None:
    doc = _total_on_next_line(shegong, line)
    assert _line(doc, line + 1).raw in values  # the layout is really split
    table = _table(doc, "支出表")
    row = next(r for r in table.rows if r.line == line)
    assert row.code == code
    assert [str(v) for v in row.values[:3]] == values and row.values[3:] == [None, None, None]
    assert table.failed_checks == []
    assert [f for f in audit_document(doc) if f.rule.startswith("table.")] == []


def test_a_right_half_code_whose_label_wrapped_is_a_code_not_an_amount(shegong) -> None:
    # 301 工资福利支出 95.36 | 302 商品和服务支出 10.23, with the right label printed on other lines.
    ln = _line(shegong, 232)
    cells = [c for c in ln.cells or [] if c.text != "商品和服务支出"]
    doc = shegong.model_copy(
        update={"lines": [_with_cells(ln, cells) if x.line == 232 else x for x in shegong.lines]}
    )
    rows = {r.code: r for r in _table(doc, "基本支出表").rows if r.line == 232}
    assert rows["301"].values == [Decimal("95.36")]
    assert rows["302"].values == [Decimal("10.23")]


def test_sideways_sangong_table_read_by_the_header_cell_above_each_number() -> None:
    parsed = parse_document(load_document(CORPUS / ZHENGFUBAN))
    table = next(t for t in parsed.tables if t.schema_name == "三公经费表")
    assert [(r.label, str(r.values[0]), r.columns) for r in table.rows] == [
        ("合计", "867.50", ["预算数"]),
        ("因公出国(境)费", "839.00", ["预算数"]),
        ("公务接待费", "28.50", ["预算数"]),
        ("机关运行经费预算", "213.28", ["预算数"]),
    ]
    facts = {
        (f.metric, f.qualifier): f.value
        for f in parsed.facts
        if f.source == "table" and f.table_id == table.table_id
    }
    assert facts[("三公经费", "预算数")] == Decimal("867.50")
    assert facts[("机关运行经费", "预算数")] == Decimal("213.28")


def test_numbers_go_to_the_column_of_the_header_above_them(shegong) -> None:
    # 支出决算表 合计 307.82 | 105.58 | 202.24 with its 基本支出 cell left empty: the 202.24 stays under 项目支出.
    ln = _line(shegong, 123)
    cells = [c for c in ln.cells or [] if c.text != "105.58"]
    doc = shegong.model_copy(
        update={"lines": [_with_cells(ln, cells) if x.line == 123 else x for x in shegong.lines]}
    )
    row = next(r for r in _table(doc, "支出表").rows if r.line == 123)
    assert row.values[:3] == [Decimal("307.82"), None, Decimal("202.24")] and not row.column_uncertain
    # and in the unchanged table the 合计 row's columns are proven by position, not guessed
    row = next(r for r in _table(shegong, "支出表").rows if r.line == 123)
    assert [str(v) for v in row.values[:3]] == ["307.82", "105.58", "202.24"] and not row.column_uncertain
