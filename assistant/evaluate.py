"""Evaluation: run gold items through an engine and score them (assistant.scoring); no printing.

The `assistant eval` command (report table, --out, exit status) is assistant/interfaces/eval.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from assistant.answer.session import Session
from assistant.models import Answer
from assistant.scoring import GoldItem, load_gold, score_item

# Table order of the gold kinds; kinds a file adds beyond these follow alphabetically.
KIND_ORDER = ["lookup", "computed", "compare", "narrative", "list", "unanswerable"]


class Asker(Protocol):
    """The part of the Engine evaluation needs."""

    def ask(self, question: str, session: Session | None = None) -> Answer: ...


class ItemResult(BaseModel):
    """One gold item, the answer it got and its score."""

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: str
    question: str
    ok: bool
    wrong_number: bool
    reason: str
    expected: str
    got: str
    error: str | None = None  # the engine raised instead of answering
    answer: Answer = Field(exclude=True)  # kept for --out, left out of the JSON summary


class KindStats(BaseModel):
    """Counts for one gold kind."""

    ok: int = 0
    total: int = 0
    wrong_numbers: int = 0


class EvalSummary(BaseModel):
    """The outcome of a gold file: totals, counts per kind and every item's result."""

    model_config = ConfigDict(extra="forbid")

    file: str
    total: int
    ok: int
    accuracy: float
    wrong_numbers: int
    errors: int
    by_kind: dict[str, KindStats]
    items: list[ItemResult]

    @property
    def failures(self) -> list[ItemResult]:
        return [r for r in self.items if not r.ok]


def expected_text(item: GoldItem) -> str:
    """The gold answer as a person reads it: the number with its unit, or the keywords/text."""
    a = item.answer
    if item.kind == "unanswerable":
        return "not_found"
    if a.value is not None:
        return f"{a.value}{a.unit or ''}"
    if a.keywords:
        return "keywords: " + "、".join(a.keywords)
    return a.text


def ask_item(engine: Asker, item: GoldItem) -> Answer:
    """Ask an item's question in a fresh session, after replaying its context turns."""
    session = Session()
    for earlier in item.context:
        engine.ask(earlier, session)
    return engine.ask(item.question, session)


def _kind_key(kind: str) -> tuple[int, str]:
    return (KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), kind)


def summarise(file: str, results: list[ItemResult]) -> EvalSummary:
    """Totals and per-kind counts of item results."""
    by_kind: dict[str, KindStats] = {}
    for r in results:
        stats = by_kind.setdefault(r.kind, KindStats())
        stats.total += 1
        stats.ok += r.ok
        stats.wrong_numbers += r.wrong_number
    ok = sum(r.ok for r in results)
    return EvalSummary(
        file=file,
        total=len(results),
        ok=ok,
        accuracy=round(ok / len(results), 4) if results else 0.0,
        wrong_numbers=sum(r.wrong_number for r in results),
        errors=sum(r.error is not None for r in results),
        by_kind={k: by_kind[k] for k in sorted(by_kind, key=_kind_key)},
        items=results,
    )


def evaluate_items(engine: Asker, items: Iterable[GoldItem], file: str = "") -> EvalSummary:
    """Answer and score gold items with one engine (so a model loads once)."""
    results: list[ItemResult] = []
    for item in items:
        error = None
        try:
            answer = ask_item(engine, item)
        except Exception as e:  # one crashing question must not hide the others' scores
            error = f"{type(e).__name__}: {e}"
            answer = Answer(question=item.question, kind="not_found", text=f"(engine error: {error})")
        score = score_item(item, answer)
        results.append(
            ItemResult(
                id=item.id,
                kind=item.kind,
                question=item.question,
                ok=score.ok and error is None,
                wrong_number=score.wrong_number,
                reason=f"engine error: {error}" if error else score.reason,
                expected=expected_text(item),
                got=answer.text,
                error=error,
                answer=answer,
            )
        )
    return summarise(file, results)


def evaluate_file(engine: Asker, path: str | Path) -> EvalSummary:
    """Load a gold JSONL file and evaluate it (raises GoldError on a bad file)."""
    return evaluate_items(engine, load_gold(path), file=str(path))
