"""The error policy of the real CLI, run as a subprocess: an error the user can act on is one line on
stderr naming the file or setting, exit status 2, never a traceback; ``--debug`` shows the traceback.

The commands come from the real parser, so a subcommand added later is covered by the config cases.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.interfaces.cli import build_parser
from tests.conftest import CORPUS, REPO, write_config

GOLD_LINE = (
    '{"id": "e1", "doc": null, "question": "峨山县医保局2021年三公经费多少", "kind": "lookup", '
    '"answer": {"value": 5406.00, "unit": "元"}}'
)
# A sample invocation of the commands that read the index (`index` without --check builds one).
NEEDS_INDEX: dict[str, list[str]] = {
    "index": ["index", "--check"],
    "facts": ["facts", "--metric", "三公经费"],
    "ask": ["ask", "峨山县医保局2021年三公经费多少"],
    "chat": ["chat"],
    "eval": ["eval", "GOLD"],
}


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _invocation(name: str, sub: argparse.ArgumentParser) -> list[str]:
    """A valid command line for ``name``: its sample above, else its positionals and required options
    filled in (a command added later, e.g. `audit`, gets one without editing this file)."""
    if name in NEEDS_INDEX:
        return NEEDS_INDEX[name]
    args = [name]
    for a in sub._actions:
        value = str(next(iter(a.choices))) if a.choices else "1" if a.type in (int, float) else "x"
        if not a.option_strings and a.nargs not in (0, "?", "*"):
            args.append(value)
        elif a.option_strings and a.required:
            args += [a.option_strings[0]] + ([value] if a.nargs != 0 else [])
    return args


def run_cli(cwd: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m assistant.interfaces.cli ARGS`` in ``cwd``, with this checkout on PYTHONPATH."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    clean.update(PYTHONPATH=str(REPO), **env)
    return subprocess.run(
        [sys.executable, "-m", "assistant.interfaces.cli", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean,
    )


def assert_one_error_line(p: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 2, nothing on stdout, exactly one ``error:`` line on stderr containing every needle."""
    assert "Traceback" not in p.stderr, p.stderr
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    assert p.stdout == "", p.stdout
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture
def no_index(tmp_path: Path) -> Path:
    """A folder with a config.toml (the real corpus, an index that does not exist) and a valid gold file."""
    write_config(tmp_path, [CORPUS], tmp_path / "index")
    (tmp_path / "gold.jsonl").write_text(GOLD_LINE + "\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("name", list(NEEDS_INDEX))
def test_without_an_index(no_index: Path, name: str) -> None:
    args = [a.replace("GOLD", str(no_index / "gold.jsonl")) for a in NEEDS_INDEX[name]]
    p = run_cli(no_index, *args, stdin="峨山县医保局2021年三公经费多少\n")
    assert_one_error_line(p, f"no index at {no_index / 'index'}", "run `assistant index`")
    assert not (no_index / "index").exists()


def test_every_subcommand_has_an_index_case_or_none_needed() -> None:
    # `model` works on the embedding model alone; every other command reads the index.
    assert set(_subcommands()) - set(NEEDS_INDEX) <= {"model", "audit"}, sorted(_subcommands())


@pytest.mark.parametrize("name", list(_subcommands()))
def test_missing_config_file(tmp_path: Path, name: str) -> None:
    p = run_cli(tmp_path, "--config", "nope.toml", *_invocation(name, _subcommands()[name]))
    assert_one_error_line(p, "nope.toml", "config file not found")
    assert list(tmp_path.iterdir()) == []  # nothing built, nothing written


@pytest.mark.parametrize("name", list(_subcommands()))
def test_config_with_an_unknown_key(tmp_path: Path, name: str) -> None:
    (tmp_path / "config.toml").write_text('[paths]\ncorpuss = ["corpus"]\n', encoding="utf-8")
    p = run_cli(tmp_path, *_invocation(name, _subcommands()[name]))
    assert_one_error_line(p, "config.toml", "paths.corpuss", "unknown setting", "corpus, index")


def test_unknown_section(tmp_path: Path) -> None:
    cfg = tmp_path / "my.toml"
    cfg.write_text("[retreival]\ntop_k = 3\n", encoding="utf-8")
    p = run_cli(tmp_path, "--config", str(cfg), "facts")
    assert_one_error_line(p, str(cfg), "key retreival: unknown setting", "retrieval")


def test_config_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    p = run_cli(tmp_path, "--config", "cfg", "facts")
    assert_one_error_line(p, "cfg: cannot read the config file")


GOLD_CASES = {
    "missing": (None, "missing.jsonl: cannot read"),
    "a folder": ("folder", "folder.jsonl: cannot read"),
    "invalid JSON": (GOLD_LINE + "\n" + '{"id": "e2", "kind": ', "bad.jsonl:2: invalid JSON"),
    "missing field": ('{"id": "e1", "question": "q", "kind": "lookup"}', "bad.jsonl:1: invalid item: answer"),
    "unknown kind": (GOLD_LINE.replace('"lookup"', '"guess"'), "bad.jsonl:1: invalid item: kind"),
    "duplicate id": (GOLD_LINE + "\n" + GOLD_LINE, "bad.jsonl:2: duplicate id 'e1'"),
}


@pytest.mark.parametrize("case", list(GOLD_CASES))
def test_bad_gold_file(no_index: Path, case: str) -> None:
    text, needle = GOLD_CASES[case]
    name = {"missing": "missing.jsonl", "a folder": "folder.jsonl"}.get(case, "bad.jsonl")
    if case == "a folder":
        (no_index / name).mkdir()
    elif text is not None:
        (no_index / name).write_text(text + "\n", encoding="utf-8")
    # The gold file is read before the index is opened: its error is the one reported.
    assert_one_error_line(run_cli(no_index, "eval", name), needle)


@pytest.mark.parametrize("how", ["--debug", "ASSISTANT_DEBUG=1"])
def test_debug_shows_the_traceback(no_index: Path, how: str) -> None:
    args, env = (["--debug"], {}) if how == "--debug" else ([], {"ASSISTANT_DEBUG": "1"})
    p = run_cli(no_index, *args, "facts", **env)
    assert p.returncode == 2
    assert "Traceback (most recent call last)" in p.stderr and "StoreError" in p.stderr
    assert p.stderr.splitlines()[-1].startswith(f"error: no index at {no_index / 'index'}")


def test_a_bug_is_one_line_exit_70(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_index: Path
) -> None:
    import assistant.interfaces.cli as cli

    def broken(args: argparse.Namespace, settings: object) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "_cmd_facts", broken)
    assert cli.main(["--config", str(no_index / "config.toml"), "facts"]) == 70
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("internal error: ZeroDivisionError: division by zero"), err
    assert "--debug" in err[0]


def test_an_unwritable_out_file_names_it(built_config: Path, tmp_path: Path) -> None:
    (tmp_path / "gold.jsonl").write_text(GOLD_LINE + "\n", encoding="utf-8")
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    out = tmp_path / "a-file" / "answers.jsonl"  # under a file: the folder cannot be made
    p = run_cli(tmp_path, "--config", str(built_config), "eval", "gold.jsonl", "--out", str(out))
    assert_one_error_line(p, f"error: {tmp_path / 'a-file'}: File exists (check the path")


def test_the_entry_point_is_this_main() -> None:
    import importlib
    import tomllib

    from assistant.interfaces import cli

    target = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"][
        "assistant"
    ]
    module, _, name = target.partition(":")
    assert getattr(importlib.import_module(module), name) is cli.main
