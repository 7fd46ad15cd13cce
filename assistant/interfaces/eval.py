"""`assistant eval FILE`: score the engine on a gold file, print the report, write --out, exit status.

The scoring is a library (assistant/evaluate.py, assistant/scoring.py); this module only presents it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.table import Table

from assistant.config import Settings
from assistant.evaluate import EvalSummary, evaluate_items
from assistant.interfaces.exits import EXIT_FAILED, EXIT_OK
from assistant.repl.render import shorten  # shared with the REPL: width-aware (CJK) shortening
from assistant.scoring import load_gold


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
) -> int:
    """`assistant eval FILE`: score the engine on a gold file; returns the exit status.

    0 = passed; 1 = accuracy below ``min_accuracy``, a confident wrong number or an engine error. An
    unreadable gold file or a bad line raises GoldError (naming file and line) before anything loads;
    no index raises StoreError: the CLI prints either as one line, exit 2.
    """
    stdout = stdout or sys.stdout
    items = load_gold(path)  # before the engine: a bad file fails fast, without loading anything

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
