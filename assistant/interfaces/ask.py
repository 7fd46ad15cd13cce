"""`assistant ask`: answer one question (or one per stdin line) and print it."""

from __future__ import annotations

import json
import sys

from assistant.answer.session import Session
from assistant.config import Settings
from assistant.interfaces.exits import EXIT_NOT_ANSWERED, EXIT_OK
from assistant.models import Answer


def render_plain(answer: Answer) -> str:
    """The answer text followed by its sources, for a terminal or a pipe."""
    out = [answer.text]
    if answer.values or answer.citations:
        seen = set()
        out.append("来源：")
        for c in answer.citations:
            key = (c.doc, c.line_start)
            if key in seen:
                continue
            seen.add(key)
            page = f" 第{c.page}页" if c.page else ""
            span = f"{c.line_start}" if c.line_start == c.line_end else f"{c.line_start}–{c.line_end}"
            snippet = c.snippet if len(c.snippet) <= 80 else c.snippet[:80] + "…"
            out.append(f"  {c.doc}{page} 第{span}行：{snippet}")
    for d in answer.derivation:
        out.append(f"计算：{d}")
    return "\n".join(out)


def run_ask(settings: Settings, question: str, context: list[str], as_json: bool) -> int:
    """CLI body of `assistant ask`; exit 0 answered, 1 not found / clarify (no index: StoreError, which
    the CLI turns into its one line and exit 2)."""
    from assistant.answer.engine import Engine

    engine = Engine(settings)
    session = Session()
    for earlier in context:
        engine.ask(earlier, session)
    questions = [ln.strip() for ln in sys.stdin] if question == "-" else [question]
    status = EXIT_OK
    for qtext in questions:
        if question == "-" and not qtext:
            continue
        answer = engine.ask(qtext, session)
        if as_json:
            print(json.dumps(answer.model_dump(mode="json"), ensure_ascii=False))
        else:
            print(render_plain(answer))
            if len(questions) > 1:
                print()
        if answer.kind in ("not_found", "clarify"):
            status = EXIT_NOT_ANSWERED
    return status
