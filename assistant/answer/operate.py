"""Operate: one function per operation, chosen from a table, each giving its figures and derivation.

All arithmetic is exact Decimal on stored facts; the inputs of every computed value are shown in
the answer's ``derivation``. The wording is compose.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from assistant.answer import compose as say
from assistant.answer.compose import citation_of, round2, value_of
from assistant.answer.scope import missing_scope_note, twin_index, twin_note, twins
from assistant.answer.select import DERIVED, FactSelector
from assistant.models import Answer, AnswerValue, Citation, Fact, Query, Report
from assistant.parse.lexicon import COMPONENTS

# For a metric named as a column (基本支出 …), the row whose column holds the department's total.
EXPENSE_TOTAL = "本年支出合计"


@dataclass
class Context:
    """What operations read: the fact selector, whether the question left the department open, and
    the report's explanation of a figure (a passage; None when the retrieval index is not built)."""

    select: FactSelector
    department_unspecified: Callable[[Query], bool]
    reason: Callable[[str, int, str], Citation | None]


Operation = Callable[[Context, Query, list[Report]], Answer]


def _computed(
    q: Query, values: list[AnswerValue], cits: list[Citation], lines: list[str], der: list[str]
) -> Answer:
    return Answer(
        question=q.text, kind="computed", text="\n".join(lines), values=values, citations=cits, derivation=der
    )


def value(ctx: Context, q: Query, reports: list[Report]) -> Answer:
    """The figure of the metric in each report (and, for 比上年, its stated change and reason)."""
    sel = ctx.select
    lines: list[str] = []
    values: list[AnswerValue] = []
    citations: list[Citation] = []
    derivation: list[str] = []
    kind = "lookup"
    pairs = twin_index(sel.catalog.of(q.departments))
    for r in reports:
        if q.year is not None and r.year != q.year:
            found = sel.stated_change(q.metric, r)
            if found is None:
                continue
            base, change = found
            prev = base.value - change.value
            values.append(value_of(base, prev, metric=q.metric, qualifier=q.qualifier or "预算数"))
            values[-1].year = q.year
            citations += [citation_of(base), citation_of(change)]
            derivation.append(say.previous_year_derivation(q.year, r.year, base, change, prev))
            lines.append(say.previous_year(r.department, q.year, q.metric, prev, base.unit, r.year))
            kind = "computed"
            continue
        facts = sel.best(q, r, sel.candidates(q, r))
        if not facts:
            continue
        best = sel.precise(q, r, facts[0])
        values.append(value_of(best))
        citations.append(citation_of(best))
        lines.append(say.fact_sentence(r, best, facts))
        for twin in twins(r, pairs):  # the other scope's figure, when it differs (scope.py)
            note = twin_note(best, r, twin, next(iter(sel.best(q, twin, sel.candidates(q, twin))), None))
            if note:
                lines.append(note)
        if q.operation == "change":
            ch = sel.changes(q.metric, r)
            for f in ch[:2]:
                values.append(value_of(f))
                citations.append(citation_of(f))
                lines.append(say.change_line(f))
            across = None if ch else year_on_year(ctx, q, r, best)
            if across is not None:
                values += across[0]
                citations += across[1]
                lines.append(across[2])
                derivation.append(across[3])
                kind = "computed"
            elif not ch:
                lines.append(say.NO_CHANGE_STATED)
            # The report's own explanation of the change (主要原因是…), when it gives one.
            why = ctx.reason(r.doc, (ch[0] if ch else best).line, q.metric or best.metric)
            if why is not None:
                citations.append(why)
                lines.append(say.reason_line(why.snippet))
    if not values:
        return say.not_found(q, say.coverage(sel.catalog.of(q.departments)))
    text = "\n".join(lines)
    if (scope_note := missing_scope_note(reports, q.scope)) is not None:  # 单位 asked, only 部门 here
        text = f"{scope_note}\n{text}"
    if len({r.department for r in reports}) > 1 and ctx.department_unspecified(q):
        text = say.unspecified(text)
    return Answer(
        question=q.text, kind=kind, text=text, values=values, citations=citations, derivation=derivation
    )


def year_on_year(
    ctx: Context, q: Query, r: Report, cur: Fact
) -> tuple[list[AnswerValue], list[Citation], str, str] | None:
    """The change against last year from the same department's report of the year before (2025
    against 2024): the difference and the rate, exactly; None without such a report or figure."""
    if r.year is None:
        return None
    before = [
        p
        for p in ctx.select.catalog.of([r.department] if r.department else [])
        if p.year == r.year - 1 and p.kind == r.kind and p.doc != r.doc
    ]
    for p in before:
        prev = ctx.select.first(q.model_copy(update={"year": p.year}), p, cur.metric)
        if prev is None:
            continue
        same = _in_one_unit([cur, prev])
        if same is None:
            continue
        unit, (now, then) = same
        diff = now - then
        pct = round2(diff / then * 100) if then else None
        vals = [value_of(cur, diff, unit=unit, metric=f"{cur.metric}比上年增减", qualifier="比上年增减")]
        if pct is not None:
            vals.append(value_of(cur, pct, unit="%", metric=f"{cur.metric}增长率", qualifier="增长率"))
        text, der = say.year_on_year(cur, prev, p, diff, unit, pct)
        return vals, [citation_of(cur), citation_of(prev)], text, der
    return None


def _over_pairs(
    ctx: Context,
    q: Query,
    reports: list[Report],
    step: Callable[[Report, Fact, Fact], tuple[AnswerValue, str, str] | None],
) -> Answer | None:
    """A computed answer from each report's (预算数, 决算数) pair of the metric; None when no pair.

    ``step(report, budget, final)`` gives (value, sentence, derivation) or None to skip the report.
    """
    values, cits, lines, der = [], [], [], []
    for r in reports:
        b, f = ctx.select.pair(r, q.metric)
        if b is None or f is None:
            continue
        out = step(r, b, f)
        if out is None:
            continue
        values.append(out[0])
        cits += [citation_of(f), citation_of(b)]
        lines.append(out[1])
        der.append(out[2])
    return _computed(q, values, cits, lines, der) if values else None


def rate(ctx: Context, q: Query, reports: list[Report]) -> Answer:
    """执行率 = 决算数 ÷ 预算数 × 100%."""

    def step(r: Report, b: Fact, f: Fact) -> tuple[AnswerValue, str, str] | None:
        if not b.value:
            return None
        pct = (
            round2(f.value_yuan / b.value_yuan * 100)
            if b.value_yuan and f.value_yuan is not None
            else round2(f.value / b.value * 100)
        )
        text, der = say.rate(r, q.metric, b, f, pct)
        return value_of(f, pct, unit="%", metric=f"{q.metric}执行率", qualifier="执行率"), text, der

    return _over_pairs(ctx, q, reports, step) or say.not_found(q, say.NO_PAIR)


def budget_gap(ctx: Context, q: Query, reports: list[Report]) -> Answer:
    """预算数 − 决算数 of one metric (比预算少/多多少)."""

    def step(r: Report, b: Fact, f: Fact) -> tuple[AnswerValue, str, str] | None:
        if b.unit != f.unit:
            return None
        gap = b.value - f.value
        text, der = say.budget_gap(r, q.metric, b, f, gap)
        return value_of(f, gap, metric=f"{q.metric}预算与决算之差", qualifier="差额"), text, der

    return _over_pairs(ctx, q, reports, step) or value(ctx, q, reports)


def share(ctx: Context, q: Query, reports: list[Report]) -> Answer:
    """The part's share of the whole the question names (default: the year's total expenditure)."""
    sel = ctx.select
    num_metric = q.metric
    den_metric = next((t for t in q.metric_terms if t != num_metric), EXPENSE_TOTAL)
    if den_metric in ("支出预算", "本年支出合计", "支出总计") or "支出" in den_metric and "总" in den_metric:
        den_metric = EXPENSE_TOTAL
    whole_q = q.model_copy(update={"column": None})
    values, cits, lines, der = [], [], [], []
    missing: set[str] = set()
    for r in reports:
        num = sel.best(q, r, sel.candidates(q, r, num_metric))
        den = sel.best(whole_q, r, sel.candidates(whole_q, r, den_metric))
        if not num or not den:
            missing.update(m for m, found in ((num_metric or "", num), (den_metric, den)) if not found)
            continue
        n, d = num[0], den[0]
        ny, dy = n.value_yuan or n.value, d.value_yuan or d.value
        if not dy:
            continue
        pct = round2(ny / dy * 100)
        values.append(value_of(n, pct, unit="%", metric=f"{num_metric}占{den_metric}比重", qualifier="占比"))
        cits += [citation_of(n), citation_of(d)]
        text, d_text = say.share(r, num_metric or "", den_metric, n, d, pct)
        lines.append(text)
        der.append(d_text)
    if not values:
        return say.not_found(q.model_copy(update={"metric": None}), say.missing_inputs(missing))
    return _computed(q, values, cits, lines, der)


def _in_one_unit(facts: list[Fact]) -> tuple[str, list[Decimal]] | None:
    """The facts' amounts in their shared unit, or in 元 when they differ; None when they do not convert."""
    units = {f.unit for f in facts}
    if len(units) == 1:
        return facts[0].unit, [f.value for f in facts]
    if all(f.value_yuan is not None for f in facts):
        return "元", [f.value_yuan or Decimal(0) for f in facts]
    return None


def total(ctx: Context, q: Query, reports: list[Report]) -> Answer:
    """公务接待费和差旅费一共多少: each named item's fact, added up exactly."""
    values, cits, lines, der = [], [], [], []
    for r in reports:
        parts = [(m, ctx.select.first(q, r, m)) for m in q.metric_terms]
        found = [(m, f) for m, f in parts if f is not None]
        if len(found) < len(parts):
            continue
        facts = [f for _, f in found]
        same = _in_one_unit(facts)
        if same is None:
            continue
        unit, amounts = same
        value_ = sum(amounts, Decimal(0))
        names = "、".join(m for m, _ in found)
        values.append(value_of(facts[0], value_, unit=unit, metric=f"{names}合计", qualifier="合计"))
        cits += [citation_of(f) for f in facts]
        text, d_text = say.total(r, names, found, value_, unit)
        lines.append(text)
        der.append(d_text)
    if not values:
        return say.not_found(q, say.NO_ADDENDS)
    return _computed(q, values, cits, lines, der)


def parts(ctx: Context, q: Query, reports: list[Report]) -> Answer:
    """三公经费各项 / 卫生健康支出有哪些: the parts of a total, each with its figure."""
    sel = ctx.select
    values, cits, lines = [], [], []
    for r in reports:
        head = sel.first(q, r, q.metric or "")
        if head is None:
            continue
        coded = [f for f in sel.best(q, r, sel.candidates(q, r)) if f.code]
        head = coded[0] if coded else head
        if head.code:
            kids = [
                f
                for f in sel.doc_facts(r.doc)
                if f.code
                and f.code[:-2] == head.code
                and f.table_id == head.table_id
                and f.qualifier == head.qualifier
            ]
            items: list[tuple[str, Fact | None]] = [(f.metric, f) for f in sorted(kids, key=lambda f: f.line)]
        else:
            items = [(m, sel.first(q, r, m)) for m in COMPONENTS.get(q.metric or "", ())]
        lines.append(say.fact_sentence(r, head, [head]))
        values.append(value_of(head))
        cits.append(citation_of(head))
        for m, f in items:
            if f is None:
                continue
            lines.append(say.part_line(m, f))
            values.append(value_of(f))
            cits.append(citation_of(f))
    if not values:
        return say.not_found(q, say.coverage(sel.catalog.of(q.departments)))
    return Answer(question=q.text, kind="lookup", text="\n".join(lines), values=values, citations=cits)


def metric_difference(ctx: Context, q: Query, reports: list[Report]) -> Answer | None:
    """A比B多多少 for two metrics of one report: A − B, exactly; None when the question names one."""
    named = list(dict.fromkeys(q.metric_terms))
    if len(named) < 2:
        return None
    a, b = named[:2]
    # Each side is its own metric: 项目支出比基本支出 names two columns, neither is a column of the other.
    side = q.model_copy(update={"column": None, "metric_terms": []})
    values, cits, lines, der = [], [], [], []
    for r in reports:
        fa, fb = ctx.select.first(side, r, a), ctx.select.first(side, r, b)
        if fa is None or fb is None:
            continue
        same = _in_one_unit([fa, fb])
        if same is None:
            continue
        unit, (va, vb) = same
        diff = va - vb
        values.append(value_of(fa, diff, unit=unit, metric=f"{a}与{b}之差", qualifier="差额"))
        cits += [citation_of(fa), citation_of(fb)]
        text, d_text = say.metric_difference(r, (a, fa), (b, fb), diff, unit)
        lines.append(text)
        der.append(d_text)
    return _computed(q, values, cits, lines, der) if values else None


def difference(ctx: Context, q: Query, reports: list[Report]) -> Answer:
    """相差多少: two metrics of one report, one metric of two departments, or 预算 against 决算."""
    if len(q.departments) <= 1:
        return metric_difference(ctx, q, reports) or budget_gap(ctx, q, reports)
    return department_difference(ctx, q, reports)


def department_difference(ctx: Context, q: Query, reports: list[Report]) -> Answer:
    """One metric of two departments, in 元 when the units differ."""
    firsts = [(r, ctx.select.first(q, r, q.metric or "")) for r in reports]
    got = [(r, f) for r, f in firsts if f is not None and f.value_yuan is not None]
    if len(got) < 2:
        return value(ctx, q, reports)
    (ra, fa), (rb, fb) = got[0], got[1]
    diff = (fa.value_yuan or Decimal(0)) - (fb.value_yuan or Decimal(0))
    text, der = say.department_difference(q.metric, ra, fa, rb, fb, diff)
    return Answer(
        question=q.text,
        kind="computed",
        text=text,
        values=[
            value_of(fa, abs(diff), unit="元", metric=f"{q.metric}差额", qualifier="差额"),
            value_of(fa),
            value_of(fb),
        ],
        citations=[citation_of(fa), citation_of(fb)],
        derivation=[der],
    )


def rank(ctx: Context, q: Query, reports: list[Report]) -> Answer:
    """哪个最高/最低: the departments ordered by the metric (in 元)."""
    sel = ctx.select
    rows: list[tuple[Decimal, Fact, Report]] = []
    # One query for every department's facts of the metric (not one per report).
    every = sel.metric_of_all(
        q.metric, None if len(reports) == sel.catalog.count() else [r.doc for r in reports]
    )
    by_doc: dict[str, list[Fact]] = {}
    for f in every:
        by_doc.setdefault(f.doc, []).append(f)
    for r in reports:
        own = [f for f in by_doc.get(r.doc, []) if f.qualifier not in DERIVED]
        if q.column:
            own = [f for f in own if f.qualifier == q.column]
        facts = sel.best(q, r, own or sel.candidates(q, r))
        facts = [f for f in facts if f.value_yuan is not None or f.unit not in ("元", "万元")]
        if facts:
            f = facts[0]
            rows.append((f.value_yuan if f.value_yuan is not None else f.value, f, r))
    if not rows:
        return say.not_found(q, say.coverage(sel.catalog.of(q.departments)))
    rows.sort(key=lambda t: (t[0], t[2].doc), reverse=q.operation != "rank_min")
    text, der = say.ranking(q, rows)
    return Answer(
        question=q.text,
        kind="computed",
        text=text,
        values=[value_of(f) for _, f, _ in rows],
        citations=[citation_of(f) for _, f, _ in rows],
        derivation=[der],
    )


# Query.operation → the function that answers it ("text" questions go to passages, not here).
OPERATIONS: dict[str, Operation] = {
    "value": value,
    "change": value,
    "rate": rate,
    "share": share,
    "sum": total,
    "difference": difference,
    "list": parts,
    "rank_max": rank,
    "rank_min": rank,
    "compare": rank,
}
