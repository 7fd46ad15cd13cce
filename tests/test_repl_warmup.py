"""The REPL's background warm-up of the retrieval side: state in the toolbar, questions wait only for it."""

from __future__ import annotations

import threading
import time

from assistant.answer.session import Session
from assistant.models import Answer
from assistant.repl.app import drive_chat
from assistant.repl.toolbar import toolbar_text
from assistant.repl.warmup import LOADING, READY, WAIT_NOTE, RetrievalWarmup


class _Index:
    def __init__(self) -> None:
        self.warmed = 0

    def warmup(self) -> None:
        self.warmed += 1


class _SlowEngine:
    """An engine whose text answers need the warm-up's index (as passages.retrieval_answer does)."""

    def __init__(self, release: threading.Event, warmup: RetrievalWarmup | None = None) -> None:
        self.release = release
        self.warmup = warmup
        self.index = _Index()

    def open_index(self, _engine: object) -> _Index:
        self.release.wait(10)
        return self.index

    def ask(self, question: str, session: Session | None = None) -> Answer:
        if "职责" in question:
            time.sleep(0.6)  # the question waits for the load (longer than the note's delay) …
            self.release.set()  # … which then finishes
            assert self.warmup is not None and self.warmup.wait(10)
            return Answer(question=question, kind="retrieval", text="主要职责是……")
        return Answer(question=question, kind="lookup", text="5,406.00元")


def test_toolbar_shows_loading_then_ready() -> None:
    release = threading.Event()
    engine = _SlowEngine(release)
    warm = RetrievalWarmup(engine, engine.open_index)
    assert warm.status_note is None and not warm.retrieval_loading  # not started
    warm.start()
    assert warm.retrieval_loading and LOADING in toolbar_text(Session(), warm)
    release.set()
    assert warm.wait(10)
    assert not warm.retrieval_loading and READY in toolbar_text(Session(), warm)
    assert engine.index.warmed == 1


def test_a_text_question_waits_for_the_warmup_with_a_note_a_numeric_one_does_not() -> None:
    release = threading.Event()
    engine = _SlowEngine(release)
    warm = engine.warmup = RetrievalWarmup(engine, engine.open_index).start()
    out = drive_chat(engine, "三公经费是多少\r", warmup=warm)
    assert "5,406.00元" in out and WAIT_NOTE not in out and warm.retrieval_loading
    out = drive_chat(engine, "主要职责是什么\r", warmup=warm)
    assert "主要职责是……" in out and WAIT_NOTE in out and not warm.retrieval_loading


def test_real_engine_warms_up_its_retrieval_index(built_settings) -> None:
    from assistant.answer.engine import Engine
    from assistant.answer.passages import _index

    engine = Engine(built_settings)
    warm = RetrievalWarmup(engine).start()
    assert warm.wait(120) and warm.error is None, warm.error
    assert warm.status_note == READY
    index = engine._retrieval
    assert index is not None and _index(engine.passages) is index  # a question reuses what the warm-up opened
    answer = engine.ask("峨山县医保局的主要职责是什么", Session())
    assert answer.kind == "retrieval" and answer.citations


def test_chat_without_an_index_is_one_line_exit_2(tmp_path, capsys) -> None:
    from assistant.interfaces.cli import main

    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[paths]\nindex = "{tmp_path / "none"}"\n', encoding="utf-8")
    assert main(["--config", str(cfg), "chat"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "assistant index" in err
