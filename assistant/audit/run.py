"""Auditing files: which files (the corpus or one named), loading them, and the findings as text lines.

Nothing here prints; `assistant audit` (cli.py) and the REPL's :audit print what these return.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from assistant.audit.findings import Finding, Severity
from assistant.audit.rules import RULES, audit_document
from assistant.config import Settings
from assistant.ingest.loaders import IngestError, load_document

SEVERITY_WORDS = {"error": "错误", "warning": "警告", "info": "提示"}


class AuditUsageError(Exception):
    """A --doc that names no file (one line for the user)."""


@dataclass
class AuditRun:
    """The findings of an audit over some files, and the files that could not be read."""

    findings: list[Finding] = field(default_factory=list)
    audited: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def summary(self) -> str:
        """One line: how many reports, errors, warnings and notes."""
        counts = {s: sum(f.severity == s for f in self.findings) for s in SEVERITY_WORDS}
        line = f"{len(self.audited)} 份报告：" + "，".join(
            f"{counts[s]} 处{w}" for s, w in SEVERITY_WORDS.items()
        )
        if self.skipped:
            line += f"；{len(self.skipped)} 个文件无法读取"
        return line


def select_files(settings: Settings, doc: str | None) -> list[Path]:
    """The corpus files to audit: all of them, or the one ``doc`` names (a path, or a corpus file name
    or part of it). Raise AuditUsageError when ``doc`` names nothing or several files."""
    from assistant.store.corpus import corpus_files

    if doc is not None and Path(doc).is_file():
        return [Path(doc)]
    files, _ = corpus_files(settings)
    if doc is None:
        return files
    hits = (
        [p for p in files if p.name == doc]
        or [p for p in files if p.name.startswith(doc)]
        or [p for p in files if doc in p.name]
    )
    if not hits:
        raise AuditUsageError(f"no report file matches --doc {doc!r} (a path or part of a corpus file name)")
    if len(hits) > 1:
        raise AuditUsageError(
            f"--doc {doc!r} matches {len(hits)} files: " + ", ".join(p.name for p in hits[:5])
        )
    return hits


def audit_files(paths: list[Path], min_severity: Severity = "info") -> AuditRun:
    """Load and audit each file; a file that cannot be loaded is skipped with its reason."""
    run = AuditRun()
    for path in paths:
        try:
            doc = load_document(path)
        except IngestError as e:
            run.skipped.append((path.name, e.cause))
            continue
        run.audited.append(doc.doc)
        run.findings.extend(audit_document(doc, min_severity))
    return run


def format_finding(f: Finding) -> list[str]:
    """A finding as text lines: where, severity and rule, the message; the line as printed; the values."""
    where = f"{f.doc} 第{f.line}行" + (f"（第{f.page}页）" if f.page else "")
    out = [f"{where} [{SEVERITY_WORDS[f.severity]} {f.rule}] {f.message}"]
    if f.snippet:
        out.append(f"    » {f.snippet[:160]}")
    for v in f.values:
        value = "空" if v.value is None else f"{v.value}{v.unit or ''}"
        out.append(f"    · {v.label}：{value}（第{v.line}行）")
    return out


def rule_lines() -> list[str]:
    """The rules table as text: id, severity, what it checks."""
    return [f"{r.id:<22}{r.severity:<9}{r.doc}" for r in RULES]
