"""`assistant eval` (assistant.evaluate, assistant.interfaces.eval) against a fake engine."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import assistant.answer.engine as engine_module
from assistant.answer.session import Session
from assistant.config import Settings
from assistant.evaluate import evaluate_file
from assistant.interfaces.cli import main
from assistant.interfaces.eval import exit_status, run_eval
from assistant.models import Answer, AnswerValue, Citation, ValueCitation

DOC = "000_db59d6f0fba66678.txt"


def _value(v: str, unit: str, doc: str = DOC) -> AnswerValue:
    return AnswerValue(value=v, unit=unit, metric="m", citation=ValueCitation(doc=doc, line=612, snippet="…"))


CANNED: dict[str, Answer] = {
    "三公经费是多少": Answer(question="", kind="lookup", text="5,406.00元", values=[_value("5406.00", "元")]),
    "其中公务接待费呢？": Answer(question="", kind="lookup", text="？", values=[_value("1.00", "元")]),
    "差旅费多少": Answer(question="", kind="lookup", text="5,600.00元", values=[_value("5600.00", "元")]),
    "2019年呢": Answer(question="", kind="not_found", text="没有找到2019年的数据"),
    "什么是三公经费": Answer(
        question="",
        kind="retrieval",
        text="见原文",
        citations=[
            Citation(
                doc=DOC,
                line_start=3,
                line_end=4,
                snippet="因公出国（境）费、公务用车购置及运行费和公务接待费",
            )
        ],
    ),
}


class FakeEngine:
    """Canned answers; remembers the sessions it was asked in and how often it was built."""

    instances = 0

    def __init__(self, settings: Settings | None = None) -> None:
        FakeEngine.instances += 1
        self.calls: list[tuple[str, Session, list[str]]] = []  # question, session, session memory before

    def ask(self, question: str, session: Session | None = None) -> Answer:
        assert session is not None
        remembered = list(session.departments)
        self.calls.append(
            (question, session, remembered)
        )  # the object itself: ids of freed sessions get reused
        session.departments = ["峨山彝族自治县医疗保障局"]
        if question == "崩溃":
            raise RuntimeError("boom")
        if question == "其中公务接待费呢？" and remembered:
            # follow-up answered from the session the context turn left behind
            return Answer(question=question, kind="lookup", text="85人次", values=[_value("85", "人次")])
        canned = CANNED.get(question, Answer(question="", kind="not_found", text="没有找到"))
        return canned.model_copy(update={"question": question})


def line(
    id: str,
    question: str,
    kind: str,
    value: str = "null",
    unit: str | None = None,
    doc: str | None = DOC,
    context: list[str] | None = None,
    keywords: list[str] | None = None,
) -> str:
    return json.dumps(
        {
            "id": id,
            "doc": doc,
            "question": question,
            "context": context or [],
            "kind": kind,
            "answer": {"value": "__V__", "unit": unit, "text": "t", "keywords": keywords or []},
        },
        ensure_ascii=False,
    ).replace('"__V__"', value)


@pytest.fixture
def gold_file(tmp_path: Path) -> Path:
    lines = [
        line("a1", "三公经费是多少", "lookup", "5406.0", "元"),
        line("a2", "其中公务接待费呢？", "lookup", "85", "人次", context=["三公经费是多少"]),
        line("a3", "差旅费多少", "lookup", "5363.0", "元"),  # engine says 5600.00: a confident wrong number
        line("a4", "2019年呢", "unanswerable", doc=None),
        line("a5", "什么是三公经费", "narrative", keywords=["公务接待费"]),
        line("a6", "什么是机关运行经费", "narrative", keywords=["购买货物和服务"]),  # engine: not found
    ]
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_evaluate_file_scores_per_kind(gold_file: Path) -> None:
    summary = evaluate_file(FakeEngine(), gold_file)
    assert (summary.total, summary.ok, summary.wrong_numbers, summary.errors) == (6, 4, 1, 0)
    assert summary.accuracy == round(4 / 6, 4)
    assert list(summary.by_kind) == ["lookup", "narrative", "unanswerable"]
    assert summary.by_kind["lookup"].model_dump() == {"ok": 2, "total": 3, "wrong_numbers": 1}
    assert summary.by_kind["narrative"].model_dump() == {"ok": 1, "total": 2, "wrong_numbers": 0}
    assert [r.id for r in summary.failures] == ["a3", "a6"]
    a3 = summary.failures[0]
    assert a3.wrong_number and a3.expected == "5363.0元" and a3.got == "5,600.00元"


def test_context_replayed_in_a_fresh_session_per_item(gold_file: Path) -> None:
    engine = FakeEngine()
    evaluate_file(engine, gold_file)
    questions = [q for q, _, _ in engine.calls]
    assert questions[:3] == ["三公经费是多少", "三公经费是多少", "其中公务接待费呢？"]
    sessions = [s for _, s, _ in engine.calls]
    assert sessions[1] is sessions[2]  # the context turn and its follow-up share a session
    assert sessions[0] is not sessions[1]
    # every item starts with an empty memory, apart from the replayed follow-up
    memory = [m for q, _, m in engine.calls]
    assert memory[2] == ["峨山彝族自治县医疗保障局"]
    assert all(m == [] for i, m in enumerate(memory) if i != 2)


def test_engine_error_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    path.write_text(
        line("e1", "崩溃", "lookup", "1", "元")
        + "\n"
        + line("e2", "三公经费是多少", "lookup", "5406.0", "元")
        + "\n",
        encoding="utf-8",
    )
    summary = evaluate_file(FakeEngine(), path)
    assert summary.errors == 1 and summary.ok == 1
    assert "RuntimeError: boom" in summary.items[0].reason
    assert exit_status(summary, None) == 1


def test_exit_status_thresholds(gold_file: Path, tmp_path: Path) -> None:
    summary = evaluate_file(FakeEngine(), gold_file)
    assert exit_status(summary, None) == 1  # a wrong number fails on its own
    clean = tmp_path / "clean.jsonl"
    clean.write_text(
        "\n".join(gold_file.read_text(encoding="utf-8").splitlines()[:2])
        + "\n"
        + line("m", "没有的问题", "lookup", "1", "元")
        + "\n",
        encoding="utf-8",
    )
    s2 = evaluate_file(FakeEngine(), clean)  # 2/3 right, no wrong number
    assert exit_status(s2, None) == 0
    assert exit_status(s2, 0.6) == 0
    assert exit_status(s2, 0.7) == 1
    assert exit_status(s2, 70) == 1  # a percentage is understood too


@pytest.fixture
def fake_engine_class(monkeypatch: pytest.MonkeyPatch) -> type[FakeEngine]:
    monkeypatch.setattr(engine_module, "Engine", FakeEngine)
    FakeEngine.instances = 0
    return FakeEngine


def test_run_eval_report(gold_file: Path, fake_engine_class: type[FakeEngine]) -> None:
    out = io.StringIO()
    status = run_eval(Settings(), str(gold_file), stdout=out)
    text = out.getvalue()
    assert status == 1
    assert fake_engine_class.instances == 1  # one engine (one model load) for the whole file
    assert "lookup" in text and "narrative" in text and "unanswerable" in text
    assert "a3 (lookup) [WRONG NUMBER]: 差旅费多少" in text
    assert "expected: 5363.0元" in text and "got:      5,600.00元" in text
    assert "missing keywords: 购买货物和服务" in text
    assert "accuracy 66.7% (4/6), wrong numbers 1" in text


def test_run_eval_json_and_out(gold_file: Path, tmp_path: Path, fake_engine_class: type[FakeEngine]) -> None:
    out = io.StringIO()
    answers = tmp_path / "sub" / "answers.jsonl"
    run_eval(Settings(), str(gold_file), out=str(answers), as_json=True, stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["total"] == 6 and summary["wrong_numbers"] == 1
    assert summary["by_kind"]["lookup"] == {"ok": 2, "total": 3, "wrong_numbers": 1}
    assert "answer" not in summary["items"][0]
    rows = [json.loads(x) for x in answers.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a1", "a2", "a3", "a4", "a5", "a6"]
    assert list(rows[0])[0] == "id"
    assert rows[0]["question"] == "三公经费是多少" and rows[0]["values"][0]["value"] == "5406.00"
    assert rows[1]["values"][0]["unit"] == "人次"


def test_run_eval_min_accuracy_only(tmp_path: Path, fake_engine_class: type[FakeEngine]) -> None:
    path = tmp_path / "g.jsonl"
    path.write_text(
        line("a1", "三公经费是多少", "lookup", "5406.0", "元")
        + "\n"
        + line("a4", "2019年呢", "unanswerable", doc=None)
        + "\n",
        encoding="utf-8",
    )
    assert run_eval(Settings(), str(path), min_accuracy=1.0, stdout=io.StringIO()) == 0


def _eval_cli(tmp_path: Path, gold: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``assistant --config … eval GOLD`` in-process (the fake engine stays patched in); (status, stderr)."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[paths]\nindex = "{(tmp_path / "index").as_posix()}"\n', encoding="utf-8")
    status = main(["--config", str(cfg), "eval", str(gold)])
    return status, capsys.readouterr().err


def test_run_eval_bad_line(
    tmp_path: Path, fake_engine_class: type[FakeEngine], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        line("a1", "q", "lookup", "1", "元") + "\n" + '{"id": "a2", "kind": "lookup"\n', encoding="utf-8"
    )
    status, message = _eval_cli(tmp_path, path, capsys)
    assert status == 2
    assert message.count("\n") == 1
    assert message.startswith(f"error: {path}:2: invalid JSON")
    assert fake_engine_class.instances == 0  # no engine (no model) for a broken file


def test_run_eval_missing_file(
    tmp_path: Path, fake_engine_class: type[FakeEngine], capsys: pytest.CaptureFixture[str]
) -> None:
    status, message = _eval_cli(tmp_path, tmp_path / "nope.jsonl", capsys)
    assert status == 2 and message.count("\n") == 1
    assert "nope.jsonl: cannot read" in message
