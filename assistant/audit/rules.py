"""The audit's rules, registered in one table (id, severity, check), and the run over one report."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from assistant.audit import narrative_rules, report_rules, tables_rules, typography
from assistant.audit.amounts import sum_agreement
from assistant.audit.context import AuditContext
from assistant.audit.findings import SEVERITY_RANK, Finding, FindingValue, Severity
from assistant.models import Document
from assistant.parse.lexicon import to_yuan

Check = Callable[[AuditContext], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    """One check a reviewer makes: its id, the severity of what it finds, and the function."""

    id: str
    severity: Severity
    check: Check

    @property
    def doc(self) -> str:
        """What the rule checks (its function's docstring, on one line)."""
        doc = inspect.getdoc(self.check) if self.check.__doc__ else None
        return " ".join(doc.split()) if doc else ""


RULES: tuple[Rule, ...] = (
    Rule("table.identity", "error", tables_rules.check_table_identities),
    Rule("table.cross", "error", tables_rules.check_cross_tables),
    Rule("narrative.amount", "error", narrative_rules.check_narrative_amounts),
    Rule("narrative.comparison", "error", narrative_rules.check_comparisons),
    Rule("narrative.change", "error", narrative_rules.check_changes),
    Rule("narrative.blank_cell", "error", narrative_rules.check_blank_cells),
    Rule("report.department", "error", report_rules.check_department_name),
    Rule("report.year", "error", report_rules.check_report_year),
    Rule("report.contents", "error", report_rules.check_contents),
    Rule("typography", "info", typography.check_typography),
)


def audit_document(doc: Document, min_severity: Severity = "info") -> list[Finding]:
    """Every finding of every rule on one loaded document, in line order (deterministic).

    A finding's severity is its rule's, or info where two figures differ only by rounding.
    """
    ctx = AuditContext.from_document(doc)
    findings: list[Finding] = []
    seen: set[tuple[str, int, str]] = set()
    for rule in RULES:
        for f in rule.check(ctx):
            key = (f.rule, f.line, f.message)
            if key in seen:
                continue
            seen.add(key)
            if SEVERITY_RANK[f.severity] >= SEVERITY_RANK[min_severity]:
                findings.append(f)
    findings = _one_per_figure(findings)
    findings.sort(key=lambda f: (f.line, [r.id for r in RULES].index(f.rule), f.message))
    return findings


def _one_per_figure(findings: list[Finding]) -> list[Finding]:
    """One finding per wrong figure, reported where it is wrong:
    - a sentence's amount that disagrees with its table also breaks the change rate computed from it;
    - a cell left blank where the prose states its figure also breaks the sums it is part of, unless the
      stated figure would not make them hold either.
    """
    wrong = {(v.line, v.value) for f in findings if f.rule == "narrative.amount" for v in f.values[:1]}
    blanks: dict[tuple[int, str], FindingValue] = {
        (f.values[0].line, f.values[0].label): f.values[1]
        for f in findings
        if f.rule == "narrative.blank_cell" and len(f.values) == 2
    }
    out = []
    for f in findings:
        if f.rule == "narrative.change" and f.values and (f.values[0].line, f.values[0].value) in wrong:
            continue
        if f.rule == "table.identity" and blanks and _explained_by_blanks(f, blanks):
            continue
        out.append(f)
    return out


def _explained_by_blanks(f: Finding, blanks: dict[tuple[int, str], FindingValue]) -> bool:
    """Whether a failing sum holds once its blank cells take the figures the prose states for them."""
    total, *parts = f.values
    unit = total.unit or "元"
    if total.value is None or not any((p.line, p.label) in blanks for p in parts):
        return False
    got = Decimal(0)
    for p in parts:
        stated = blanks.get((p.line, p.label))
        if stated is not None and stated.value is not None:
            yuan = to_yuan(Decimal(stated.value), stated.unit or unit)
            scale = to_yuan(Decimal(1), unit)
            if yuan is None or not scale:
                return False
            got += yuan / scale
        elif p.value is not None:
            got += Decimal(p.value)
    return sum_agreement(Decimal(total.value), got, len(parts), unit) != "different"
