"""Rules over the tables: each table's own sums, and the tables against each other."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from assistant.audit.amounts import agreement, show, sum_agreement
from assistant.audit.context import AuditContext, Figure, is_total_row
from assistant.audit.findings import Finding, FindingValue, Severity
from assistant.models import Table, TableRow
from assistant.parse.facts import row_metric
from assistant.parse.rows import clean_label

# Tables whose columns after the first are the parts of the first.
_PARTS_SUM_SCHEMAS = frozenset({"收入表", "支出表", "一般公共预算支出表", "政府性基金表", "国有资本经营表"})
_PERSONNEL_COLUMNS = ("合计", "人员经费", "公用经费")
# The 三公 table's sums, by canonical metric: total → parts.
_SANGONG_SUMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("三公经费", ("因公出国（境）费", "公务用车购置及运行维护费", "公务接待费")),
    ("公务用车购置及运行维护费", ("公务用车购置费", "公务用车运行维护费")),
)
_GRAND_TOTALS = frozenset({"总计", "收入总计", "支出总计"})
# Totals that two tables state and must agree on: (schema, metric, column) pairs.
_CROSS: tuple[tuple[tuple[str, str, str | None], tuple[str, str, str | None]], ...] = (
    (("收支总表", "本年收入合计", None), ("收入表", "本年收入合计", None)),
    (("收支总表", "本年支出合计", None), ("支出表", "本年支出合计", None)),
    (
        ("财政拨款收支总表", "财政拨款支出", "一般公共预算财政拨款"),
        ("一般公共预算支出表", "一般公共预算财政拨款支出", None),
    ),
    (("一般公共预算支出表", "基本支出", None), ("基本支出表", "基本支出", None)),
    (("一般公共预算支出表", "项目支出", None), ("项目支出表", "项目支出", None)),
)


def row_value(row: TableRow, index: int, unit: str | None) -> FindingValue:
    """A table cell as one side of a finding."""
    column = row.columns[index] if index < len(row.columns) else ""
    label = f"{row.code + ' ' if row.code else ''}{clean_label(row.label)}" + (
        f"（{column}）" if column else ""
    )
    value = row.values[index] if index < len(row.values) else None
    return FindingValue(label=label, value=show(value), unit=unit, line=row.line, page=row.page)


def figure_value(f: Figure) -> FindingValue:
    """A figure as one side of a finding, naming its table."""
    v = row_value(f.row, f.index, f.unit)
    return v.model_copy(update={"label": f"{f.table.table_id} {v.label}"})


def _sum_finding(
    ctx: AuditContext,
    table: Table,
    row: TableRow,
    index: int,
    parts: list[tuple[TableRow, int]],
    what: str,
    severity: Severity,
) -> Finding | None:
    total = row.values[index]
    if total is None:
        return None  # a blank total is the blank-cell rule's business
    got = sum((p.values[i] or Decimal(0) for p, i in parts if i < len(p.values)), Decimal(0))
    verdict = sum_agreement(total, got, len(parts), table.unit)
    if verdict == "same":
        return None
    unit = table.unit or "元"
    label = f"{row.code + ' ' if row.code else ''}{clean_label(row.label)}"
    column = row.columns[index] if index < len(row.columns) else ""
    if verdict == "rounding":
        severity = "info"
        message = f"{table.table_id}「{label}」{column} {show(total)}{unit}与{what}之和 {show(got)}{unit} 仅差元转万元的舍入"
    else:
        message = f"{table.table_id}「{label}」{column} {show(total)}{unit} ≠ {what}之和 {show(got)}{unit}（差 {show(total - got)}）"
    values = [row_value(row, index, unit)] + [row_value(p, i, unit) for p, i in parts]
    return Finding(
        rule="table.identity",
        severity=severity,
        doc=ctx.report.doc,
        page=row.page,
        line=row.line,
        message=message,
        values=values,
        snippet=row.snippet,
    )


def check_table_identities(ctx: AuditContext) -> Iterator[Finding]:
    """Each table's own sums (0.01 tolerance): 合计 = its parts (基本支出 + 项目支出 …), a classification
    code = the sum of its sub-codes, the 合计 row = the sum of the 类 rows, 收入总计 = 支出总计, and the
    三公 合计 = its items. Columns the parser could not prove are not checked. A difference that is only
    the rounding of 元 into 万元 is reported as info."""
    for table in ctx.tables:
        yield from _parts_sums(ctx, table)
        yield from _code_sums(ctx, table)
        yield from _grand_totals(ctx, table)
        if table.schema_name == "三公经费表":
            yield from _sangong_sums(ctx, table)


def _parts_sums(ctx: AuditContext, table: Table) -> Iterator[Finding]:
    personnel = tuple(table.columns[:3]) == _PERSONNEL_COLUMNS
    if table.schema_name not in _PARTS_SUM_SCHEMAS and not personnel:
        return
    for row in table.rows:
        if row.column_uncertain or len(row.values) < 2 or row.columns[0] != table.columns[0]:
            continue
        if sum(v is not None for v in row.values[1:]) == 0:
            continue  # only the total printed: nothing to add up
        f = _sum_finding(ctx, table, row, 0, [(row, i) for i in range(1, len(row.values))], "各列", "error")
        if f is not None:
            yield f


def _code_sums(ctx: AuditContext, table: Table) -> Iterator[Finding]:
    coded = [r for r in table.rows if r.code]
    by_code: dict[str, TableRow] = {}
    for r in coded:
        by_code.setdefault(r.code or "", r)
    children: dict[str, list[TableRow]] = {}
    for r in coded:
        code = r.code or ""
        parent = code[:-2] if len(code) > 3 else ""
        if parent in by_code and by_code[parent].columns == r.columns:
            children.setdefault(parent, []).append(r)
    tops = [r for r in coded if len(r.code or "") == 3]
    for row in table.rows:
        if row.code and row.code in children:
            kids = children[row.code]
        elif (
            is_total_row(row)
            and tops
            and all(t.columns == row.columns for t in tops)
            and len({tuple(r.columns) for r in table.rows}) == 1
        ):
            kids = tops  # the 合计 row of a table laid out on one side
        else:
            continue
        for i in range(len(row.values)):
            if i > 0 and (row.column_uncertain or any(k.column_uncertain for k in kids)):
                break
            f = _sum_finding(ctx, table, row, i, [(k, i) for k in kids], "下级科目", "error")
            if f is not None:
                yield f


def _grand_totals(ctx: AuditContext, table: Table) -> Iterator[Finding]:
    if table.schema_name not in ("收支总表", "财政拨款收支总表"):
        return
    totals = [
        r
        for r in table.rows
        if clean_label(r.label) in _GRAND_TOTALS and r.values and r.values[0] is not None
    ]
    if len(totals) != 2:
        return
    left, right = totals
    a, b = left.values[0], right.values[0]
    assert a is not None and b is not None
    verdict = agreement(a, table.unit or "元", b, table.unit or "元")
    if verdict == "same":
        return
    unit = table.unit or "元"
    yield Finding(
        rule="table.identity",
        severity="info" if verdict == "rounding" else "error",
        doc=ctx.report.doc,
        page=right.page,
        line=right.line,
        message=f"{table.table_id} 收入方总计 {show(a)}{unit} ≠ 支出方总计 {show(b)}{unit}",
        values=[row_value(left, 0, unit), row_value(right, 0, unit)],
        snippet=right.snippet,
    )


def _sangong_sums(ctx: AuditContext, table: Table) -> Iterator[Finding]:
    by_metric: dict[str, TableRow] = {}
    for r in table.rows:
        m = row_metric(table, r)
        if m is not None:
            by_metric.setdefault(m, r)
    for total, parts in _SANGONG_SUMS:
        row = by_metric.get(total)
        kids = [by_metric[p] for p in parts if p in by_metric]
        if row is None or len(kids) != len(parts) or any(k.line == row.line for k in kids):
            continue  # sideways tables (one line) are checked by their own columns, not here
        for i in range(len(row.values)):
            if row.column_uncertain and i > 0:
                break
            f = _sum_finding(ctx, table, row, i, [(k, i) for k in kids], "各项", "error")
            if f is not None:
                yield f


def check_cross_tables(ctx: AuditContext) -> Iterator[Finding]:
    """Totals that two tables state must agree: 收支总表 vs 收入表 / 支出表; 财政拨款收支总表 vs
    一般公共预算财政拨款支出表; 基本支出 (项目支出) in 一般公共预算财政拨款支出表 vs 基本支出表
    (项目支出表). The finding is on the line of the second table."""
    for (sa, ma, ca), (sb, mb, cb) in _CROSS:
        a = _one(ctx, sa, ma, ca)
        b = _one(ctx, sb, mb, cb)
        if a is None or b is None or a.value is None or b.value is None:
            continue
        verdict = agreement(a.value, a.unit, b.value, b.unit)
        if verdict == "same":
            continue
        msg = (
            f"{b.table.table_id}的{mb} {show(b.value)}{b.unit} 与{a.table.table_id}的{ma} "
            f"{show(a.value)}{a.unit} 不一致"
        )
        if verdict == "rounding":
            msg += "（仅差元转万元的舍入）"
        yield Finding(
            rule="table.cross",
            severity="info" if verdict == "rounding" else "error",
            doc=ctx.report.doc,
            page=b.row.page,
            line=b.row.line,
            message=msg,
            values=[figure_value(b), figure_value(a)],
            snippet=b.row.snippet,
        )


def _one(ctx: AuditContext, schema: str, metric: str, column: str | None) -> Figure | None:
    """The one figure of a table stating ``metric`` in its total column (None when absent or several)."""
    if column is None:
        found = [f for f in ctx.find(schema, metric=metric) if f.index == 0 or is_total_row(f.row)]
    else:
        found = ctx.find(schema, row_metric=metric, column=column)
    found = [f for f in found if f.qual == (ctx.report.kind or f.qual)]
    return found[0] if len({(f.row.line, f.value) for f in found}) == 1 else None
