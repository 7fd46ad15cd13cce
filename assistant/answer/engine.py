"""The answering engine: question (+ session) → Answer. Used by `ask`, the REPL and `eval`.

understand (question → slots) → resolve (conversation, relative years) → select (facts for the
slots) → operate (one function per operation) → compose (the sentences). Numbers come only from
stored facts or exact Decimal arithmetic on them. Questions that are not numeric go to passages
(retrieval is loaded lazily, so numeric answers never wait for the embedding model).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from assistant.answer import compose as say
from assistant.answer import compose_figures as figures
from assistant.answer import resolve
from assistant.answer.catalog import ReportCatalog
from assistant.answer.coverage import unknown_department
from assistant.answer.operate import OPERATIONS, Context
from assistant.answer.passages import PassageSource, asked_form, retrieval_answer, supporting_passage
from assistant.answer.scope import cited_docs, list_copies
from assistant.answer.select import DERIVED, FactSelector
from assistant.answer.session import Session
from assistant.answer.understand import understand
from assistant.config import Settings
from assistant.models import Answer, AnswerValue, Citation, Fact, LineHit, Query, Report, ValueCitation
from assistant.store.db import copies_of, open_store, query_facts
from assistant.store.vocabulary import fold, open_vocabulary

# A question that asks for a number (多少, 几, 是多少 …), not for a list or an explanation.
NUMERIC_ASK = re.compile(r"多少|几[个次项人名件台辆批]|百分之|比例|比重|占比|[率%％]")
HOW_MUCH = re.compile(
    r"多少|几[个次项人名件台辆批]|百分之|比例|比重|占比"
)  # asks a figure, whatever the form
SUM_ASK = re.compile(r"一共|合计|总共|加起来|之和|总和|加上")
# The words of an average (平均每辆值, 人均, 均价): with these alone left unexplained, the value per unit is asked.
AVERAGE_WORDS = re.compile(r"平均每?[个台辆人件项次户家]?|人均|均价|单价|每[个台辆人件项户家]|[值价]")
AVERAGE_ASK = re.compile(r"平均|人均|均价|单价|每")  # 价值 alone is the value, not an average
MONEY_UNITS = ("元", "万元", "亿元")
UNSPENT_ASK = re.compile(r"还剩|没执行|未执行|结余|剩余|没有执行|未使用")


class Engine:
    """Answers questions from the built index under settings.index_dir."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.con = open_store(settings.index_dir)
        # Nothing is loaded up front (reports, names): opening costs the same for 7 reports as for 5,000.
        self.vocab = open_vocabulary(self.con)
        self.catalog = ReportCatalog(self.con)
        self.select = FactSelector(self.con, self.catalog)
        self.passages = PassageSource(settings=settings, catalog=self.catalog, vocab=self.vocab)
        self.ops = Context(
            select=self.select, department_unspecified=self._department_unspecified, reason=self._reason
        )
        self.retrieval_note: str | None = None

    @property
    def _retrieval(self) -> Any:  # noqa: ANN401
        """The retrieval index once opened (None: not yet; False: unavailable)."""
        return self.passages._retrieval

    @_retrieval.setter
    def _retrieval(self, index: Any) -> None:  # noqa: ANN401
        self.passages._retrieval = index

    # ----- public API -----
    def reports(self) -> list[Report]:
        """Reports in the index."""
        return self.catalog.all()

    def report(self, doc: str) -> Report | None:
        """The report of file ``doc``, or None."""
        return self.catalog.report(doc)

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
            return Answer(question=question, kind="clarify", text=say.EMPTY_QUESTION)
        query = resolve.with_context(understand(text, self.vocab), session)
        query, note = resolve.relative_year(query, self.catalog)
        answer = self._answer(query)
        answer = list_copies(
            answer, copies_of(self.con, cited_docs(answer))
        )  # byte-identical files (scope.py)
        if note:
            answer = answer.model_copy(update={"text": f"{note}\n{answer.text}"})
        resolve.remember(session, query, answer)
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

    def _reason(self, doc: str, line: int, metric: str) -> Citation | None:
        return supporting_passage(self.passages, doc, line, metric)

    # ----- answering -----
    def _answer(self, q: Query) -> Answer:
        if q.mentions_other:
            return say.not_found(q, say.UNKNOWN_DEPARTMENT)
        if q.clarify_departments and q.operation not in ("rank_max", "rank_min", "compare"):
            return say.clarify_departments(q)  # names.py: a tie between departments
        other = unknown_department(q.residue)
        if other is not None and not self._mentions(q.departments, other):
            # Never the conversation's department either: the question named another one.
            return say.not_found(q.model_copy(update={"departments": []}), say.unknown_department(other))
        if q.operation == "text" or (asked_form(q.text) and not HOW_MUCH.search(q.text)):
            # 有没有/用在哪里 name a metric but ask for a passage (无…收支, 主要用于…), never its figure.
            return retrieval_answer(self.passages, q)
        if q.residue and q.departments:
            listed = self._table_list(q)
            if listed is not None:
                return listed
        if q.residue and (q.expected_unit or NUMERIC_ASK.search(q.text)) and q.operation != "list":
            return self._unexplained(q)
        if q.residue:
            return say.passage_note(q, retrieval_answer(self.passages, q))
        if q.metric is None and q.operation not in ("rank_max", "rank_min"):
            return retrieval_answer(self.passages, q)
        reports = self.select.reports_for(q)
        if not reports:
            return say.not_found(q, say.coverage(self.catalog.of(q.departments)))
        return OPERATIONS[q.operation](self.ops, q, reports)

    def _table_list(self, q: Query) -> Answer | None:
        """The projects or indicators of the department's non-standard tables a list question asks for."""
        from assistant.answer.tables import table_list  # only list questions with unexplained words

        reports = [r for r in self.catalog.of(q.departments) if q.year is None or r.year == q.year]
        found = table_list(q.text, q.residue, self.select, [r.doc for r in reports])
        return say.table_items(q, *found) if found is not None else None

    def _unexplained(self, q: Query) -> Answer:
        """A question with words no slot explains: the one report line holding them and a number of
        the asked unit, when one clearly wins; otherwise not found with the closest lines (or, with
        no department to search, the passages)."""
        # only questions with unexplained words
        from assistant.answer.lines import agreed_figure, asked_phrases, clear_winner, find_lines

        if not q.departments:
            return say.passage_note(q, retrieval_answer(self.passages, q))
        stated = self._stated_for_year(q)
        if stated is not None:
            return stated
        reports = [
            r
            for r in self.catalog.of(q.departments)
            if (q.year is None or r.year == q.year) and (q.kind is None or r.kind == q.kind)
        ]
        words = [w for w in [q.metric, *q.metric_terms] if w]
        hits = find_lines(
            self.passages, self.select, [r.doc for r in reports], q.residue, words, q.expected_unit
        )
        computed = self._computed_from_lines(q, [r.doc for r in reports], words, hits)
        if computed is not None:
            return computed
        if q.metric and sum(len(r) for r in q.residue) <= 2:
            # One short word (登记, 支付) cannot find a line alone: the line must hold the metric named too.
            hits = [h for h in hits if h.context >= 0.5]
        best = clear_winner(hits)
        if best is None:
            agreed = agreed_figure(
                hits,
                asked_phrases(q.text, q.residue, list(self.vocab.terms_in(fold(q.text)))),
                q.expected_unit,
            )
            if agreed is not None:
                h, (value, unit) = agreed
                report = self.catalog.report(h.doc)
                return say.line_answer(
                    q,
                    report,
                    h,
                    AnswerValue(
                        value=value,
                        unit=unit,
                        metric="、".join(q.residue),
                        qualifier=None,
                        department=report.department if report else None,
                        year=report.year if report else None,
                        citation=ValueCitation(doc=h.doc, line=h.line, page=h.page, snippet=h.text),
                    ),
                )
            if not hits and q.metric is None:
                return say.passage_note(q, retrieval_answer(self.passages, q))
            return say.not_understood(q, q.departments, hits or self._metric_lines(q, reports))
        report = self.catalog.report(best.doc)
        return say.line_answer(q, report, best, self._line_value(q, report, best))

    def _stated_for_year(self, q: Query) -> Answer | None:
        """A figure the report states with its year ("2021年结算率4.77%，2020年为33.55%"): the one of
        the year asked when the corpus has no report of that year (去年 of the 2021 report), or, for
        下降/增加了多少个百分点, this year's against last year's. Only from the one row holding the
        residue, and only when each year has exactly one figure."""
        from assistant.answer.lines import year_figures

        reps = [r for r in self.catalog.of(q.departments) if q.kind is None or r.kind == q.kind]
        points = q.operation == "change" and "百分点" in q.text
        if points:
            reps = [r for r in reps if q.year is None or r.year == q.year]
            year = q.year if q.year is not None else (reps[0].year if len(reps) == 1 else None)
        else:
            if q.year is None or any(r.year == q.year for r in reps):
                return None
            reps = [r for r in reps if r.year == q.year + 1]
            year = q.year
        r = reps[0] if len(reps) == 1 else None
        if r is None or year is None or r.year is None:
            return None
        figs = year_figures(
            self.passages, self.select, [r.doc], q.residue, "%" if points else q.expected_unit, r.year
        )
        if not figs:
            return None

        def one(y: int) -> tuple | None:
            found = figs.get(y, [])
            return found[0] if len({(Decimal(v), u) for v, u, *_ in found}) == 1 else None

        if points:
            cur, prev = one(year), one(year - 1)
            if cur is None or prev is None or cur[1] not in ("%", "％") or prev[1] not in ("%", "％"):
                return None
            return figures.point_change(q, r, year, cur, prev)
        fig = one(year)
        return figures.year_figure(q, r, year, fig) if fig is not None else None

    def _average(self, q: Query, docs: list[str]) -> Answer | None:
        """平均每辆值多少: a row's value divided by its count (车辆 2 台, 31.72 万元 in a 资产占用表), when
        exactly one row of the metric states both."""
        pairs = []
        # The row may be filed under another metric than the term's (车辆 → 车辆数, the 资产表's row 车辆(台、辆)).
        terms = [t for t in self.vocab.terms_in(fold(q.text)) if len(t) >= 2]
        for doc in docs:
            facts = [
                f
                for f in self.select.doc_facts(doc)
                if f.qualifier not in DERIVED
                and (f.metric == q.metric or any(fold(f.label).startswith(t) for t in terms))
            ]
            money = [f for f in facts if f.unit in MONEY_UNITS]
            for m in money:
                counts = [
                    f
                    for f in facts
                    if f.line == m.line and f.unit not in MONEY_UNITS and f.unit not in ("%", "％")
                ]
                if len(counts) == 1 and counts[0].value != 0:
                    pairs.append((m, counts[0]))
        if len(pairs) != 1:
            return None
        m, c = pairs[0]
        return figures.average(q, self.catalog.report(m.doc), m, c)

    def _metric_lines(self, q: Query, reports: list[Report]) -> list[LineHit]:
        """The lines of the metric the question did name, as the closest ones to show."""
        out = []
        for r in reports:
            for f in self.select.best(q, r, self.select.candidates(q, r))[:2]:
                out.append(
                    LineHit(
                        doc=f.doc,
                        line=f.line,
                        line_end=f.line_end or f.line,
                        page=f.page,
                        text=f.snippet,
                        score=0.0,
                        numbers=[(str(f.value), f.unit)],
                    )
                )
        return out

    def _computed_from_lines(
        self, q: Query, docs: list[str], words: list[str], hits: list[LineHit]
    ) -> Answer | None:
        """Operations on figures of report lines: the 执行率 or the unspent part of a project whose
        line states its budget and its actual, and the sum of two items each stated in a line."""
        from assistant.answer.lines import budget_and_actual, clear_winner, figure_after, find_lines, items_of

        if (
            q.metric
            and q.residue
            and AVERAGE_ASK.search("".join(q.residue))
            and all(not AVERAGE_WORDS.sub("", r) for r in q.residue)
        ):
            return self._average(q, docs)
        if SUM_ASK.search(q.text):
            items = items_of(q.residue)
            if len(items) >= 2:
                found = []
                for item in items:
                    # Only lines stating a figure of the unit (a project's name row states a phone number).
                    best = clear_winner(
                        [
                            h
                            for h in find_lines(
                                self.passages, self.select, docs, [item], words, q.expected_unit
                            )
                            if h.numbers
                        ]
                    )
                    fig: tuple[str, str | None] | None = (
                        figure_after(best, [item], q.expected_unit) if best is not None else None
                    )
                    if (
                        fig is None
                        and best is not None
                        and best.phrase is not None
                        and len(best.numbers) == 1
                    ):
                        fig = best.numbers[0]  # a fact or mention: its one figure, named by its phrase
                    if best is None or fig is None:
                        return None
                    found.append((item, best, fig))
                return say.line_sum(q, self.catalog.report(found[0][1].doc), found)
        asks_rate = q.operation == "rate" or q.metric == "执行率"
        asks_gap = q.operation == "difference" or UNSPENT_ASK.search(q.text)
        if not (asks_rate or asks_gap):
            return None
        # Among the lines stating a budget and an actual, the one that clearly names the project.
        best = clear_winner([h for h in hits if budget_and_actual(h.text)], min_score=0.6)
        if best is None:
            return None
        pair = budget_and_actual(best.text)
        if pair is None:
            return None
        (b, bu), (a, au) = pair
        if bu != au or Decimal(b) == 0:
            return None
        return say.line_budget_actual(
            q, self.catalog.report(best.doc), best, Decimal(b), Decimal(a), bu, asks_rate
        )

    def _mentions(self, departments: list[str], name: str) -> bool:
        """The reports of ``departments`` name ``name`` themselves (a unit of the department: its
        事务中心), so it is something to look for in them, not a department the corpus lacks."""
        from assistant.answer.lines import mentioned_lines

        docs = [r.doc for r in self.catalog.of(departments)] if departments else []
        return any(name in fold(text) for text in mentioned_lines(self.passages, self.select, docs))

    @staticmethod
    def _line_value(q: Query, r: Report | None, h: LineHit) -> AnswerValue | None:
        """The line's figure, stated with confidence only when the line holds all the question's
        words and the figure is its one number of the asked unit, or the one written right after
        the asked words (a row of a 绩效 table states its target and its result: "≥2次 3" is not
        one figure)."""
        from assistant.answer.lines import figure_after

        if h.score < 0.9 or h.context < 0.5:
            return None
        if not h.bare and len({Decimal(v) for v, _ in h.numbers}) == 1:
            value, unit = h.numbers[0]
        else:
            after = figure_after(
                h, [*q.residue, *(w for w in [q.metric, *q.metric_terms] if w)], q.expected_unit
            )
            if after is None or h.bare:
                return None
            value, unit = after
        return AnswerValue(
            value=value,
            unit=unit or "",
            metric="、".join(q.residue),
            qualifier=None,
            department=r.department if r else None,
            year=r.year if r else None,
            citation=ValueCitation(doc=h.doc, line=h.line, page=h.page, snippet=h.text),
        )
