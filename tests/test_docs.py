"""README.md against the program (as sqlite-utils' tests/test_docs.py): every subcommand of the real
parser and every REPL meta-command of the real registry has help text and is documented, and the
README documents nothing that does not exist."""

from __future__ import annotations

import argparse
import re

import pytest

from assistant.interfaces.cli import build_parser
from assistant.repl.commands import COMMANDS
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _subparsers() -> argparse._SubParsersAction:
    return next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))


SUBCOMMANDS = sorted(_subparsers().choices)


def _section(title: str) -> str:
    """The README text under ``## title``, up to the next ``## `` heading."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def documented_commands() -> dict[str, str]:
    """Subcommand → its row of the README's command table (``| `assistant NAME …` | what it does |``)."""
    rows = re.findall(r"^\| `assistant (\S+)[^`]*` \|(.*)\|$", _section("Commands"), flags=re.M)
    return {name: text for name, text in rows}


def documented_meta_commands() -> set[str]:
    """The meta-commands named in the README's "Meta-commands (…): `:docs`, …" paragraph."""
    text = _section("The REPL")
    paragraph = text[text.index("Meta-commands") :]
    paragraph = paragraph[: paragraph.find("\n\n")]
    return set(re.findall(r"`(:[a-z]+)", paragraph))


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_has_help(name: str) -> None:
    helps = {a.dest: a.help for a in _subparsers()._choices_actions}
    assert (helps.get(name) or "").strip(), f"`assistant {name}` has no help text in build_parser()"


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_options_have_help(name: str) -> None:
    sub = _subparsers().choices[name]
    missing = [
        a.option_strings[0]
        for a in sub._actions
        if a.option_strings and a.help != argparse.SUPPRESS and not (a.help or "").strip()
    ]
    assert not missing, f"`assistant {name}` options without help: {missing}"


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_is_in_the_readme_table(name: str) -> None:
    rows = documented_commands()
    assert name in rows, f"`assistant {name}` is missing from README.md's command table"
    assert rows[name].strip(), f"README.md's row of `assistant {name}` does not say what it does"


def test_readme_table_names_only_real_commands() -> None:
    assert set(documented_commands()) - set(SUBCOMMANDS) == set()


def test_global_options_are_in_the_readme() -> None:
    for action in build_parser()._actions:
        for option in action.option_strings:
            if option.startswith("--") and option != "--help":
                assert f"`{option}" in _section("Commands"), f"{option} is not described under ## Commands"


@pytest.mark.parametrize("name", COMMANDS.names())
def test_meta_command_has_help(name: str) -> None:
    command = COMMANDS.get(name)
    assert command is not None and command.help.strip(), f"{name} has no help text in the registry"


@pytest.mark.parametrize("name", COMMANDS.names())
def test_meta_command_is_in_the_readme(name: str) -> None:
    assert name in documented_meta_commands(), f"{name} is missing from README.md's meta-command list"


def test_readme_names_only_real_meta_commands() -> None:
    assert documented_meta_commands() - set(COMMANDS.names(aliases=True)) == set()
