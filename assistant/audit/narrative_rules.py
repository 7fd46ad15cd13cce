"""Rules over the prose: stated amounts against the table rows they name, blank rows the prose gives a
figure for, and 决算数大于/小于/等于预算数 against the numbers they describe."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Literal

from assistant.audit.amounts import agreement, quantum_yuan, show
from assistant.audit.context import AuditContext, Figure
from assistant.audit.findings import Finding, FindingValue
from assistant.audit.tables_rules import figure_value, row_value
from assistant.models import Fact
from assistant.parse.lexicon import to_yuan, unit_kind

_STATED = ("决算数", "预算数")


def _stated_amounts(ctx: AuditContext) -> list[Fact]:
    """Narrative money facts of the report's own year that state a 决算数/预算数 (not a change or share)."""
    return [
        f
        for f in ctx.facts
        if f.source == "narrative"
        and f.qualifier in _STATED
        and f.year == ctx.report.year
        and unit_kind(f.unit) == "money"
    ]


def _qual(f: Fact) -> str:
    return "预算" if f.qualifier == "预算数" else "决算"


def _fact_value(f: Fact) -> FindingValue:
    return FindingValue(label=f"正文 {f.label}", value=show(f.value), unit=f.unit, line=f.line, page=f.page)


def check_narrative_amounts(ctx: AuditContext) -> Iterator[Finding]:
    """A sentence's amount against the table rows of the same metric (including a 0 or 无 stated where
    the table has a figure). It is consistent when it agrees with one of them at the sentence's
    precision; a difference that is only the rounding of 元 into 万元 is info."""
    seen: set[tuple[int, str, Decimal]] = set()
    for f in _stated_amounts(ctx):
        key = (f.line, f.metric, f.value)
        if key in seen:
            continue
        seen.add(key)
        cands = [
            g
            for g in ctx.figures
            if g.metric == f.metric and g.qual == _qual(f) and g.value is not None and _comparable(ctx, f, g)
        ]
        if not cands:
            continue
        verdicts = [agreement(f.value, f.unit, g.value, g.unit) for g in cands if g.value is not None]
        if "same" in verdicts:
            continue
        rounding = "rounding" in verdicts
        first = cands[0]
        msg = (
            f"正文所述{f.label} {show(f.value)}{f.unit} 与{first.table.table_id}「{first.row.label}」"
            f"{show(first.value)}{first.unit} 不一致"
        )
        if rounding:
            msg += "（仅差元转万元的舍入）"
        yield Finding(
            rule="narrative.amount",
            severity="info" if rounding else "error",
            doc=ctx.report.doc,
            page=f.page,
            line=f.line,
            message=msg,
            values=[_fact_value(f)] + [figure_value(g) for g in cands[:4]],
            snippet=ctx.snippet(f.line),
        )


def check_blank_cells(ctx: AuditContext) -> Iterator[Finding]:
    """A table cell left blank where the prose states a (non-zero) figure for it."""
    stated: dict[tuple[str, str], Fact] = {}
    for s in _stated_amounts(ctx):
        if s.value != 0:
            stated.setdefault((s.metric, _qual(s)), s)
    done: set[tuple[int, str]] = set()
    for g in ctx.figures:
        if g.value is not None or not g.metric:
            continue
        f = stated.get((g.metric, g.qual))
        if f is None or (g.row.line, g.column) in done or not _comparable(ctx, f, g) or _dashed(g):
            continue
        if any(v is not None and agreement(f.value, f.unit, v, g.unit) != "different" for v in g.row.values):
            continue  # the row states the figure in another column (a 合计 column left empty)
        done.add((g.row.line, g.column))
        yield Finding(
            rule="narrative.blank_cell",
            severity="error",
            doc=ctx.report.doc,
            page=g.row.page,
            line=g.row.line,
            message=(
                f"{g.table.table_id}「{g.row.label}」{g.column}为空，"
                f"正文第{f.line}行所述为 {show(f.value)}{f.unit}"
            ),
            values=[_blank_value(g), _fact_value(f)],
            snippet=g.row.snippet,
        )


def _blank_value(g: Figure) -> FindingValue:
    return row_value(g.row, g.index, g.unit)  # as the table rules name a cell, so findings can be matched


_DASH_TOKEN = re.compile(r"(?:^|[\s\t])[—\-－–]+(?=[\s\t]|$)")
# How far back (lines) a sentence's section may have said 基本支出.
_CONTEXT_LINES = 12


def _dashed(g: Figure) -> bool:
    """Whether the row's empty cells may all be dashes (— states "none"; it is not a blank)."""
    empty = sum(v is None for v in g.row.values)
    return len(_DASH_TOKEN.findall(g.row.snippet)) >= empty


def _comparable(ctx: AuditContext, f: Fact, g: Figure) -> bool:
    """Whether a table figure measures what the sentence states. The economic classes of the 基本支出表
    (工资福利支出, 商品和服务支出, 公务接待费 …) count only the basic spending of 一般公共预算, so they
    measure a sentence's figure only where its section speaks of 基本支出; 三公 figures come from the
    三公 table."""
    if g.table.schema_name != "基本支出表" or not g.row.code:
        return True
    window = " ".join(ctx.snippet(n) for n in range(max(1, f.line - _CONTEXT_LINES), f.line + 1))
    return "基本支出" in window


# 决算数大于/小于/等于(调整/年初/全年)预算数, 决算数与预算数持平.
_CLAIM_RE = re.compile(
    r"决算数?(?:(大于|小于|等于|高于|低于|超过)|[与和](?:调整|年初|全年)?预算数?(持平|相等|一致))"
    r"(?:(?:调整|年初|全年)?预算数?)?"
)
_CLAIMS = {
    "大于": ">",
    "高于": ">",
    "超过": ">",
    "小于": "<",
    "低于": "<",
    "等于": "=",
    "持平": "=",
    "相等": "=",
    "一致": "=",
}
_RATE_RE = re.compile(r"完成(?:了)?(?:调整|年初|全年)?预算(?:数)?的?\s*(\d+(?:\.\d+)?)\s*%")
_BUDGET_RE = re.compile(r"预算(?:数)?(?:为|是)?\s*(\d[\d,]*(?:\.\d+)?)\s*(万元|元)")
_ACTUAL_RE = re.compile(r"决算(?:数)?(?:为|是)?\s*(\d[\d,]*(?:\.\d+)?)\s*(万元|元)")
_SENTENCE_END = re.compile(r"[。！？]")


def _relation(window: str) -> tuple[str, str] | None:
    """The relation of 决算 to 预算 the numbers before a claim show (from the last rate or the amounts)."""
    rates = list(_RATE_RE.finditer(window))
    if rates:
        rate = Decimal(rates[-1].group(1))
        if rate == 100:
            return "=", f"完成预算{rates[-1].group(1)}%"
        return ("<" if rate < 100 else ">"), f"完成预算{rates[-1].group(1)}%"
    budgets, actuals = list(_BUDGET_RE.finditer(window)), list(_ACTUAL_RE.finditer(window))
    if budgets and actuals:
        b, a = budgets[-1], actuals[-1]
        if b.group(2) != a.group(2):
            return None
        bv, av = Decimal(b.group(1).replace(",", "")), Decimal(a.group(1).replace(",", ""))
        rel = "=" if av == bv else "<" if av < bv else ">"
        return rel, f"预算{b.group(1)}{b.group(2)}，决算{a.group(1)}{a.group(2)}"
    return None


def check_comparisons(ctx: AuditContext) -> Iterator[Finding]:
    """决算数大于/小于/等于(持平)预算数 against the execution rate (完成预算 x%) or the two amounts stated
    in the same or the previous sentence. A 100% that may be rounded is not held against 大于/小于."""
    for para in ctx.paragraphs:
        text = para.text
        for m in _CLAIM_RE.finditer(text):
            claim = _CLAIMS[m.group(1) or m.group(2)]
            ends = [e.end() for e in _SENTENCE_END.finditer(text, 0, m.start())]
            start = ends[-2] if len(ends) >= 2 else 0  # the previous sentence and this one
            found = _relation(text[start : m.start()])
            if found is None:
                continue
            actual, evidence = found
            if actual == claim:
                continue
            if evidence.startswith("完成") and (actual == "=" or claim == "=" and _near_100(evidence)):
                continue  # 100% or 99.9%: a rounded rate proves no direction
            line, page = para.where(m.start())
            words = {">": "大于", "<": "小于", "=": "等于"}
            yield Finding(
                rule="narrative.comparison",
                severity="error",
                doc=ctx.report.doc,
                page=page,
                line=line,
                message=f"正文称决算数{words[claim]}预算数，但{evidence}（决算数{words[actual]}预算数）",
                values=[],
                snippet=ctx.snippet(line),
            )


def _near_100(evidence: str) -> bool:
    rate = Decimal(re.findall(r"(\d+(?:\.\d+)?)%", evidence)[-1])
    return abs(rate - 100) < Decimal("0.5")


# (what a change is measured against, the change, its rate): 比上年 and 比预算.
_CHANGES = (("比上年增减", "增长率"), ("比预算增减", "比预算增减率"))


def change_statements(ctx: AuditContext) -> Iterator[tuple[Fact, Fact, Fact]]:
    """(amount A, change Δ, rate r) of the same metric stated in one sentence, money and a percentage."""
    by_sentence: dict[tuple[str, str], dict[str, Fact]] = {}
    for f in ctx.facts:
        if f.source == "narrative" and f.qualifier:
            by_sentence.setdefault((f.snippet, f.metric), {}).setdefault(f.qualifier, f)
    for q in by_sentence.values():
        base = q.get("决算数") or q.get("预算数")
        for change, rate in _CHANGES:
            d, r = q.get(change), q.get(rate)
            if (
                base is not None
                and d is not None
                and r is not None
                and unit_kind(base.unit) == "money"
                and r.unit == "%"
            ):
                yield base, d, r


def check_changes(ctx: AuditContext) -> Iterator[Finding]:
    """A sentence's 增加/减少 Δ and 增长/下降 r% against its own amount A: r = Δ / (A − Δ) × 100, with A, Δ
    and r each allowed the rounding of their last digit (so 0.54万元, −0.04万元, −6.90% agree)."""
    for base, d, r in change_statements(ctx):
        bounds = _rate_bounds(base, d)
        half = quantum_yuan(r.value, "元") / 2
        if bounds == "new" or bounds is not None and bounds[0] - half <= r.value <= bounds[1] + half:
            continue  # (a new item, nothing the year before: its rate is whatever the report says)
        expected = "无法成立（由此推出的比较数为负）" if bounds is None else f"应约为 {show(_mid(bounds))}%"
        yield Finding(
            rule="narrative.change",
            severity="error",
            doc=ctx.report.doc,
            page=r.page,
            line=r.line,
            message=(
                f"正文：{base.label} {show(base.value)}{base.unit}，增减 {show(d.value)}{d.unit}，"
                f"所述变动率 {show(r.value)}% {expected}"
            ),
            values=[_fact_value(base), _fact_value(d), _fact_value(r)],
            snippet=ctx.snippet(r.line),
        )


def _rate_bounds(base: Fact, d: Fact) -> tuple[Decimal, Decimal] | Literal["new"] | None:
    """The range of Δ / (A − Δ) × 100 over the rounding of A and Δ; "new" when the earlier figure A − Δ
    is 0 (within rounding); None when it is negative (the figures cannot all be right)."""
    a, dd = to_yuan(base.value, base.unit), to_yuan(d.value, d.unit)
    if a is None or dd is None:
        return "new"  # not money: nothing to say
    qa, qd = quantum_yuan(base.value, base.unit) / 2, quantum_yuan(d.value, d.unit) / 2
    if abs(a - dd) <= qa + qd:
        return "new"
    rates = []
    for x in (a - qa, a + qa):
        for y in (dd - qd, dd + qd):
            if x - y <= 0:
                return None
            rates.append(y / (x - y) * 100)
    return min(rates), max(rates)


def _mid(bounds: tuple[Decimal, Decimal]) -> Decimal:
    return ((bounds[0] + bounds[1]) / 2).quantize(Decimal("0.01"))
