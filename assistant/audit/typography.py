"""Typography a reviewer marks: doubled punctuation and unbalanced quotes or brackets."""

from __future__ import annotations

import re
from collections.abc import Iterator

from assistant.audit.context import AuditContext
from assistant.audit.findings import Finding

# Two sentence marks in a row (。。 ，， ；。); a run of exactly four is the bold-glyph artefact of some
# PDF exports (十、、、、), not the author's.
_DOUBLED_RE = re.compile(r"(?<![。，、；：！？])[。，、；：！？]{2,3}(?![。，、；：！？])")
_QUAD_RE = re.compile(r"(\S)\1\1\1")  # the bold-glyph artefact (““““), one mark in the report
_PAIRS = (("“", "”"), ("(", ")"), ("《", "》"), ("【", "】"))


def check_typography(ctx: AuditContext) -> Iterator[Finding]:
    """Doubled punctuation (。。，，；。) in a line, and quotes or brackets a paragraph opens and does not
    close (or closes without opening)."""
    for ln in ctx.doc.lines:
        if "\t" in ln.text:
            continue
        for m in _DOUBLED_RE.finditer(ln.text):
            yield Finding.on_line("typography", "info", ctx.report.doc, ln, f"重复标点「{m.group(0)}」")
    for para in ctx.paragraphs:
        if "。" not in para.text:
            continue  # headings and cells of indicator tables, not prose
        text = _QUAD_RE.sub(lambda m: m.group(1) + "\0\0\0", para.text)  # same length: positions hold
        for open_, close in _PAIRS:
            pos = _unbalanced(text, open_, close)
            if pos is None:
                continue
            line, page = para.where(pos)
            yield Finding(
                rule="typography",
                severity="info",
                doc=ctx.report.doc,
                page=page,
                line=line,
                message=f"「{open_}」与「{close}」不成对",
                values=[],
                snippet=ctx.snippet(line),
            )


def _unbalanced(text: str, open_: str, close: str) -> int | None:
    """Position of the first mark that has no partner (a close before any open, or an open never closed)."""
    stack: list[int] = []
    for i, ch in enumerate(text):
        if ch == open_:
            stack.append(i)
        elif ch == close:
            if not stack:
                return i
            stack.pop()
    return stack[0] if stack else None
