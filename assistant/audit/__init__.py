"""`assistant audit`: a reviewer's reading of a report before it is published.

Each rule (rules.py) is a small function over one parsed report (context.py: its lines, tables, facts
and prose) returning ``Finding`` records (findings.py); nothing here prints.
"""

from assistant.audit.findings import Finding, FindingValue, Severity
from assistant.audit.rules import RULES, Rule, audit_document

__all__ = ["Finding", "FindingValue", "Severity", "RULES", "Rule", "audit_document"]
