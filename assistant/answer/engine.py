"""The answering engine: question (+ session) → Answer. Used by `ask`, the REPL and `eval`.

Numbers come only from stored facts or exact Decimal arithmetic on them. Questions that are not
numeric go to retrieval (loaded lazily, so numeric answers never wait for the embedding model).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from assistant.answer.compose import citation_of, fmt, money_text, round2, value_of, where
from assistant.answer.scope import (
    choose_scope,
    cited_docs,
    list_copies,
    missing_scope_note,
    twin_index,
    twin_note,
    twins,
)
from assistant.answer.session import Session
from assistant.answer.understand import RELATIVE_YEARS, understand
from assistant.config import Settings
from assistant.models import Answer, AnswerValue, Fact, Query, Report
from assistant.parse.lexicon import COMPONENTS
from assistant.store.db import copies_of, load_reports, open_store, query_facts
from assistant.store.vocabulary import fold, open_vocabulary

TOTAL_LABELS = ("合计", "总计")
# For a metric named as a column (基本支出 …), the row whose column holds the department's total.
EXPENSE_TOTAL = "本年支出合计"


class Engine:
    """Answers questions from the built index under settings.index_dir."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.con = open_store(settings.index_dir)
        # Nothing is loaded up front (reports, names): opening costs the same for 7 reports as for 5,000.
        self.vocab = open_vocabulary(self.con)
        self._all: list[Report] | None = None
        self._by_doc: dict[str, Report | None] = {}
        self._by_departments: dict[tuple[str, ...], list[Report]] = {}
        self._n_reports: int | None = None
        self._retrieval: Any = None
        self.retrieval_note: str | None = None

    # ----- public API -----
    def reports(self) -> list[Report]:
        """Reports in the index."""
        if self._all is None:
            self._all = load_reports(self.con)
            self._by_doc.update((r.doc, r) for r in self._all)
        return list(self._all)

    def report(self, doc: str) -> Report | None:
        """The report of file ``doc``, or None."""
        if doc not in self._by_doc:
            found = load_reports(self.con, docs=[doc])
            self._by_doc[doc] = found[0] if found else None
        return self._by_doc[doc]

    def _reports_of(self, departments: list[str]) -> list[Report]:
        """Reports of ``departments`` (all reports when none is named), in file-name order."""
        if not departments:
            return self.reports()
        # One question asks several times (its reports, the not-found coverage, retrieval filters): read once.
        key = tuple(departments)
        if key not in self._by_departments:
            found = self._by_departments[key] = load_reports(self.con, departments=departments)
            self._by_doc.update((r.doc, r) for r in found)
        return list(self._by_departments[key])

    def _report_count(self) -> int:
        if self._n_reports is None:
            self._n_reports = self.con.execute("SELECT count(*) FROM reports").fetchone()[0]
        return self._n_reports

    def facts(self, metric: str | None = None, doc: str | None = None, year: int | None = None) -> list[Fact]:
        """Facts by metric (substring of metric or label), document and year."""
        return query_facts(self.con, doc=doc, metric=metric, year=year, like=True)

    def department_names(self) -> list[str]:
        """Department names and aliases, for completion."""
        return self.vocab.department_names()

    def metric_names(self) -> list[str]:
        """Metric names known to the store and the lexicon."""
        return self.vocab.metric_names()

    def ask(self, question: str, session: Session | None = None) -> Answer:
        """Answer one question; updates ``session`` for follow-ups."""
        session = session if session is not None else Session()
        text = " ".join(question.split())
        if not text or not any(ch.isalnum() for ch in text):
            return Answer(question=question, kind="clarify", text="请输入一个问题，例如：峨山县医保局2021年三公经费是多少？")
        query = self._with_context(understand(text, self.vocab), session)
        query, note = self._resolve_relative_year(query)
        answer = self._answer(query)
        answer = list_copies(answer, copies_of(self.con, cited_docs(answer)))  # byte-identical files (scope.py)
        if note:
            answer = answer.model_copy(update={"text": f"{note}\n{answer.text}"})
        session.last_query, session.last_answer = query, answer
        session.unknown_department = query.mentions_other or (session.unknown_department and not query.departments)
        if query.departments:
            session.departments = query.departments
        if query.year:
            session.year = query.year
        if query.metric:
            session.metric = query.metric
        return answer

    def named_departments(self, q: Query) -> dict[str, list[str]]:
        """The department names this question itself uses (not the conversation's), with their departments."""
        return self.vocab.aliases_in(fold(q.text))

    def _department_unspecified(self, q: Query) -> bool:
        """No department named, or only a name several share (医保局 → five bureaus)."""
        if not q.departments:
            return True
        named = self.named_departments(q)
        return bool(named) and all(len(depts) > 1 for depts in named.values())

    def _resolve_relative_year(self, q: Query) -> tuple[Query, str | None]:
        """去年/今年 against the year of the department's reports (the latest, when they cover several)."""
        if q.relative_year is None or q.year is not None:
            return q, None
        years = sorted({r.year for r in self._reports_of(q.departments) if r.year is not None})
        if not years:
            return q, None
        base = years[-1]
        year = base + RELATIVE_YEARS[q.relative_year]
        note = f"（“{q.relative_year}”按报告年度{base}年理解为{year}年。）"
        return q.model_copy(update={"year": year}), note

    # ----- understanding with context -----
    def _with_context(self, query: Query, session: Session) -> Query:
        upd: dict[str, Any] = {}
        follow_up = bool(session.last_query) and (
            query.text.rstrip("？?。 ").endswith("呢") or query.text.startswith(("那", "其中", "它", "他们"))
            or not query.departments
        )
        if follow_up and not query.departments and not query.mentions_other and session.unknown_department \
                and not session.pinned_department and query.operation != "text":
            # 那2024年呢 after 峨山县卫健局…: still the department the corpus lacks (names: not found).
            upd["mentions_other"] = True
        if not query.departments and not query.mentions_other:
            if session.pinned_department:
                upd["departments"] = [session.pinned_department]
            elif follow_up and session.departments:
                upd["departments"] = session.departments
        if query.year is None:
            if session.pinned_year:
                upd["year"] = session.pinned_year
            elif follow_up and session.year and (query.departments == session.departments or not query.departments):
                upd["year"] = session.year
        if query.metric is None and query.metric_terms and query.operation == "value":
            # Part of a metric's name: the candidate closest to the conversation's metric.
            ref = session.metric or ""
            upd["metric"] = max(query.metric_terms, key=lambda m: (len(set(m) & set(ref)), -query.metric_terms.index(m)))
        elif query.metric is None and follow_up and session.metric and query.operation != "text":
            upd["metric"] = session.metric
            if query.operation == "value" and session.last_query is not None and query.qualifier is None \
                    and query.column is None:
                upd["qualifier"] = session.last_query.qualifier
        if query.operation == "share" and follow_up and session.metric and len(query.metric_terms) == 1 \
                and query.metric != session.metric:
            # 占总支出多少？ after a value: the earlier metric is the part, the named one the whole.
            upd["metric"] = session.metric
            upd["metric_terms"] = [session.metric, *query.metric_terms]
        return query.model_copy(update=upd) if upd else query

    # ----- answering -----
    def _answer(self, q: Query) -> Answer:
        if q.mentions_other:
            return self._not_found(q, "语料中没有这个部门的报告")
        if q.clarify_departments and q.operation not in ("rank_max", "rank_min", "compare"):
            return Answer(question=q.text, kind="clarify",  # names.py: a tie between departments
                          text="这个名称可以指：" + "、".join(q.clarify_departments) + "。请说明是哪一个部门。")
        if q.operation == "text" or (q.metric is None and q.operation not in ("rank_max", "rank_min")):
            return self._retrieve(q)
        reports = self._reports_for(q)
        if not reports:
            return self._not_found(q, self._coverage(q))
        if q.operation in ("rank_max", "rank_min", "compare"):
            return self._rank(q, reports)
        if q.operation == "rate":
            return self._rate(q, reports)
        if q.operation == "share":
            return self._share(q, reports)
        if q.operation == "difference" and len(q.departments) <= 1:
            return self._budget_gap(q, reports)
        if q.operation == "difference":
            return self._dept_difference(q, reports)
        if q.operation == "sum":
            return self._sum(q, reports)
        if q.operation == "list":
            return self._list(q, reports)
        return self._value(q, reports)

    def _reports_for(self, q: Query) -> list[Report]:
        reps = choose_scope(self._reports_of(q.departments), q.scope)  # 部门 or 单位 twin (answer.scope)
        if q.kind:
            reps = [r for r in reps if r.kind == q.kind]
        if q.year is not None:
            same = [r for r in reps if r.year == q.year]
            if same:
                return same
            # Another year may still be answerable from a report's stated change (比2024年预算减少…).
            return [r for r in reps if r.year is not None and r.year == q.year + 1 and self._has_change(r, q)]
        return reps

    def _has_change(self, r: Report, q: Query) -> bool:
        return any(f.qualifier == "比上年增减" for f in self._metric_facts(q.metric, [r.doc]))

    def _metric_facts(self, metric: str | None, docs: list[str]) -> list[Fact]:
        if not metric:
            return []
        facts = query_facts(self.con, metric=metric, docs=docs)
        if not facts:
            facts = [f for f in query_facts(self.con, metric=metric, docs=docs, like=True)
                     if f.label.endswith(metric) or f.metric.endswith(metric)]
        return facts

    def _column_facts(self, column: str, docs: list[str]) -> list[Fact]:
        """The department-level figure of a column (基本支出 …): its value in a table's 合计 row."""
        return [f for f in query_facts(self.con, docs=docs, qualifier=column)
                if f.code is None and f.label.replace(" ", "") in TOTAL_LABELS]

    def _candidates(self, q: Query, r: Report, metric: str | None = None) -> list[Fact]:
        metric = metric or q.metric
        facts = self._metric_facts(metric, [r.doc])
        if q.column:
            by_col = [f for f in facts if f.qualifier == q.column]
            facts = by_col or [f for f in self._metric_facts(q.column, [r.doc]) if f.source == "narrative"]
        if not facts and metric:
            facts = self._column_facts(metric, [r.doc])
        return [f for f in facts if f.qualifier not in ("比上年增减", "增长率", "占比", "执行率")
                or metric in ("执行率",)]

    def _best(self, q: Query, r: Report, facts: list[Fact]) -> list[Fact]:
        """Facts ordered from the best answer to the worst for this query."""
        want = q.qualifier or ("决算数" if r.kind == "决算" else "预算数" if r.kind == "预算" else None)
        asks_income = "收入" in q.text

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
            return (year_ok, flow, side, exact, clean, nocode, table, -f.line)

        return sorted(facts, key=score, reverse=True)

    def _value(self, q: Query, reports: list[Report]) -> Answer:
        lines: list[str] = []
        values = []
        citations = []
        derivation: list[str] = []
        kind = "lookup"
        pairs = twin_index(self._reports_of(q.departments))
        for r in reports:
            facts = self._best(q, r, self._candidates(q, r))
            if q.year is not None and r.year != q.year:
                ans = self._from_change(q, r)
                if ans is None:
                    continue
                f, val, text = ans
                values.append(value_of(f, val, metric=q.metric, qualifier=q.qualifier or "预算数"))
                values[-1].year = q.year
                citations.append(citation_of(f))
                derivation.append(text)
                lines.append(f"{r.department}{q.year}年{q.metric}为{money_text(val, f.unit)}（由{r.year}年报告所述增减额推算）。")
                kind = "computed"
                continue
            if not facts:
                continue
            best = self._precise(q, r, facts[0])
            values.append(value_of(best))
            citations.append(citation_of(best))
            lines.append(self._sentence(r, best, facts))
            for twin in twins(r, pairs):  # the other scope's figure, when it differs (scope.py)
                note = twin_note(best, r, twin, next(iter(self._best(q, twin, self._candidates(q, twin))), None))
                if note:
                    lines.append(note)
            if q.operation == "change":
                ch = [f for f in self._metric_facts(q.metric, [r.doc]) if f.qualifier in ("比上年增减", "增长率")]
                for f in ch[:2]:
                    values.append(value_of(f))
                    citations.append(citation_of(f))
                    lines.append(f"  {f.qualifier}：{money_text(f.value, f.unit)}（{where(f)}）")
                if not ch:
                    lines.append("  报告中没有找到这一项与上年相比的增减数。")
                # The report's own explanation of the change (主要原因是…), when it gives one.
                from assistant.answer.passages import supporting_passage

                why = supporting_passage(self, r.doc, (ch[0] if ch else best).line, q.metric or best.metric)
                if why is not None:
                    citations.append(why)
                    lines.append(f"  原因：{why.snippet}")
        if not values:
            return self._not_found(q, self._coverage(q))
        text = "\n".join(lines)
        if (scope_note := missing_scope_note(reports, q.scope)) is not None:  # 单位 asked, only 部门 here
            text = f"{scope_note}\n{text}"
        if len({r.department for r in reports}) > 1 and self._department_unspecified(q):
            text = "未指定部门，按各部门分别列出：\n" + text
        return Answer(question=q.text, kind=kind, text=text, values=values, citations=citations, derivation=derivation)

    def _precise(self, q: Query, r: Report, best: Fact) -> Fact:
        """A table fact stating the same amount more precisely than a rounded narrative figure
        (1,159.81万元 in a sentence, 11,598,130.25元 in 公开01表), when one is related to the query.

        A bare 合计/总计 row is related only through its column: "合计" is part of 本年支出合计, but the
        收入表's 合计 row is not the expenditure total even when the amounts agree."""
        if best.source != "narrative" or best.value_yuan is None or best.unit != "万元":
            return best
        exp = best.value.as_tuple().exponent
        quantum = Decimal(10000) * (Decimal(1).scaleb(exp) if isinstance(exp, int) else 1)
        metric = q.metric or ""
        related = [f for f in query_facts(self.con, docs=[r.doc]) if f.source == "table" and f.value_yuan is not None
                   and "column_uncertain" not in f.flags and f.unit == "元"
                   and abs(f.value_yuan - best.value_yuan) <= quantum / 2
                   and (f.qualifier == metric or (f.metric not in TOTAL_LABELS and (
                       metric in f.label or metric in f.metric or f.metric in metric)))]
        return min(related, key=lambda f: (f.code is not None, f.line)) if related else best

    def _sentence(self, r: Report, best: Fact, others: list[Fact]) -> str:
        qual = f"（{best.qualifier}）" if best.qualifier else ""
        year = best.year or r.year
        code = f"（{best.code}）" if best.code else ""
        s = f"{r.department}{year}年{best.metric}{code}{qual}：{money_text(best.value, best.unit)}"
        extra = []
        for f in others[1:]:
            if f.qualifier and f.qualifier != best.qualifier and f.table_id == best.table_id and f.line == best.line:
                extra.append(f"{f.qualifier}{money_text(f.value, f.unit)}")
        if extra:
            s += "；" + "，".join(extra[:3])
        flags = []
        if "conflict" in best.flags:
            alt = [f for f in others if "conflict" in f.flags and f.value_yuan != best.value_yuan]
            flags.append("注意：报告中同一指标有不一致的数字" + "".join(f"，{where(f)}为{money_text(f.value, f.unit)}" for f in alt[:2]))
        if "column_uncertain" in best.flags:
            flags.append("注：该数字所在栏目由表内勾稽关系推断")
        if "ocr" in best.flags:  # formats hook: a number read from a scanned page (ingest/ocr.py)
            flags.append("（OCR识别）")
        return s + "。" + (" " + "；".join(flags) if flags else "") + f"（{where(best)}）"

    def _from_change(self, q: Query, r: Report) -> tuple[Fact, Decimal, str] | None:
        """Last year's figure from this year's figure and the stated change (9,101.68 + 2,389.52)."""
        facts = self._metric_facts(q.metric, [r.doc])
        changes = [f for f in facts if f.qualifier == "比上年增减" and f.source == "narrative"]
        base = [f for f in facts if f.qualifier not in ("比上年增减", "增长率", "占比") and f.source == "narrative"]
        for ch in changes:
            for b in base:
                if b.line <= ch.line <= (b.line_end or b.line) + 1 and b.unit == ch.unit:
                    prev = b.value - ch.value
                    return b, prev, (f"{q.year}年 = {r.year}年{fmt(b.value)}{b.unit}（{where(b)}） − 增减额 "
                                     f"{fmt(ch.value)}{ch.unit}（{where(ch)}） = {fmt(prev)}{b.unit}")
        return None

    def _pair(self, q: Query, r: Report, metric: str | None) -> tuple[Fact | None, Fact | None]:
        """(预算数 fact, 决算数 fact) of a metric in one report."""
        facts = self._metric_facts(metric, [r.doc])
        budget = [f for f in facts if f.qualifier and "预算" in f.qualifier and "年初" not in f.qualifier]
        final = [f for f in facts if f.qualifier and ("决算" in f.qualifier or "执行" in f.qualifier)]
        key = lambda f: (0 if "column_uncertain" in f.flags else 1, 1 if f.source == "table" else 0, -f.line)  # noqa: E731
        return (max(budget, key=key) if budget else None, max(final, key=key) if final else None)

    def _over_pairs(self, q: Query, reports: list[Report],
                    step: Callable[[Report, Fact, Fact], tuple[AnswerValue, str, str] | None]) -> Answer | None:
        """A computed answer from each report's (预算数, 决算数) pair of the metric; None when no pair.

        ``step(report, budget, final)`` gives (value, derivation, sentence) or None to skip the report.
        """
        values, cits, lines, der = [], [], [], []
        for r in reports:
            b, f = self._pair(q, r, q.metric)
            if b is None or f is None:
                continue
            out = step(r, b, f)
            if out is None:
                continue
            values.append(out[0])
            cits += [citation_of(f), citation_of(b)]
            der.append(out[1])
            lines.append(out[2])
        if not values:
            return None
        return Answer(question=q.text, kind="computed", text="\n".join(lines), values=values, citations=cits,
                      derivation=der)

    def _rate(self, q: Query, reports: list[Report]) -> Answer:
        def step(r: Report, b: Fact, f: Fact) -> tuple[AnswerValue, str, str] | None:
            if not b.value:
                return None
            rate = round2(f.value_yuan / b.value_yuan * 100) if b.value_yuan and f.value_yuan is not None \
                else round2(f.value / b.value * 100)
            return (value_of(f, rate, unit="%", metric=f"{q.metric}执行率", qualifier="执行率"),
                    f"执行率 = 决算数 {fmt(f.value)}{f.unit}（{where(f)}） ÷ 预算数 {fmt(b.value)}{b.unit}"
                    f"（{where(b)}） × 100% = {rate}%",
                    f"{r.department}{r.year}年{q.metric}预算执行率为{rate}%（决算数{money_text(f.value, f.unit)}"
                    f" ÷ 预算数{money_text(b.value, b.unit)}）。")

        return self._over_pairs(q, reports, step) or self._not_found(q, "没有同时找到预算数和决算数")

    def _budget_gap(self, q: Query, reports: list[Report]) -> Answer:
        def step(r: Report, b: Fact, f: Fact) -> tuple[AnswerValue, str, str] | None:
            if b.unit != f.unit:
                return None
            gap = b.value - f.value
            return (value_of(f, gap, metric=f"{q.metric}预算与决算之差", qualifier="差额"),
                    f"差额 = 预算数 {fmt(b.value)}{b.unit}（{where(b)}） − 决算数 {fmt(f.value)}{f.unit}（{where(f)}）"
                    f" = {fmt(gap)}{f.unit}",
                    f"{r.department}{r.year}年{q.metric}决算数比预算数{'少' if gap >= 0 else '多'}"
                    f"{money_text(abs(gap), f.unit)}（预算{fmt(b.value)}{b.unit}，决算{fmt(f.value)}{f.unit}）。")

        return self._over_pairs(q, reports, step) or self._value(q, reports)

    def _share(self, q: Query, reports: list[Report]) -> Answer:
        terms = q.metric_terms
        num_metric = q.metric
        den_metric = next((t for t in terms if t != num_metric), EXPENSE_TOTAL)
        if den_metric in ("支出预算", "本年支出合计", "支出总计") or "支出" in den_metric and "总" in den_metric:
            den_metric = EXPENSE_TOTAL
        values, cits, lines, der = [], [], [], []
        missing: set[str] = set()
        for r in reports:
            num = self._best(q, r, self._candidates(q, r, num_metric))
            den = self._best(q.model_copy(update={"column": None}), r, self._candidates(
                q.model_copy(update={"column": None}), r, den_metric))
            if not num or not den:
                missing.update(m for m, found in ((num_metric or "", num), (den_metric, den)) if not found)
                continue
            n, d = num[0], den[0]
            ny, dy = n.value_yuan or n.value, d.value_yuan or d.value
            if not dy:
                continue
            share = round2(ny / dy * 100)
            values.append(value_of(n, share, unit="%", metric=f"{num_metric}占{den_metric}比重", qualifier="占比"))
            cits += [citation_of(n), citation_of(d)]
            der.append(f"占比 = {num_metric} {fmt(n.value)}{n.unit}（{where(n)}） ÷ {den_metric} {fmt(d.value)}{d.unit}"
                       f"（{where(d)}） × 100% = {share}%")
            lines.append(f"{r.department}{r.year}年{num_metric}占{den_metric}的{share}%（{money_text(n.value, n.unit)}"
                         f" ÷ {money_text(d.value, d.unit)}）。")
        if not values:
            lacking = "、".join(sorted(missing)) or "两个数字"
            return self._not_found(q.model_copy(update={"metric": None}), f"计算占比需要的{lacking}没有找到")
        return Answer(question=q.text, kind="computed", text="\n".join(lines), values=values, citations=cits,
                      derivation=der)

    def _first(self, q: Query, r: Report, metric: str) -> Fact | None:
        facts = self._best(q, r, self._candidates(q, r, metric))
        return self._precise(q.model_copy(update={"metric": metric}), r, facts[0]) if facts else None

    def _sum(self, q: Query, reports: list[Report]) -> Answer:
        """公务接待费和差旅费一共多少: each part's fact, added up in 元 (or in the shared unit)."""
        values, cits, lines, der = [], [], [], []
        for r in reports:
            parts = [(m, self._first(q, r, m)) for m in q.metric_terms]
            if any(f is None for _, f in parts):
                continue
            facts = [f for _, f in parts if f is not None]
            units = {f.unit for f in facts}
            if len(units) == 1:
                unit, total = facts[0].unit, sum((f.value for f in facts), Decimal(0))
            elif all(f.value_yuan is not None for f in facts):
                unit, total = "元", sum((f.value_yuan or Decimal(0) for f in facts), Decimal(0))
            else:
                continue
            names = "、".join(m for m, _ in parts)
            values.append(value_of(facts[0], total, unit=unit, metric=f"{names}合计", qualifier="合计"))
            cits += [citation_of(f) for f in facts]
            der.append(" + ".join(f"{m} {fmt(f.value)}{f.unit}（{where(f)}）" for m, f in parts if f)
                       + f" = {fmt(total)}{unit}")
            lines.append(f"{r.department}{r.year}年{names}合计{money_text(total, unit)}（"
                         + "，".join(f"{m}{money_text(f.value, f.unit)}" for m, f in parts if f) + "）。")
        if not values:
            return self._not_found(q, "没有找到所有加数")
        return Answer(question=q.text, kind="computed", text="\n".join(lines), values=values, citations=cits,
                      derivation=der)

    def _list(self, q: Query, reports: list[Report]) -> Answer:
        """三公经费各项 / 卫生健康支出有哪些: the parts of a total, each with its figure."""
        values, cits, lines = [], [], []
        for r in reports:
            head = self._first(q, r, q.metric or "")
            if head is None:
                continue
            coded = [f for f in self._best(q, r, self._candidates(q, r)) if f.code]
            head = coded[0] if coded else head
            if head.code:
                kids = [f for f in query_facts(self.con, docs=[r.doc]) if f.code and f.code[:-2] == head.code
                        and f.table_id == head.table_id and f.qualifier == head.qualifier]
                parts = [(f.metric, f) for f in sorted(kids, key=lambda f: f.line)]
            else:
                parts = [(m, self._first(q, r, m)) for m in COMPONENTS.get(q.metric or "", ())]
            parts = [(m, f) for m, f in parts if f is not None]
            lines.append(self._sentence(r, head, [head]))
            values.append(value_of(head))
            cits.append(citation_of(head))
            for m, f in parts:
                code = f"（{f.code}）" if f.code else ""
                lines.append(f"  · {m}{code}：{money_text(f.value, f.unit)}（{f.qualifier or ''}）")
                values.append(value_of(f))
                cits.append(citation_of(f))
        if not values:
            return self._not_found(q, self._coverage(q))
        return Answer(question=q.text, kind="lookup", text="\n".join(lines), values=values, citations=cits)

    def _dept_difference(self, q: Query, reports: list[Report]) -> Answer:
        """两个部门之间的差额, in 元 when the units differ."""
        got = [(r, self._first(q, r, q.metric or "")) for r in reports]
        got = [(r, f) for r, f in got if f is not None and f.value_yuan is not None]
        if len(got) < 2:
            return self._value(q, reports)
        (ra, fa), (rb, fb) = got[0], got[1]
        diff = (fa.value_yuan or Decimal(0)) - (fb.value_yuan or Decimal(0))
        text = (f"{ra.department}{fa.year}年{q.metric}{money_text(fa.value, fa.unit)}，{rb.department}{fb.year}年"
                f"{money_text(fb.value, fb.unit)}，相差{money_text(abs(diff), '元')}。")
        if fa.year != fb.year:
            text += "（注意：两个数字来自不同年度的报告）"
        return Answer(question=q.text, kind="computed", text=text,
                      values=[value_of(fa, abs(diff), unit="元", metric=f"{q.metric}差额", qualifier="差额"),
                              value_of(fa), value_of(fb)],
                      citations=[citation_of(fa), citation_of(fb)],
                      derivation=[f"{fmt(fa.value_yuan or Decimal(0))}元（{where(fa)}） − {fmt(fb.value_yuan or Decimal(0))}元"
                                  f"（{where(fb)}） = {fmt(diff)}元"])

    def _rank(self, q: Query, reports: list[Report]) -> Answer:
        rows: list[tuple[Decimal, Fact, Report]] = []
        # One query for every department's facts of the metric (not one per report).
        every = query_facts(self.con, metric=q.metric, docs=None if len(reports) == self._report_count()
                            else [r.doc for r in reports])
        by_doc: dict[str, list[Fact]] = {}
        for f in every:
            by_doc.setdefault(f.doc, []).append(f)
        for r in reports:
            own = [f for f in by_doc.get(r.doc, []) if f.qualifier not in ("比上年增减", "增长率", "占比", "执行率")]
            if q.column:
                own = [f for f in own if f.qualifier == q.column]
            facts = self._best(q, r, own or self._candidates(q, r))
            facts = [f for f in facts if f.value_yuan is not None or f.unit not in ("元", "万元")]
            if facts:
                f = facts[0]
                rows.append((f.value_yuan if f.value_yuan is not None else f.value, f, r))
        if not rows:
            return self._not_found(q, self._coverage(q))
        rows.sort(key=lambda t: (t[0], t[2].doc), reverse=q.operation != "rank_min")
        top = rows[0]
        word = "最低" if q.operation == "rank_min" else "最高"
        lines = [f"{top[2].department}{top[1].year}年{q.metric}{word}：{money_text(top[1].value, top[1].unit)}。"]
        # A budget is not a final account, and one year is not another: say when the figures differ so.
        quals = sorted({f.qualifier or "" for _, f, _ in rows} - {""})
        years = sorted({f.year for _, f, _ in rows if f.year})
        if len(quals) > 1 or len(years) > 1:
            what = "；".join(x for x in ["、".join(f"{y}年" for y in years) if len(years) > 1 else "",
                                          "、".join(quals) if len(quals) > 1 else ""] if x)
            lines.append(f"注意：比较的数字年度或口径不同（{what}），仅供参考。")
        lines.append("各部门：")
        for _, f, r in rows:
            lines.append(f"  {r.department} {f.year}年 {f.qualifier or ''} {money_text(f.value, f.unit)}（{where(f)}）")
        values = [value_of(f) for _, f, _ in rows]
        return Answer(question=q.text, kind="computed", text="\n".join(lines), values=values,
                      citations=[citation_of(f) for _, f, _ in rows],
                      derivation=[f"按折合为元的金额排序：{', '.join(f'{r.department} {fmt(v)}' for v, _, r in rows)}"])

    # ----- not found and retrieval -----
    def _coverage(self, q: Query) -> str:
        reps = self._reports_of(q.departments)
        have = "；".join(f"{r.department} {r.year}年{r.kind or ''}" for r in reps) or "无"
        return f"语料中相关的报告有：{have}"

    def _not_found(self, q: Query, why: str) -> Answer:
        what = "、".join(x for x in [
            "/".join(q.departments) if q.departments else "", f"{q.year}年" if q.year else "", q.metric or "",
        ] if x)
        return Answer(question=q.text, kind="not_found",
                      text=f"在报告中没有找到{('：' + what) if what else '答案'}。{why}。")

    def _retrieve(self, q: Query) -> Answer:
        from assistant.answer.passages import retrieval_answer

        return retrieval_answer(self, q)

