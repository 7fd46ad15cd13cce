"""`assistant eval`: run a gold JSONL file through the engine and score it (assistant.scoring)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol, TextIO

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.table import Table

from assistant.answer.session import Session
from assistant.config import Settings
from assistant.models import Answer
from assistant.repl.render import shorten  # shared with the REPL: width-aware (CJK) shortening
from assistant.scoring import GoldError, GoldItem, load_gold, score_item

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
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


def normalise_min_accuracy(min_accuracy: float | None) -> float | None:
    """--min-accuracy as a fraction: 0.8 and 80 both mean 80 %."""
    if min_accuracy is None:
        return None
    return min_accuracy / 100 if min_accuracy > 1 else min_accuracy


def exit_status(summary: EvalSummary, min_accuracy: float | None) -> int:
    """Non-zero when accuracy is below the threshold, any confident wrong number, or an engine error."""
    threshold = normalise_min_accuracy(min_accuracy)
    if threshold is not None and summary.accuracy < threshold:
        return EXIT_FAILED
    if summary.wrong_numbers or summary.errors:
        return EXIT_FAILED
    return EXIT_OK


def print_report(summary: EvalSummary, console: Console, min_accuracy: float | None = None) -> None:
    """The per-kind table, then each failure with what was expected and what came back."""
    table = Table(title=f"{summary.file}", title_justify="left")
    table.add_column("kind")
    table.add_column("ok", justify="right")
    table.add_column("total", justify="right")
    table.add_column("wrong numbers", justify="right")
    for kind, s in summary.by_kind.items():
        table.add_row(kind, str(s.ok), str(s.total), str(s.wrong_numbers))
    table.add_section()
    table.add_row("all", str(summary.ok), str(summary.total), str(summary.wrong_numbers), style="bold")
    console.print(table)

    for r in summary.failures:
        tag = " [WRONG NUMBER]" if r.wrong_number else ""
        console.print(f"✗ {r.id} ({r.kind}){tag}: {r.question}", markup=False, style="bold")
        console.print(f"    expected: {shorten(r.expected, 90)}", markup=False)
        console.print(f"    got:      {shorten(r.got, 90)}", markup=False)
        console.print(f"    why:      {r.reason}", markup=False, style="dim")

    line = f"accuracy {summary.accuracy:.1%} ({summary.ok}/{summary.total}), wrong numbers {summary.wrong_numbers}"
    if summary.errors:
        line += f", engine errors {summary.errors}"
    threshold = normalise_min_accuracy(min_accuracy)
    if threshold is not None:
        line += f", minimum {threshold:.1%}"
    console.print(line, markup=False)


def write_answers(summary: EvalSummary, out: str | Path) -> None:
    """One answer object per line (Answer JSON plus its item id), in gold file order."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in summary.items:
            record = {"id": r.id, **r.answer.model_dump(mode="json")}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def run_eval(
    settings: Settings,
    path: str,
    out: str | None = None,
    as_json: bool = False,
    min_accuracy: float | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """`assistant eval FILE`: score the engine on a gold file; returns the exit status.

    0 = passed; 1 = accuracy below ``min_accuracy``, a confident wrong number or an engine error;
    2 = the gold file is unreadable or has a bad line (one error line naming file and line).
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        items = load_gold(path)  # before the engine: a bad file fails fast, without loading anything
    except GoldError as e:
        print(f"error: {e}", file=stderr)
        return EXIT_USAGE

    from assistant.answer.engine import Engine

    engine = Engine(settings)
    summary = evaluate_items(engine, items, file=str(path))
    if out:
        write_answers(summary, out)
    if as_json:
        stdout.write(json.dumps(summary.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n")
    else:
        console = Console(file=stdout, highlight=False, no_color=not settings.repl.color or None)
        print_report(summary, console, min_accuracy)
    return exit_status(summary, min_accuracy)
