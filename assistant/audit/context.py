"""What the rules read: one report's lines, tables, facts and prose, parsed once, and its table
figures indexed by the metric they state."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from assistant.models import Document, Fact, Report, Table, TableRow
from assistant.parse.facts import TOTAL_ROW_RE, ParsedReport, parse_document, row_metric
from assistant.parse.generic import GENERIC_SCHEMA
from assistant.parse.lexicon import canonical_metric
from assistant.parse.prose import iter_paragraphs
from assistant.parse.rows import clean_label

# What the first column of a table's 合计 row measures (the row is labelled only 合计).
TOTAL_FIRST_COLUMN: dict[str, str] = {
    "收入表": "本年收入合计",
    "支出表": "本年支出合计",
    "一般公共预算支出表": "一般公共预算财政拨款支出",
    "基本支出表": "基本支出",
    "政府性基金表": "政府性基金预算财政拨款支出",
    "国有资本经营表": "国有资本经营预算财政拨款支出",
}
_SIDE_COLUMNS = ("预算数", "决算数", "金额")
_YEAR_RE = re.compile(r"((?:19|20)\d\d)\s*年")


@dataclass(frozen=True)
class Figure:
    """One cell of a parsed table: the metric it states, its column, value (None: blank) and place."""

    table: Table
    row: TableRow
    column: str
    index: int  # position of the column in the row
    metric: str  # what the cell states (row metric, or the column name in a 合计 row)
    row_metric: str
    qual: str  # 预算 / 决算
    value: Decimal | None

    @property
    def unit(self) -> str:
        return self.table.unit or "元"


@dataclass
class Paragraph:
    """A prose paragraph with the line and page of each character."""

    text: str
    lines: list[int]
    pages: list[int | None]

    def where(self, pos: int) -> tuple[int, int | None]:
        """Line and page of the character at ``pos``."""
        pos = min(max(pos, 0), len(self.lines) - 1)
        return self.lines[pos], self.pages[pos]


def is_total_row(row: TableRow) -> bool:
    """A table's 合计/总计 row (no classification code)."""
    return row.code is None and bool(TOTAL_ROW_RE.match(clean_label(row.label)))


def qual_class(column: str, kind: str | None) -> str:
    """预算 or 决算: from the column name when it says so, else the report's kind."""
    if "预算" in column:
        return "预算"
    if "决算" in column:
        return "决算"
    return kind or ""


@dataclass
class AuditContext:
    """One report as the audit rules see it."""

    doc: Document
    parsed: ParsedReport
    lines_by_no: dict[int, str] = field(default_factory=dict)

    @classmethod
    def from_document(cls, doc: Document) -> AuditContext:
        """Parse ``doc`` with the normal pipeline (metadata, tables, facts)."""
        ctx = cls(doc=doc, parsed=parse_document(doc))
        ctx.lines_by_no = {ln.line: ln.raw for ln in doc.lines}
        return ctx

    @property
    def report(self) -> Report:
        return self.parsed.report

    @cached_property
    def tables(self) -> list[Table]:
        """The report's standard tables (schemas.py), whose structure the rules know; the generic tables
        (project 自评表, asset tables …) have no identities to check."""
        return [t for t in self.parsed.tables if t.schema_name and t.schema_name != GENERIC_SCHEMA]

    @property
    def facts(self) -> list[Fact]:
        return self.parsed.facts

    def snippet(self, line: int) -> str:
        """The line as the file shows it."""
        return self.lines_by_no.get(line, "").strip()

    @cached_property
    def year(self) -> int | None:
        """The report's year: the one its lines name most (at least twice as often as any other), else
        the year of its metadata. A title with a wrong year is then seen as wrong, not as the year."""
        counts = Counter(int(m.group(1)) for ln in self.doc.lines for m in _YEAR_RE.finditer(ln.text))
        ranked = counts.most_common(2)
        if ranked and (len(ranked) == 1 or ranked[0][1] >= 2 * ranked[1][1]):
            return ranked[0][0]
        return self.report.year

    @cached_property
    def paragraphs(self) -> list[Paragraph]:
        """The prose of the report, paragraph by paragraph (as the narrative parser joins it)."""
        return [Paragraph(t, ls, ps) for t, ls, ps in iter_paragraphs(self.doc) if ls]

    @cached_property
    def figures(self) -> list[Figure]:
        """Every cell of every parsed table whose column is certain, with the metric it states.

        A detail row's cells state its metric in the table's total column (or its 预算数/决算数 columns);
        a 合计 row's other cells state the column's own metric (基本支出, 人员经费 …).
        """
        out: list[Figure] = []
        kind = self.report.kind
        for table in self.tables:
            for row in table.rows:
                rm = row_metric(table, row)
                if rm is None:
                    continue
                total = is_total_row(row)
                for j, (column, value) in enumerate(zip(row.columns, row.values, strict=False)):
                    if row.column_uncertain and j > 0:
                        continue  # the parser could not prove this number's column
                    if j == 0 or column in _SIDE_COLUMNS:
                        metric = TOTAL_FIRST_COLUMN.get(table.schema_name or "", rm) if total else rm
                    elif total:
                        metric = canonical_metric(column) or column
                    else:
                        metric = ""  # a part of a detail row: named by row and column, not by a metric
                    out.append(Figure(table, row, column, j, metric, rm, qual_class(column, kind), value))
        return out

    def find(
        self, schema: str, metric: str | None = None, row_metric: str | None = None, column: str | None = None
    ) -> list[Figure]:
        """Figures of tables of ``schema`` by the metric they state, or by row metric and column."""
        return [
            f
            for f in self.figures
            if f.table.schema_name == schema
            and (metric is None or f.metric == metric)
            and (row_metric is None or f.row_metric == row_metric)
            and (column is None or f.column == column)
        ]
