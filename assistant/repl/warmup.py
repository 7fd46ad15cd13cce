"""The REPL's background warm-up of the retrieval side (index, jieba, query encoder).

A text question needs the retrieval index open, jieba's dictionary loaded and the query encoder
loaded: a second or more from a cold start. The REPL starts all three in a thread as it opens, so
the user types while they load; numeric questions never wait for them. A text question asked
before the warm-up is done waits only for what is still loading (the index, jieba and the encoder
each load once, under their own locks), with a note. The object is what the toolbar reads
(``retrieval_loading`` / ``status_note``, see toolbar.engine_note).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

LOADING = "加载检索模型…"
READY = "就绪"
WAIT_NOTE = "（检索模型仍在加载，请稍候…）"


class RetrievalWarmup:
    """Runs ``open_index(engine)`` and the index's ``warmup()`` in a daemon thread."""

    def __init__(self, engine: Any, open_index: Callable[[Any], Any] | None = None) -> None:
        self.engine = engine
        self._open_index = open_index or _open_engine_index
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self.error: str | None = None

    def start(self) -> RetrievalWarmup:
        """Start the thread (once); returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="retrieval-warmup", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        try:
            index = self._open_index(self.engine)
            if index is not None:
                index.warmup()
        except Exception as e:  # noqa: BLE001 - the question that needs it reports the problem itself
            log.debug("retrieval warm-up failed", exc_info=True)
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self._done.set()

    @property
    def retrieval_loading(self) -> bool:
        """True while the warm-up runs."""
        return self._thread is not None and not self._done.is_set()

    @property
    def status_note(self) -> str | None:
        """The toolbar's note: loading, ready, or nothing (not started / failed)."""
        if self._thread is None or self.error:
            return None
        return LOADING if not self._done.is_set() else READY

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the warm-up is done (or ``timeout`` s); True when done."""
        return self._done.wait(timeout) if self._thread is not None else True


def _open_engine_index(engine: Any) -> Any:
    """The engine's retrieval index, opened if built (None otherwise), as a text question opens it."""
    from assistant.answer.passages import open_index_if_built

    return open_index_if_built(engine.passages)  # the engine's PassageSource (answer/passages.py)
