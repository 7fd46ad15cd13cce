"""The bottom toolbar: which department and year follow-up questions refer to, and engine notes."""

from __future__ import annotations

from typing import Any

from prompt_toolkit.formatted_text import StyleAndTextTuples

from assistant.answer.session import Session
from assistant.repl.warmup import LOADING


def context_parts(session: Session) -> tuple[str | None, bool, int | None, bool]:
    """(department, pinned?, year, pinned?) as follow-ups will use them: a pin wins over memory."""
    dept: str | None
    year: int | None
    if session.pinned_department:
        dept, dept_pinned = session.pinned_department, True
    else:
        dept, dept_pinned = ("、".join(session.departments) or None), False
    if session.pinned_year is not None:
        year, year_pinned = session.pinned_year, True
    else:
        year, year_pinned = session.year, False
    return dept, dept_pinned, year, year_pinned


def _attr(engine: Any, name: str) -> Any:
    """An optional engine attribute, called when it is a method; errors count as absent."""
    value = getattr(engine, name, None)
    try:
        return value() if callable(value) else value
    except Exception:  # the toolbar must never break the prompt
        return None


def engine_note(engine: Any) -> str | None:
    """What the engine says about itself, if it says anything (both attributes are optional).

    ``engine.retrieval_loading`` (bool or callable) → a loading notice; ``engine.status_note``
    (str or callable) → shown as is. The REPL passes its RetrievalWarmup (repl/warmup.py), which
    implements both.
    """
    note = _attr(engine, "status_note")
    if isinstance(note, str) and note:
        return note
    if _attr(engine, "retrieval_loading"):
        return LOADING
    return None


def toolbar_text(session: Session, engine: Any = None) -> str:
    """The toolbar as plain text (what tests and --plain read)."""
    dept, dept_pinned, year, year_pinned = context_parts(session)
    parts = [
        f"部门: {dept or '—'}{'（固定）' if dept_pinned else ''}",
        f"年份: {year if year is not None else '—'}{'（固定）' if year_pinned else ''}",
    ]
    note = engine_note(engine) if engine is not None else None
    if note:
        parts.append(note)
    parts.append(":help 命令 · Ctrl-D 退出")
    return " " + " │ ".join(parts) + " "


def toolbar_fragments(session: Session, engine: Any = None) -> StyleAndTextTuples:
    """The toolbar as prompt-toolkit formatted text, with pinned values highlighted."""
    dept, dept_pinned, year, year_pinned = context_parts(session)
    frags: StyleAndTextTuples = [
        ("class:toolbar.label", " 部门: "),
        ("class:toolbar.pinned" if dept_pinned else "class:toolbar.value", dept or "—"),
        ("class:toolbar.label", "（固定）" if dept_pinned else ""),
        ("class:toolbar.label", " │ 年份: "),
        (
            "class:toolbar.pinned" if year_pinned else "class:toolbar.value",
            str(year) if year is not None else "—",
        ),
        ("class:toolbar.label", "（固定）" if year_pinned else ""),
    ]
    note = engine_note(engine) if engine is not None else None
    if note:
        frags += [("class:toolbar.label", " │ "), ("class:toolbar.note", note)]
    frags.append(("class:toolbar.hint", " │ :help 命令 · Ctrl-D 退出 "))
    return [f for f in frags if f[1]]
