"""Answers that are passages: definitions, duties, explanations — found by hybrid retrieval."""

from __future__ import annotations

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
    hits = index.search(q.text, departments=q.departments or None, year=q.year)
    if not hits:
        return Answer(question=q.text, kind="not_found", text="在报告中没有找到与这个问题相关的段落。")
    lines = []
    citations = []
    for h in hits[:2]:
        c = h.chunk
        dept = engine.by_doc[c.doc].department if c.doc in engine.by_doc else ""
        page = f"第{c.page}页" if c.page else ""
        head = f"【{dept}｜{c.section}】" if c.section else f"【{dept}】"
        body = "\n".join(f"» {s}" for s in h.highlights) if h.highlights else c.text
        lines.append(f"{head}\n{body}\n（{c.doc} {page}第{c.line_start}–{c.line_end}行）")
        citations.append(Citation(doc=c.doc, line_start=c.line_start, line_end=c.line_end, page=c.page,
                                  snippet=c.text))
    return Answer(question=q.text, kind="retrieval", text="\n\n".join(lines), citations=citations)
