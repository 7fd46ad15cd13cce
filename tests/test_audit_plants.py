"""`assistant audit` finds errors planted the way a reviewer meets them, one at a time, in the lines of
every corpus report loaded through the normal ingest: exactly the planted rule fires, on the planted line.

The place of each plant is chosen by what the report holds (a sentence whose amount a table confirms, a
comparison the numbers before it support, the last heading with the report's year …), not by line
number, so the same test runs on any report; the plants a report cannot take are listed with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest

from assistant.audit import audit_document
from assistant.audit.amounts import agreement
from assistant.audit.context import AuditContext
from assistant.audit.narrative_rules import (
    _CLAIM_RE,
    _rate_bounds,
    _relation,
    _stated_amounts,
    change_statements,
)
from assistant.audit.report_rules import _DATE_RE, _TOC_RE, heading_years
from assistant.ingest.loaders import load_document
from assistant.ingest.normalize import normalize_text
from assistant.models import Cell, Document, SourceLine
from assistant.parse.schemas import match_schema

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
DOCS = sorted(p.name for p in CORPUS.iterdir() if not p.name.startswith("."))

Plant = tuple[Document, str, int]  # the planted document, the rule expected, the line expected


@cache
def loaded(name: str) -> Document:
    return load_document(CORPUS / name)


@cache
def context(name: str) -> AuditContext:
    return AuditContext.from_document(loaded(name))


@cache
def baseline(name: str) -> frozenset[tuple[str, int, str]]:
    return frozenset((f.rule, f.line, f.message) for f in audit_document(loaded(name)))


# --- editing lines ------------------------------------------------------------------------------------
def _line(doc: Document, n: int) -> SourceLine:
    return next(ln for ln in doc.lines if ln.line == n)


def _with_line(doc: Document, new: SourceLine) -> Document:
    return doc.model_copy(update={"lines": [new if ln.line == new.line else ln for ln in doc.lines]})


def edit(doc: Document, n: int, old: str, new: str, count: int = 1) -> Document:
    """Replace the first ``old`` (``count`` = -1: every one) in line ``n`` by ``new`` (in the cell that
    holds it, for PDF lines)."""
    ln = _line(doc, n)
    assert old in ln.raw, (n, old, ln.raw)
    raw = ln.raw.replace(old, new, count)
    cells = ln.cells
    if cells:
        k = next(i for i, c in enumerate(cells) if normalize_text(old) in c.text)
        cells = [
            c.model_copy(
                update={
                    "text": normalize_text(c.text.replace(normalize_text(old), normalize_text(new), count))
                }
            )
            if i == k
            else c
            for i, c in enumerate(cells)
        ]
    return _with_line(doc, ln.model_copy(update={"raw": raw, "text": normalize_text(raw), "cells": cells}))


def blank(doc: Document, n: int, token: str) -> Document:
    """Leave the cell ``token`` of table line ``n`` empty: a PDF cell disappears, a tab cell stays empty,
    a space-separated number is removed."""
    ln = _line(doc, n)
    cells: list[Cell] | None
    if ln.cells and len(ln.cells) > 1:
        cells = [c for c in ln.cells if c.text != normalize_text(token)]
        assert len(cells) == len(ln.cells) - 1
        raw = "\t".join(c.text for c in cells)
    elif "\t" in ln.raw:
        parts = ln.raw.split("\t")
        k = next(i for i, p in enumerate(parts) if p.strip() == token)
        raw = "\t".join("" if i == k else p for i, p in enumerate(parts))
        cells = ln.cells or None
    else:
        raw = re.sub(rf"(^|\s){re.escape(token)}(?=\s|$)", "", ln.raw, count=1)
        cells = None
    return _with_line(doc, ln.model_copy(update={"raw": raw, "text": normalize_text(raw), "cells": cells}))


def drop(doc: Document, first: int, last: int) -> Document:
    return doc.model_copy(update={"lines": [ln for ln in doc.lines if not first <= ln.line <= last]})


def _token(raw: str, value: Decimal) -> str | None:
    """The number token of ``raw`` that states ``value`` (1,321,478.92 / 0.54)."""
    for m in re.finditer(r"(?<![\d.,])\d[\d,]*(?:\.\d+)?(?![\d])", raw):
        try:
            if Decimal(m.group().replace(",", "")) == value:
                return m.group()
        except ArithmeticError:
            continue
    return None


def _bumped(token: str) -> str:
    d = token[0]
    return ("8" if d == "9" else str(int(d) + 1)) + token[1:]


# --- the plants -------------------------------------------------------------------------------------
def plant_amount(name: str) -> Plant | None:
    """A narrative amount a table confirms, changed."""
    ctx = context(name)
    for f in _stated_amounts(ctx):
        ln = _line(ctx.doc, f.line)
        tok = _token(ln.raw, f.value)
        if f.value == 0 or tok is None or _CLAIM_RE.search(ln.text):
            continue
        if any(
            g.metric == f.metric
            and g.value is not None
            and agreement(f.value, f.unit, g.value, g.unit) == "same"
            for g in ctx.figures
        ):
            return edit(ctx.doc, f.line, tok, _bumped(tok)), "narrative.amount", f.line
    return None


_SWAP = {"小于": "大于", "低于": "高于", "大于": "小于", "高于": "低于", "等于": "大于"}


def plant_comparison(name: str) -> Plant | None:
    """小于 → 大于 (or the other way) in a comparison the numbers before it support."""
    ctx = context(name)
    claims = []
    for para in ctx.paragraphs:
        for m in _CLAIM_RE.finditer(para.text):
            word = m.group(1)
            if word not in _SWAP:
                continue
            ends = [e.end() for e in re.finditer(r"[。！？]", para.text[: m.start()])]
            found = _relation(para.text[(ends[-2] if len(ends) >= 2 else 0) : m.start()])
            if found is None or found[0] == "=":
                continue
            line, _ = para.where(m.start(1))
            if word in _line(ctx.doc, line).raw:
                claims.append((word != "小于", line, word))
    if not claims:
        return None
    _, line, word = min(claims)
    return edit(ctx.doc, line, word, _SWAP[word]), "narrative.comparison", line


def plant_heading_year(name: str) -> Plant | None:
    """The year of the report's last heading that states it, one year off."""
    ctx = context(name)
    year = ctx.report.year
    hits = [n for n, y in heading_years(ctx).items() if y == year and str(year) in _line(ctx.doc, n).raw]
    if not hits:
        return None
    assert year is not None  # str(year) was found in the heading
    # every copy of the year: some exports draw a bold title four times (2020202020202020)
    return edit(ctx.doc, hits[-1], str(year), str(year - 1), count=-1), "report.year", hits[-1]


def plant_date_year(name: str) -> Plant | None:
    """The year of a 截至…年…月…日 date, changed."""
    ctx = context(name)
    for ln in ctx.doc.lines:
        m = _DATE_RE.search(ln.text)
        if m and m.group(1) in ln.raw:
            return edit(ctx.doc, ln.line, m.group(1), str(int(m.group(1)) - 3)), "report.year", ln.line
    return None


_BODY_SUFFIX = re.compile(r"(局|部|办公室|委员会|中心)$")


def plant_department(name: str) -> Plant | None:
    """The department's name (or a long form of it) replaced by XX局, in its last mention after the
    first full one (so that the report's name is still detected)."""
    ctx = context(name)
    dept = ctx.report.department
    if not dept:
        return None
    names = sorted(
        {dept, *(a for a in ctx.report.aliases if len(a) >= 5 and _BODY_SUFFIX.search(a))},
        key=len,
        reverse=True,
    )
    first = next((ln.line for ln in ctx.doc.lines if dept in ln.raw), None)
    hits = [
        (ln, next(n for n in names if n in ln.raw))
        for ln in ctx.doc.lines
        if ln.line != first and any(n in ln.raw for n in names)
    ]
    if not hits:
        return None
    ln, found = hits[-1]
    return edit(ctx.doc, ln.line, found, "XX局"), "report.department", ln.line


def plant_missing_table(name: str) -> Plant | None:
    """A table the contents list, removed (its lines dropped)."""
    ctx = context(name)
    title_lines = {t.line_start for t in ctx.tables}
    listed = []
    for ln in ctx.doc.lines:
        m = _TOC_RE.match(ln.text)
        if ln.line in title_lines or m is None or (schema := match_schema(m.group("title"))) is None:
            continue
        tables = [t for t in ctx.tables if t.schema_name == schema.name]
        if len(tables) == 1:
            listed.append((ln.line, tables[0]))
    if not listed:
        return None
    line, table = listed[-1]
    return drop(ctx.doc, table.line_start, table.line_end), "report.contents", line


def plant_blank_cell(name: str) -> Plant | None:
    """A table cell whose figure the narrative states, left blank."""
    ctx = context(name)
    stated = [f for f in _stated_amounts(ctx) if f.value != 0]
    for g in ctx.figures:
        if not g.metric or g.value is None or g.value == 0:
            continue
        if not any(
            f.metric == g.metric and agreement(f.value, f.unit, g.value, g.unit) == "same" for f in stated
        ):
            continue
        others = [v for k, v in enumerate(g.row.values) if k != g.index and v == g.value]
        ln = _line(ctx.doc, g.row.line)
        tok = _token(ln.raw, g.value)
        if others or tok is None or ln.raw.count(tok) != 1:
            continue
        if not (ln.cells and len(ln.cells) > 1) and "\t" not in ln.raw and g.index != len(g.row.values) - 1:
            continue  # a space-separated row keeps no position for an empty cell but the last
        return blank(ctx.doc, g.row.line, tok), "narrative.blank_cell", g.row.line
    return None


def plant_doubled_full_stop(name: str) -> Plant | None:
    """A doubled 。 in the first prose sentence."""
    ctx = context(name)
    for para in ctx.paragraphs:
        i = para.text.find("。")
        if i <= 0:
            continue
        line, _ = para.where(i)
        raw = _line(ctx.doc, line).raw
        k = next(
            (
                j
                for j, ch in enumerate(raw)
                if ch == "。"
                and raw[j - 1 : j] not in "。，、；："
                and raw[j + 1 : j + 2] not in "。，、；：”）"
            ),
            -1,
        )
        if k <= 0:
            continue
        return (
            edit(ctx.doc, line, raw[max(0, k - 3) : k + 1], raw[max(0, k - 3) : k + 1] + "。"),
            "typography",
            line,
        )
    return None


def plant_change_rate(name: str) -> Plant | None:
    """The 增长/下降 rate of a sentence whose amount and change agree with it, changed."""
    ctx = context(name)
    for base, d, r in change_statements(ctx):
        if (
            r.value == 0
            or _rate_bounds(base, d) in (None, "new")
            or any(line in (base.line, r.line) for _, line, _ in baseline(name))
        ):
            continue  # a new item, or a sentence the audit already finds wrong
        tok = _token(_line(ctx.doc, r.line).raw, abs(r.value))
        if tok is not None:
            return edit(ctx.doc, r.line, tok + "%", _bumped(tok) + "%"), "narrative.change", r.line
    return None


PLANTS: dict[str, Callable[[str], Plant | None]] = {
    "change_rate": plant_change_rate,
    "amount": plant_amount,
    "comparison": plant_comparison,
    "heading_year": plant_heading_year,
    "date_year": plant_date_year,
    "department": plant_department,
    "missing_table": plant_missing_table,
    "blank_cell": plant_blank_cell,
    "doubled_full_stop": plant_doubled_full_stop,
}

# What a report cannot take, and why (checked: the plant finds no place in it).
_NO_TABLES = "the file holds no standard table (its 附表 are published apart)"
_NO_CLAIM = "no 决算数大于/小于/等于预算数 that the numbers before it decide (none, or only 持平 at 100%)"
_NO_RATE = "no sentence with an amount, its change and a rate that agree (none, the report's own error, or a new item)"
NO_PLACE: dict[tuple[str, str], str] = {
    ("001", "change_rate"): _NO_RATE,
    ("002", "change_rate"): _NO_RATE,
    ("003", "change_rate"): _NO_RATE,
    ("上海市普陀区人民", "change_rate"): _NO_RATE,
    ("中共上海市普陀区", "change_rate"): _NO_RATE,
    ("000", "comparison"): _NO_CLAIM,
    ("000", "date_year"): "no 截至…年…月…日 date",
    ("000", "missing_table"): "no contents list",
    ("001", "amount"): _NO_TABLES,
    ("001", "blank_cell"): _NO_TABLES,
    ("001", "comparison"): _NO_CLAIM,
    ("001", "missing_table"): _NO_TABLES,
    ("002", "amount"): _NO_TABLES,
    ("002", "blank_cell"): _NO_TABLES,
    ("002", "comparison"): _NO_CLAIM,
    ("002", "missing_table"): _NO_TABLES,
    ("003", "amount"): _NO_TABLES,
    ("003", "blank_cell"): _NO_TABLES,
    ("003", "missing_table"): _NO_TABLES,
    ("上海市普陀区人民", "comparison"): _NO_CLAIM,
}


@pytest.mark.parametrize("plant", sorted(PLANTS))
@pytest.mark.parametrize("name", DOCS)
def test_planted_error_fires_exactly_its_rule_on_its_line(name: str, plant: str) -> None:
    planted = PLANTS[plant](name)
    key = (name[:3] if name[0].isdigit() else name[:8], plant)
    if planted is None:
        assert key in NO_PLACE, f"{name}: no place for the {plant} plant"
        pytest.skip(NO_PLACE[key])
    assert key not in NO_PLACE, f"{name}: the {plant} plant found a place after all"
    doc, rule, line = planted
    before = baseline(name)
    new = [(f.rule, f.line) for f in audit_document(doc) if (f.rule, f.line, f.message) not in before]
    assert new == [(rule, line)]
