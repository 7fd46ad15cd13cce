"""Answers that are passages: definitions, duties, explanations — found by hybrid retrieval."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

from assistant.models import Answer, Citation, Query

if TYPE_CHECKING:
    from assistant.answer.engine import Engine


def _index(engine: Engine):  # noqa: ANN202
    """The retrieval index, opened once per engine (the embedding model loads on first use)."""
    if engine._retrieval is None:
        from assistant.retrieve.index import IndexNotFound, RetrievalIndex

        try:
            engine._retrieval = RetrievalIndex.open(engine.settings.index_dir, engine.settings)
        except IndexNotFound as e:
            print(f"note: {e}", file=sys.stderr)
            engine._retrieval = False
    return engine._retrieval or None


def retrieval_answer(engine: Engine, q: Query) -> Answer:
    """The best passage(s) for a non-numeric question, cited by file and line span; or not_found."""
    index = _index(engine)
    if index is None:
        return Answer(question=q.text, kind="not_found", text="检索索引不可用：请先运行 `assistant index`。")
    term = definition_term(q.text)
    hits = index.search(q.text, departments=q.departments or None, year=q.year, top_k=20 if term else None)
    if term:
        # A definition question: the 名词解释 entries ("X：指…"), one per report, come first.
        pattern = re.compile(re.escape(term) + r"[：:]")
        defs = [h for h in hits if pattern.search(_unquote(h.chunk.text))]
        seen: set[str] = set()
        defs = [h for h in defs if not (h.chunk.doc in seen or seen.add(h.chunk.doc))]
        hits = defs[:5] or hits[:2]
    else:
        hits = hits[:2]
    if not hits:
        return Answer(question=q.text, kind="not_found", text="在报告中没有找到与这个问题相关的段落。")
    lines = []
    citations = []
    for h in hits:
        c = h.chunk
        dept = engine.by_doc[c.doc].department if c.doc in engine.by_doc else ""
        page = f"第{c.page}页" if c.page else ""
        head = f"【{dept}｜{c.section}】" if c.section else f"【{dept}】"
        body = "\n".join(f"» {s}" for s in h.highlights) if h.highlights else c.text
        lines.append(f"{head}\n{body}\n（{c.doc} {page}第{c.line_start}–{c.line_end}行）")
        citations.append(Citation(doc=c.doc, line_start=c.line_start, line_end=c.line_end, page=c.page,
                                  snippet=c.text))
    return Answer(question=q.text, kind="retrieval", text="\n\n".join(lines), citations=citations)


def _unquote(text: str) -> str:
    return re.sub(r"[“”\"‘’'「」]", "", text)


def definition_term(question: str) -> str | None:
    """X of "什么是X？" / "X是什么？" / "X的含义", without quotes; None for other questions."""
    q = _unquote(question).strip().rstrip("？?。 ")
    m = re.search(r"什么(?:是|叫)(.+)$", q) or re.search(r"^(.+?)(?:是什么|是指什么|的含义|的定义|指什么)", q)
    if not m:
        return None
    term = m.group(1).strip()
    return term if 2 <= len(term) <= 20 else None
