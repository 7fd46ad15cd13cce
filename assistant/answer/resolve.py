"""Resolve: a query understood on its own, completed by the conversation and the reports' own years.

Follow-ups (其中…呢, 那2020年呢, 预算是多少, 占总支出多少) take what this question leaves open from the
session; 去年/今年 are counted from the year of the department's reports.
"""

from __future__ import annotations

from typing import Any

from assistant.answer import compose
from assistant.answer.catalog import ReportCatalog
from assistant.answer.session import Session
from assistant.answer.understand import RELATIVE_YEARS
from assistant.models import Query

# Operations a "那X呢" follow-up asks again of another metric.
CARRIED = ("change", "rate", "share")


def is_follow_up(query: Query, session: Session) -> bool:
    """The question continues the conversation (…呢, 那…, 其中…, or names no department)."""
    return bool(session.last_query) and (
        query.text.rstrip("？?。 ").endswith("呢")
        or query.text.startswith(("那", "其中", "它", "他们"))
        or not query.departments
    )


def with_context(query: Query, session: Session) -> Query:
    """The query with what the conversation established filled into the slots it leaves open."""
    upd: dict[str, Any] = {}
    follow_up = is_follow_up(query, session)
    if (
        follow_up
        and not query.departments
        and not query.mentions_other
        and session.unknown_department
        and not session.pinned_department
        and query.operation != "text"
    ):
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
        elif (
            follow_up and session.year and (query.departments == session.departments or not query.departments)
        ):
            upd["year"] = session.year
    if query.metric is None and query.metric_terms and query.operation == "value":
        # Part of a metric's name: the candidate closest to the conversation's metric.
        ref = session.metric or ""
        upd["metric"] = max(
            query.metric_terms, key=lambda m: (len(set(m) & set(ref)), -query.metric_terms.index(m))
        )
    elif query.metric is None and follow_up and session.metric and query.operation != "text":
        upd["metric"] = session.metric
        if (
            query.operation == "value"
            and session.last_query is not None
            and query.qualifier is None
            and query.column is None
        ):
            upd["qualifier"] = session.last_query.qualifier
    last = session.last_query
    if (
        follow_up
        and last is not None
        and last.residue
        and not query.departments
        and query.metric is None
        and all(any(part in earlier for earlier in last.residue) for part in query.residue)
    ):
        # 执行了多大比例？ after a question about a project no metric names: the same project.
        upd["residue"] = list(last.residue)
    if (
        follow_up
        and last is not None
        and query.operation == "value"
        and last.operation in CARRIED
        and query.text.rstrip("？?。 ").endswith("呢")
        and (query.metric or query.metric_terms)
    ):
        # 那商品和服务支出呢？ after 工资福利支出比上年增长百分之几: the same question of another metric.
        upd["operation"] = last.operation
        if last.operation == "share" and len(last.metric_terms) >= 2 and query.metric:
            upd["metric_terms"] = [query.metric, *last.metric_terms[1:]]
    if (
        query.operation == "share"
        and follow_up
        and session.metric
        and len(query.metric_terms) == 1
        and query.metric != session.metric
    ):
        # 占总支出多少？ after a value: the earlier metric is the part, the named one the whole.
        upd["metric"] = session.metric
        upd["metric_terms"] = [session.metric, *query.metric_terms]
    return query.model_copy(update=upd) if upd else query


def relative_year(q: Query, catalog: ReportCatalog) -> tuple[Query, str | None]:
    """去年/今年 against the year of the department's reports (the latest, when they cover several),
    and the note that says how it was read."""
    if q.relative_year is None or q.year is not None:
        return q, None
    years = sorted({r.year for r in catalog.of(q.departments) if r.year is not None})
    if not years:
        return q, None
    base = years[-1]
    year = base + RELATIVE_YEARS[q.relative_year]
    return q.model_copy(update={"year": year}), compose.relative_year_note(q.relative_year, base, year)


def remember(session: Session, query: Query, answer: Any) -> None:  # noqa: ANN401
    """Keep what this question established for the next one."""
    session.last_query, session.last_answer = query, answer
    session.unknown_department = query.mentions_other or (
        session.unknown_department and not query.departments
    )
    if query.departments:
        session.departments = query.departments
    if query.year:
        session.year = query.year
    if query.metric:
        session.metric = query.metric
