"""House rules checked on the source tree: library packages never print (the interfaces decide what
the user sees, see assistant/interfaces/), and no module grows past 500 lines.

The print check reads the syntax tree, so a ``print(`` inside a string or a comment neither hides nor
fakes a call.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "assistant"
# Where printing is the job: the command bodies and printers, and the REPL.
INTERFACE_DIRS = ("interfaces", "repl")
# Known exceptions, each to be removed when its module is reworked.
PRINTING_EXCEPTIONS: set[str] = set()  # none today
MAX_LINES = 500
SIZE_EXCEPTIONS: set[str] = set()  # none today


def output_calls(source: str) -> list[tuple[int, str]]:
    """(line, what) for every print() call and every use of sys.stdout / sys.stderr in ``source``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            found.append((node.lineno, "print()"))
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in ("stdout", "stderr")
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
        ):
            found.append((node.lineno, f"sys.{node.attr}"))
        elif isinstance(node, ast.ImportFrom) and node.module == "sys":
            found.extend(
                (node.lineno, f"from sys import {a.name}")
                for a in node.names
                if a.name in ("stdout", "stderr")
            )
    return found


def _library_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in INTERFACE_DIRS)


def test_the_scan_sees_calls_and_is_not_fooled_by_strings() -> None:
    source = (
        "import sys\nfrom sys import stderr\n"
        'text = "print(1); sys.stdout.write(2)"  # print("comment")\n'
        'def f():\n    print("x", file=sys.stderr)\n    sys.stdout.write("y")\n'
    )
    assert sorted(output_calls(source)) == [
        (2, "from sys import stderr"),
        (5, "print()"),
        (5, "sys.stderr"),
        (6, "sys.stdout"),
    ]
    assert output_calls('x = "print(1)"\n# sys.stderr\n') == []


def test_library_packages_never_print() -> None:
    offenders: list[str] = []
    for path in _library_modules():
        rel = path.relative_to(PACKAGE).as_posix()
        calls = output_calls(path.read_text(encoding="utf-8"))
        if rel in PRINTING_EXCEPTIONS:
            assert calls, f"{rel} no longer prints: remove it from PRINTING_EXCEPTIONS"
            continue
        offenders.extend(f"assistant/{rel}:{line}: {what}" for line, what in calls)
    assert not offenders, (
        "library code writes to the terminal (report through a log callback or a "
        "logger, print in assistant/interfaces/):\n" + "\n".join(offenders)
    )


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.relative_to(PACKAGE).as_posix()
)
def test_no_module_over_500_lines(path: Path) -> None:
    rel = path.relative_to(PACKAGE).as_posix()
    n = len(path.read_text(encoding="utf-8").splitlines())
    if rel in SIZE_EXCEPTIONS:
        return
    assert n <= MAX_LINES, f"assistant/{rel} has {n} lines (> {MAX_LINES}): split it by job"
