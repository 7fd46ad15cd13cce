"""The answering engine: question (+ session) → Answer. Used by `ask`, the REPL and `eval`.

understand (question → slots) → resolve (conversation, relative years) → select (facts for the
slots) → operate (one function per operation) → compose (the sentences). Numbers come only from
stored facts or exact Decimal arithmetic on them. Questions that are not numeric go to passages
(retrieval is loaded lazily, so numeric answers never wait for the embedding model).
"""

from __future__ import annotations

from typing import Any

from assistant.answer import compose as say
from assistant.answer import resolve
from assistant.answer.catalog import ReportCatalog
from assistant.answer.operate import OPERATIONS, Context
from assistant.answer.passages import PassageSource, retrieval_answer, supporting_passage
from assistant.answer.select import FactSelector
from assistant.answer.session import Session
from assistant.answer.understand import understand
from assistant.config import Settings
from assistant.models import Answer, Citation, Fact, Query, Report
from assistant.store.db import open_store, query_facts
from assistant.store.vocabulary import fold, open_vocabulary


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
        self.ops = Context(select=self.select, department_unspecified=self._department_unspecified,
                           reason=self._reason)
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
        if q.operation == "text" or (q.metric is None and q.operation not in ("rank_max", "rank_min")):
            return retrieval_answer(self.passages, q)
        reports = self.select.reports_for(q)
        if not reports:
            return say.not_found(q, say.coverage(self.catalog.of(q.departments)))
        return OPERATIONS[q.operation](self.ops, q, reports)
