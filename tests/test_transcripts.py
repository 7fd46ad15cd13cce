"""Exact REPL transcripts (as simonw/llm's tests/test_chat.py): `assistant chat < questions` through the
real CLI over the session's real index, asserted line for line.

Each expected transcript is kept in ONE place — tests/transcripts/chat_session.txt, and README.md's
REPL block — and its questions are the transcript's own ``问> `` lines, so a transcript is its own
script. When answers change on purpose, regenerate both from a real run and review the diff:

    UPDATE_TRANSCRIPTS=1 .venv/bin/python -m pytest tests/test_transcripts.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.repl.app import PROMPT
from tests.conftest import REPO

SESSION = REPO / "tests" / "transcripts" / "chat_session.txt"
README = REPO / "README.md"
# The README's REPL block: a fence opening with the command line, up to the closing fence.
README_BLOCK = re.compile(r"(```\n\$ assistant chat\n)(.*?)(```\n)", re.S)
WIDTH = 100  # the terminal width the transcripts are printed at (rich wraps long lines)
UPDATE = os.environ.get("UPDATE_TRANSCRIPTS", "") not in ("", "0")


def questions_of(transcript: str) -> list[str]:
    """The input lines of a transcript: what follows the echoed prompt."""
    return [line[len(PROMPT) :] for line in transcript.splitlines() if line.startswith(PROMPT)]


def normalise(text: str) -> str:
    """Trailing spaces dropped (rich pads wrapped lines; editors strip them), one final newline."""
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n") + "\n"


def real_run(config: Path, questions: list[str]) -> str:
    """`assistant --config CONFIG chat` with ``questions`` piped in, at WIDTH columns: its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_") and k != "NO_COLOR"}
    env.update(PYTHONPATH=str(REPO), COLUMNS=str(WIDTH), LINES="50")
    p = subprocess.run(
        [sys.executable, "-m", "assistant.interfaces.cli", "--config", str(config), "chat"],
        input="".join(q + "\n" for q in questions),
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=config.parent,
    )
    assert p.returncode == 0 and p.stderr == "", (p.returncode, p.stderr)
    return normalise(p.stdout)


def assert_lines_equal(got: str, expected: str, where: str) -> None:
    """Line-for-line equality, the first differing line named (pytest's diff of long CJK text is hard to read)."""
    got_lines, want_lines = got.splitlines(), expected.splitlines()
    for n, (g, w) in enumerate(zip(got_lines, want_lines, strict=False), start=1):
        assert g == w, (
            f"{where}, line {n}:\n  expected: {w}\n  got:      {g}\n(UPDATE_TRANSCRIPTS=1 rewrites it)"
        )
    assert len(got_lines) == len(want_lines), (
        f"{where}: {len(want_lines)} lines expected, {len(got_lines)} printed"
        "\n(UPDATE_TRANSCRIPTS=1 rewrites it)"
    )


def test_chat_session_transcript(built_config: Path) -> None:
    """Ten turns: numbers, follow-ups (其中…呢, 那2020年呢), :sources, :docs, :use, a question under the
    pinned department, a text question, :reset, an unknown department."""
    expected = SESSION.read_text(encoding="utf-8")
    questions = questions_of(expected)
    assert len(questions) == 10, questions
    got = real_run(built_config, questions)
    if UPDATE:
        SESSION.write_text(got, encoding="utf-8")
        return
    assert_lines_equal(got, expected, str(SESSION.relative_to(REPO)))


def test_readme_transcript_is_a_real_run(built_config: Path) -> None:
    text = README.read_text(encoding="utf-8")
    block = README_BLOCK.search(text)
    assert block, "README.md has no ```$ assistant chat``` block"
    questions = questions_of(block.group(2))
    assert len(questions) >= 3, questions
    got = real_run(built_config, questions)
    if UPDATE:
        README.write_text(text[: block.start(2)] + got + text[block.end(2) :], encoding="utf-8")
        return
    assert_lines_equal(got, block.group(2), "README.md's REPL transcript")


@pytest.mark.parametrize("transcript", [SESSION, README])
def test_transcript_questions_are_found(transcript: Path) -> None:
    # Guards the harness itself: an edit that loses the 问> lines would silently test an empty session.
    text = transcript.read_text(encoding="utf-8")
    if transcript == README:
        match = README_BLOCK.search(text)
        assert match
        text = match.group(2)
    assert questions_of(text) and all(q.strip() for q in questions_of(text))
