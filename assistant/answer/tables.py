"""Lists over the non-standard tables of a report (its 绩效自评表 / 绩效目标表 / 资产占用表 …).

The parse side stores such a table's numbers as facts whose ``table_id`` is the table's title
("项目支出绩效自评表(3)：开展打击欺诈骗保专项行动") and whose label is the row's path
("产出指标/数量指标/稽核工作开展次数"). Two kinds of list questions read them:
"做了绩效自评的有哪些项目" lists the projects the titles name; "稽核工作经费项目设了哪些绩效指标"
lists the indicator rows of the one table whose title names that project.
"""

from __future__ import annotations

import re

from assistant.answer.lines import coverage
from assistant.answer.select import FactSelector
from assistant.models import Citation, Fact
from assistant.store.vocabulary import fold

# The question lists projects (哪些项目) or a table's indicators (哪些指标 / 绩效指标 / 分项目标).
ASKS_PROJECTS = re.compile(r"(哪些|哪几个|什么)项目")
ASKS_INDICATORS = re.compile(r"(哪些|哪几个|什么|几个)(绩效)?指标|指标(有|是)(哪些|什么)")
# What the question says about the tables, not about a project: these words choose the tables.
_ASKING = re.compile(r"(?:的|都|有|设|了|做|开展|进行|哪些|哪几个|什么|几个|项目|绩效指标|指标)")
# A title names its project after its colon (…自评表(3)：开展打击欺诈骗保专项行动).
_TITLE_PROJECT = re.compile(r"[：:]\s*(.+)$")
MIN_TITLE_SCORE = 0.6


def generic_tables(select: FactSelector, docs: list[str]) -> dict[tuple[str, str], list[Fact]]:
    """(doc, title) → the facts of each non-standard table of ``docs``, in line order."""
    out: dict[tuple[str, str], list[Fact]] = {}
    for doc in docs:
        for f in select.doc_facts(doc):
            if f.table_id and not f.table_id.startswith("公开"):
                out.setdefault((doc, f.table_id), []).append(f)
    return {k: sorted(v, key=lambda f: f.line) for k, v in out.items()}


def project_of(title: str) -> str:
    """The project a table's title names (after its colon), else the whole title."""
    m = _TITLE_PROJECT.search(title)
    return m.group(1).strip() if m else title


def indicator_of(f: Fact) -> str | None:
    """The indicator a row of a 绩效 table names (the last part of its path, without the project
    written after it), or None for a row that is no indicator (年度资金总额, 地方资金)."""
    if "/" not in f.label:
        return None
    name = f.label.rsplit("/", 1)[-1]
    return re.sub(r"[（(][^（()）]*[)）]$", "", name).strip() or None


def _score(words: list[str], title: str) -> float:
    words = [w for w in words if w]
    if not words:
        return 0.0
    t = fold(title)
    return sum(coverage(w, t) * len(w) for w in words) / sum(len(w) for w in words)


def _cite(doc: str, facts: list[Fact]) -> Citation:
    f = facts[0]
    return Citation(
        doc=doc,
        line_start=f.line,
        line_end=max(x.line_end or x.line for x in facts),
        page=f.page,
        snippet=f"{f.table_id}：{f.snippet}",
    )


def table_list(
    question: str, residue: list[str], select: FactSelector, docs: list[str]
) -> tuple[str, list[str], list[Citation]] | None:
    """(what is listed, the items, their citations) for a list question over the
    non-standard tables of ``docs``, or None when it asks for neither or no table clearly fits.

    Projects: every table whose title holds the question's words about the tables (绩效自评 ⊂
    项目支出绩效自评表), each project once. Indicators: the one table whose title best holds the
    project named; a tie lists nothing (the caller says what was not found)."""
    q = fold(question)
    words = [w for r in residue for w in _ASKING.split(r) if len(w) >= 2]
    tables = generic_tables(select, docs)
    if not tables or not words:
        return None
    if ASKS_PROJECTS.search(q):
        chosen = [(k, fs) for k, fs in tables.items() if _score(words, k[1]) >= MIN_TITLE_SCORE]
        items: list[str] = []
        cites = []
        for (doc, title), fs in chosen:
            p = project_of(title)
            if p not in items:
                items.append(p)
                cites.append(_cite(doc, fs))
        kinds = sorted({re.sub(r"[（(]\d+[)）]$", "", title.split("：")[0]) for (_, title), _ in chosen})
        return (f"{'、'.join(kinds)}所列的项目", items, cites) if items else None
    if ASKS_INDICATORS.search(q):
        scored = sorted(((_score(words, k[1]), k) for k in tables), reverse=True)
        best, key = scored[0]
        if best < MIN_TITLE_SCORE or (len(scored) > 1 and scored[1][0] > best - 0.1):
            return None
        rows = [f for f in tables[key] if indicator_of(f)]
        names: list[str] = []
        for f in rows:
            n = indicator_of(f)
            if n and n not in names:
                names.append(n)
        return (f"{key[1]}的绩效指标", names, [_cite(key[0], rows)]) if names else None
    return None
