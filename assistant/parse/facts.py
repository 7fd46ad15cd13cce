"""Turn a loaded document into its Report, Tables and Facts (tables + narrative), with checks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from assistant.models import Document, Fact, Mention, Report, Table, TableRow
from assistant.parse.lexicon import canonical_metric, to_yuan
from assistant.parse.rows import clean_label
from assistant.parse.schemas import SCHEMAS
from assistant.parse.tables import find_tables

TOTAL_ROW_RE = re.compile(r"^(合计|总计|支出合计|\(一\)支出合计|（一）支出合计|三公经费支出合计)$")
TOTAL_METRIC = {s.name: s.total_metric for s in SCHEMAS if s.total_metric}
ROW_METRICS = {(s.name, label): metric for s in SCHEMAS for label, metric in s.row_metrics}

COUNT_UNIT_RE = re.compile(r"[（(](个|人|辆|人次|批次|次|台|套)[)）]")


@dataclass
class ParsedReport:
    """Everything parsed from one document."""

    report: Report
    tables: list[Table] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)  # numbers no fact holds (parse/mentions.py)


def row_metric(table: Table, row: TableRow) -> str | None:
    """The metric a table row states (canonical when the lexicon knows its label); None without a label."""
    label = clean_label(row.label)
    if not label:
        return None
    metric = canonical_metric(row.label) or label
    if TOTAL_ROW_RE.match(label) and table.schema_name in TOTAL_METRIC:
        metric = TOTAL_METRIC[table.schema_name] or metric
    return ROW_METRICS.get((table.schema_name or "", label), metric)


def table_facts(report: Report, tables: list[Table]) -> list[Fact]:
    """One fact per non-empty cell of every parsed table row."""
    facts: list[Fact] = []
    for table in tables:
        for row in table.rows:
            metric = row_metric(table, row)
            if metric is None:
                continue
            m = COUNT_UNIT_RE.search(row.label)
            unit = m.group(1) if m else (table.unit or "元")
            if unit == "次" and "批次" in row.label:
                unit = "批次"
            for column, value in zip(row.columns, row.values, strict=False):
                if value is None:
                    continue
                flags = []
                if row.column_uncertain and column != row.columns[0]:
                    flags.append("column_uncertain")
                if table.failed_checks:
                    flags.append("check_failed")
                facts.append(
                    Fact(
                        doc=report.doc,
                        department=report.department,
                        year=report.year,
                        kind=report.kind,
                        metric=metric,
                        label=row.label,
                        code=row.code,
                        qualifier=column,
                        value=value,
                        unit=unit,
                        value_yuan=to_yuan(value, unit),
                        source="table",
                        table_id=table.table_id,
                        line=row.line,
                        line_end=row.line_end,
                        page=row.page,
                        snippet=row.snippet,
                        flags=flags,
                    )
                )
    return facts


def flag_conflicts(facts: list[Fact]) -> None:
    """Flag narrative and table facts that state the same metric and year differently.

    Only totals are compared (table facts of the total column / single-value tables), in 元, at the
    precision of the rounder figure (a narrative 0.45万元 agrees with a table 4,523.00元).
    """
    table_vals: dict[tuple[str, int | None, str | None], list[Fact]] = {}
    for f in facts:
        if f.source == "table" and f.value_yuan is not None and not f.code:
            table_vals.setdefault((f.metric, f.year, _qual_class(f.qualifier)), []).append(f)
    for f in facts:
        if f.source != "narrative" or f.value_yuan is None:
            continue
        others = table_vals.get((f.metric, f.year, _qual_class(f.qualifier)))
        if not others:
            continue
        exponent = f.value.as_tuple().exponent
        exp = -exponent if isinstance(exponent, int) else 2
        scale = Decimal(10000) if f.unit == "万元" else Decimal(1)
        quantum = Decimal(1).scaleb(-exp) * scale
        agree = [o for o in others if abs((o.value_yuan or 0) - f.value_yuan) <= quantum / 2]
        if not agree:
            f.flags.append("conflict")
            for o in others:
                if "conflict" not in o.flags:
                    o.flags.append("conflict")


def _qual_class(q: str | None) -> str:
    """预算 or 决算 side of a qualifier ('' when it is neither, e.g. a column total)."""
    if q and "预算" in q:
        return "预算"
    if q and "决算" in q:
        return "决算"
    return ""


def flag_ocr(doc: Document, facts: list[Fact]) -> None:
    """Flag ``ocr`` on facts read from lines that OCR recognised (formats hook, see ingest/ocr.py)."""
    ocr_lines = {sl.line for sl in doc.lines if sl.ocr}
    if ocr_lines:
        for f in facts:
            if "ocr" not in f.flags and any(
                n in ocr_lines for n in range(f.line, (f.line_end or f.line) + 1)
            ):
                f.flags.append("ocr")


def parse_document(doc: Document) -> ParsedReport:
    """Metadata, tables and facts of one loaded document."""
    from assistant.ingest.metadata import detect_metadata
    from assistant.parse.generic import generic_tables
    from assistant.parse.mentions import extract_mentions
    from assistant.parse.narrative import Sentence, extract_narrative_facts

    report = detect_metadata(doc)
    tables = find_tables(doc.doc, doc.lines, report.kind, exact_tabs=doc.filetype != "pdf")
    facts = table_facts(report, tables)
    sentences: list[Sentence] = []
    facts.extend(extract_narrative_facts(doc, report, sentences))
    flag_conflicts(facts)
    # Non-standard tables come after the standard facts and take no part in their conflict checks.
    generic, generic_facts = generic_tables(report, doc.lines, tables, exact_tabs=doc.filetype != "pdf")
    facts.extend(generic_facts)
    flag_ocr(doc, facts)
    table_lines = {n for t in tables + generic if not t.partial for n in range(t.line_start, t.line_end + 1)}
    mentions = extract_mentions(doc, facts, table_lines, sentences)
    tables = tables + generic
    warnings = list(doc.warnings) + list(report.warnings)
    for t in tables:
        warnings.extend(f"{t.table_id} {t.title}: 勾稽关系不符 {c}" for c in t.failed_checks[:3])
    return ParsedReport(report=report, tables=tables, facts=facts, warnings=warnings, mentions=mentions)
