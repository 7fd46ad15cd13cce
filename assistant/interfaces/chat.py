"""`assistant chat`: the REPL launcher (the REPL itself is assistant/repl/)."""

from __future__ import annotations

import sys

from assistant.config import Settings


def run_chat(settings: Settings, plain: bool = False) -> int:
    """`assistant chat`: open the REPL on the terminal, warming the retrieval side up in the background
    (piped input: no warm-up, the transcript stays deterministic). No index, an old or a damaged one
    raises StoreError (the CLI's error policy prints its one line, exit 2)."""
    from assistant.answer.engine import Engine
    from assistant.repl.app import ChatApp, history_for
    from assistant.repl.warmup import RetrievalWarmup

    engine = Engine(settings)
    if not sys.stdin.isatty():  # piped questions: a plain transcript, not a terminal UI
        return ChatApp(engine, plain=True).run_lines(sys.stdin)
    # the retrieval side (index, jieba, query encoder: seconds) loads behind the prompt
    warmup = RetrievalWarmup(engine).start()
    app = ChatApp(
        engine, plain=plain, history=history_for(settings), color=settings.repl.color, warmup=warmup
    )
    return app.run()
