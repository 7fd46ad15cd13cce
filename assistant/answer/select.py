"""Select: the facts of the store that fill a query's slots, best first.

Everything here reads; nothing computes or words an answer (operate.py and compose.py do).
"""

from __future__ import annotations

import re
import sqlite3
from decimal import Decimal

from assistant.answer.catalog import ReportCatalog
from assistant.answer.coverage import COMPATIBLE
from assistant.answer.scope import choose_scope
from assistant.models import Fact, Query, Report
from assistant.store.db import query_facts, query_mentions

TOTAL_LABELS = ("合计", "总计")
# Qualifiers of derived figures: never the value asked for unless the metric itself is one of them.
DERIVED = ("比上年增减", "增长率", "占比", "执行率")
# A sentence's change of a metric named short ("收入增加", "支出总计减少"), within a few lines of its figure.
CHANGE_PHRASE = re.compile(r"^(.{1,10}?)(增加|减少|增长|下降)$")
CHANGE_LINES = 8


def _in_column_table(f: Fact, column: str) -> bool:
    """The fact is a row of the table of ``column`` (公务接待费 in the 基本支出表): the table's name says
    so, or, for 基本支出, the row is an economic classification item (codes 301…399), which the
    standard tables list by economic class only for 基本支出."""
    if f.source != "table":
        return False
    if f.table_id and column in f.table_id:
        return True
    return column == "基本支出" and f.code is not None and len(f.code) >= 3 and f.code.startswith("3")


class FactSelector:
    """Facts for a query's metric, column and report, and the choice among them."""

    def __init__(self, con: sqlite3.Connection, catalog: ReportCatalog) -> None:
        self.con = con
        self.catalog = catalog

    def reports_for(self, q: Query) -> list[Report]:
        """The reports a query is about: its departments, 预算/决算 and year."""
        reps = choose_scope(self.catalog.of(q.departments), q.scope)  # 部门 or 单位 twin (answer.scope)
        if q.kind:
            reps = [r for r in reps if r.kind == q.kind]
        if q.year is not None:
            same = [r for r in reps if r.year == q.year]
            if same:
                return same
            # Another year may still be answerable from a report's stated change (比2024年预算减少…).
            return [r for r in reps if r.year is not None and r.year == q.year + 1 and self.has_change(r, q)]
        if q.operation == "change" and reps:
            # 比上年增长多少 without a year: the latest report of each department, against the one before.
            latest: dict[str | None, Report] = {}
            for r in reps:
                if r.department not in latest or (r.year or 0) > (latest[r.department].year or 0):
                    latest[r.department] = r
            reps = [r for r in reps if latest[r.department] is r]
        return reps

    def has_change(self, r: Report, q: Query) -> bool:
        """The report states the metric's change against last year."""
        return (
            any(f.qualifier == "比上年增减" for f in self.metric_facts(q.metric, [r.doc]))
            or self.stated_change(q.metric, r) is not None
        )

    def metric_facts(self, metric: str | None, docs: list[str]) -> list[Fact]:
        """Facts of ``metric`` (its canonical name, else a label or metric ending with it) in ``docs``."""
        if not metric:
            return []
        facts = query_facts(self.con, metric=metric, docs=docs)
        if not facts:
            facts = [
                f
                for f in query_facts(self.con, metric=metric, docs=docs, like=True)
                if f.label.endswith(metric) or f.metric.endswith(metric)
            ]
        return facts

    def doc_facts(self, doc: str) -> list[Fact]:
        """Every fact of one report."""
        return query_facts(self.con, docs=[doc])

    def column_facts(self, column: str, docs: list[str]) -> list[Fact]:
        """The department-level figure of a column (基本支出 …): its value in a table's 合计 row."""
        return [
            f
            for f in query_facts(self.con, docs=docs, qualifier=column)
            if f.code is None and f.label.replace(" ", "") in TOTAL_LABELS
        ]

    def candidates(self, q: Query, r: Report, metric: str | None = None) -> list[Fact]:
        """The facts that could answer ``metric`` (default: the query's) in report ``r``."""
        metric = metric or q.metric
        facts = self.metric_facts(metric, [r.doc])
        if q.column:
            by_col = [f for f in facts if f.qualifier == q.column] or [
                f for f in facts if _in_column_table(f, q.column)
            ]
            facts = by_col or [f for f in self.metric_facts(q.column, [r.doc]) if f.source == "narrative"]
        elif q.operation in ("value", "change"):
            # 卫生健康支出取得的收入合计: another name of the question is a column of this metric's row.
            named = [
                f for f in facts if f.qualifier and f.qualifier != metric and f.qualifier in q.metric_terms
            ]
            facts = named or facts
        if not facts and metric:
            facts = self.column_facts(metric, [r.doc])
        return [f for f in facts if f.qualifier not in DERIVED or metric in ("执行率",)]

    def best(self, q: Query, r: Report, facts: list[Fact]) -> list[Fact]:
        """Facts ordered from the best answer to the worst for this query."""
        want = q.qualifier or ("决算数" if r.kind == "决算" else "预算数" if r.kind == "预算" else None)
        asks_income = "收入" in q.text
        accept = COMPATIBLE.get(q.expected_unit or "")

        def score(f: Fact) -> tuple[int, ...]:
            qual = f.qualifier or ""
            side = 0
            if want and want in qual:
                side = 3
            elif want and want[:2] in qual:
                side = 2
            elif qual in ("", "金额") or qual.endswith("合计") or qual == "合计":
                side = 2 if not (want and want != ("决算数" if r.kind == "决算" else "预算数")) else 0
            elif q.column and qual == q.column:
                side = 3
            year_ok = 1 if (f.year == (q.year or r.year)) else 0
            clean = 0 if ("column_uncertain" in f.flags or "check_failed" in f.flags) else 1
            exact = 1 if f.metric == q.metric else 0
            nocode = 1 if not f.code else 0
            table = 1 if f.source == "table" else 0
            # An expenditure item (…支出, or a function-classification code 2xx) is read in an expenditure
            # table, not in the 收入表 that lists income by the same codes, unless income is asked for.
            spent = f.metric.endswith("支出") or (f.code or "").startswith("2")
            flow = 0 if (spent and "收入" in qual and not asks_income) else 1
            # 多少件 asks for the count of a row that also states its value (其他固定资产 130件, 49.90万元).
            unit_ok = 1 if accept is None or f.unit in accept else 0
            return (year_ok, unit_ok, flow, side, exact, clean, nocode, table, -f.line)

        return sorted(facts, key=score, reverse=True)

    def precise(self, q: Query, r: Report, best: Fact) -> Fact:
        """A table fact stating the same amount more precisely than a rounded narrative figure
        (1,159.81万元 in a sentence, 11,598,130.25元 in 公开01表), when one is related to the query.

        A bare 合计/总计 row is related only through its column: "合计" is part of 本年支出合计, but the
        收入表's 合计 row is not the expenditure total even when the amounts agree."""
        if best.source != "narrative" or best.value_yuan is None or best.unit != "万元":
            return best
        exp = best.value.as_tuple().exponent
        quantum = Decimal(10000) * (Decimal(1).scaleb(exp) if isinstance(exp, int) else 1)
        metric = q.metric or ""
        related = [
            f
            for f in self.doc_facts(r.doc)
            if f.source == "table"
            and f.value_yuan is not None
            and "column_uncertain" not in f.flags
            and f.unit == "元"
            and abs(f.value_yuan - best.value_yuan) <= quantum / 2
            and (
                f.qualifier == metric
                or (
                    f.metric not in TOTAL_LABELS
                    and (metric in f.label or metric in f.metric or f.metric in metric)
                )
            )
        ]
        return min(related, key=lambda f: (f.code is not None, f.line)) if related else best

    def first(self, q: Query, r: Report, metric: str) -> Fact | None:
        """The best fact of ``metric`` in ``r`` (made precise), or None."""
        facts = self.best(q, r, self.candidates(q, r, metric))
        return self.precise(q.model_copy(update={"metric": metric}), r, facts[0]) if facts else None

    def pair(self, r: Report, metric: str | None) -> tuple[Fact | None, Fact | None]:
        """(预算数 fact, 决算数 fact) of a metric in one report."""
        facts = self.metric_facts(metric, [r.doc])
        budget = [f for f in facts if f.qualifier and "预算" in f.qualifier and "年初" not in f.qualifier]
        final = [f for f in facts if f.qualifier and ("决算" in f.qualifier or "执行" in f.qualifier)]
        key = lambda f: (0 if "column_uncertain" in f.flags else 1, 1 if f.source == "table" else 0, -f.line)  # noqa: E731
        return (max(budget, key=key) if budget else None, max(final, key=key) if final else None)

    def changes(self, metric: str | None, r: Report) -> list[Fact]:
        """The report's stated changes of ``metric`` against last year (amount, rate)."""
        return [f for f in self.metric_facts(metric, [r.doc]) if f.qualifier in ("比上年增减", "增长率")]

    def stated_change(self, metric: str | None, r: Report) -> tuple[Fact, Fact] | None:
        """(this year's figure, its stated change against last year) in ``r``, or None.

        The change is a 比上年增减 fact; the figure is the report's own one of the same metric and unit
        on its side (预算数 in a budget, 决算数 in a final account), the nearest stated before the change
        ("基本支出394.53万元 … 其中：基本支出增加2.64万元" may be lines apart)."""
        facts = self.metric_facts(metric, [r.doc])
        changes = [f for f in facts if f.qualifier == "比上年增减"]
        side = "决算数" if r.kind == "决算" else "预算数"
        base = [
            f
            for f in facts
            if f.qualifier not in DERIVED
            and f.qualifier in (side, None, "合计", "金额")
            and "column_uncertain" not in f.flags
        ]
        for ch in sorted(changes, key=lambda f: (f.source != "narrative", f.line)):
            same = [b for b in base if b.unit == ch.unit]
            if same:
                return min(same, key=lambda b: (b.line > ch.line, abs(ch.line - b.line))), ch
        for b in sorted(base, key=lambda f: (f.source != "narrative", f.line)):
            stated = self.mentioned_change(b, r)
            if stated is not None:
                return b, stated
        return None

    def mentioned_change(self, base: Fact, r: Report) -> Fact | None:
        """The change against last year a sentence right after ``base`` states with a short name of
        its metric ("2020 年度收入总计 1592.01 万元 … 与 2019 年相比，收入增加 417.30 万元，增长 35.52%"),
        as a 比上年增减 fact; None unless exactly one fits, and when the sentence also states the
        growth rate, only if the rate agrees with change ÷ (figure − change)."""
        if r.year is None:
            return None
        found = []
        mentions = [
            m for m in query_mentions(self.con, [base.doc]) if base.line < m.line <= base.line + CHANGE_LINES
        ]
        for m in mentions:
            g = CHANGE_PHRASE.match(m.phrase.replace(" ", ""))
            snippet = m.snippet.replace(" ", "")
            if (
                g is None
                or m.unit != base.unit
                or not re.search(rf"(与|比|较)(上年|{r.year - 1}年)", snippet)
            ):
                continue
            subject = g.group(1)
            if len(subject) < 2 or not (
                base.metric.startswith(subject) or base.label.replace(" ", "").startswith(subject)
            ):
                continue
            signed = -m.value if g.group(2) in ("减少", "下降") else m.value
            prev = base.value - signed
            rate = next(
                (
                    x
                    for x in mentions
                    if x.line == m.line
                    and x.unit in ("%", "％")
                    and x.snippet == m.snippet
                    and x.phrase.replace(" ", "") in ("增长", "增加", "下降", "减少")
                ),
                None,
            )
            if rate is not None and prev != 0:
                exp = rate.value.as_tuple().exponent
                quantum = Decimal(1).scaleb(exp) if isinstance(exp, int) else Decimal(1)
                if (abs(signed) / prev * 100).quantize(quantum) != rate.value:
                    continue
            found.append(
                Fact(
                    doc=base.doc,
                    department=base.department,
                    year=base.year,
                    kind=base.kind,
                    metric=base.metric,
                    label=m.phrase,
                    qualifier="比上年增减",
                    value=signed,
                    unit=m.unit,
                    source="narrative",
                    line=m.line,
                    line_end=m.line,
                    page=m.page,
                    snippet=m.snippet,
                )
            )
        return found[0] if len(found) == 1 else None

    def metric_of_all(self, metric: str | None, docs: list[str] | None) -> list[Fact]:
        """Facts of ``metric`` over ``docs`` (every report when None), in one query."""
        return query_facts(self.con, metric=metric, docs=docs)
