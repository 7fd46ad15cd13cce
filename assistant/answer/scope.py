"""Report scope (部门 / 单位) and identical copies in answers.

A department can publish, for one year, a 部门预算/决算 (the department with its subordinate units)
and a 单位预算/决算 (the organ alone); the two state different figures for the same item. A question
naming 单位 or 本级 is about the 单位 report; one naming 部门 or neither is about the 部门 report, and
the answer says when the 单位 report states another figure. Byte-identical files are one report
stored under one name; citations list the other names too (``alt_docs``).
"""

from __future__ import annotations

import re

from assistant.answer.compose import money_text
from assistant.models import Answer, Fact, Report, ReportScope

# 单位预算 / 单位决算 / 本级 / 机关本级 name the organ alone; a bare 单位 does not (事业单位医疗, 单位换成元).
_UNIT_SCOPE = re.compile(r"单位(预算|决算)|本级")
_DEPT_SCOPE = re.compile(r"部门(预算|决算)|部门汇总|含下属|包括下属")


def asked_scope(text: str) -> ReportScope | None:
    """The scope a question names (its metric names masked out by the caller), or None."""
    if _UNIT_SCOPE.search(text):
        return "单位"
    if _DEPT_SCOPE.search(text):
        return "部门"
    return None


def _twin_key(r: Report) -> tuple[str | None, int | None, str | None]:
    return (r.department, r.year, r.kind)


def choose_scope(reports: list[Report], asked: ReportScope | None) -> list[Report]:
    """The reports a question is about: where one department, year and kind has reports of both
    scopes, those of the asked scope (部门 when none is asked); other reports stay. Order is kept."""
    want = asked or "部门"
    scopes: dict[tuple[str | None, int | None, str | None], set[str]] = {}
    for r in reports:
        scopes.setdefault(_twin_key(r), set()).add(r.scope)
    return [r for r in reports if len(scopes[_twin_key(r)]) == 1 or r.scope == want]


TwinIndex = dict[tuple[str | None, int | None, str | None], list[Report]]


def twin_index(reports: list[Report]) -> TwinIndex:
    """(department, year, kind) → its reports, for those that have reports of both scopes (mostly
    none: one pass, so that listing every department's figure stays linear)."""
    groups: TwinIndex = {}
    for r in reports:
        groups.setdefault(_twin_key(r), []).append(r)
    return {k: rs for k, rs in groups.items() if len({r.scope for r in rs}) > 1}


def twins(report: Report, index: TwinIndex) -> list[Report]:
    """Reports of the same department, year and kind as ``report`` but of the other scope."""
    return [r for r in index.get(_twin_key(report), ()) if r.scope != report.scope]


def missing_scope_note(reports: list[Report], asked: ReportScope | None) -> str | None:
    """A sentence saying the asked scope has no report here, so another scope's report answers."""
    if asked is None or not reports or any(r.scope == asked for r in reports):
        return None
    other = "、".join(sorted({f"{r.scope}{r.kind or '报告'}" for r in reports}))
    return f"（语料中没有所问的{asked}报告，以下按{other}回答。）"


def twin_note(chosen: Fact, report: Report, twin: Report, twin_best: Fact | None) -> str | None:
    """A sentence saying the twin report states a different figure for the same item, or None when
    it states none or the same amount."""
    if twin_best is None:
        return None
    same = (chosen.value_yuan is not None and chosen.value_yuan == twin_best.value_yuan) or (
        chosen.unit == twin_best.unit and chosen.value == twin_best.value
    )
    if same:
        return None
    return (
        f"  注意：按{report.scope}{report.kind or '报告'}回答；{twin.department}{twin.year}年{twin.scope}"
        f"{twin.kind or '报告'}（{twin.doc}）中该项为{money_text(twin_best.value, twin_best.unit)}"
        f"（第{twin_best.line}行）。"
    )


def cited_docs(answer: Answer) -> set[str]:
    """Every file an answer cites (values and citations)."""
    return {c.doc for c in answer.citations} | {v.citation.doc for v in answer.values}


def list_copies(answer: Answer, copies: dict[str, list[str]]) -> Answer:
    """The answer with every citation also naming the byte-identical copies of its file (``copies``:
    doc → copies, see store.db.copies_of)."""
    if not copies:
        return answer
    cits = [
        c.model_copy(update={"alt_docs": copies[c.doc]}) if c.doc in copies else c for c in answer.citations
    ]
    values = [
        v.model_copy(update={"citation": v.citation.model_copy(update={"alt_docs": copies[v.citation.doc]})})
        if v.citation.doc in copies
        else v
        for v in answer.values
    ]
    return answer.model_copy(update={"citations": cits, "values": values})
