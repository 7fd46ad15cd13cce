"""The reports of the index, read from the store on demand and kept for the engine's lifetime."""

from __future__ import annotations

import sqlite3

from assistant.models import Report
from assistant.store.db import load_reports


class ReportCatalog:
    """Reports by file and by department. Nothing is loaded up front: opening costs the same for
    7 reports as for 5,000, and a question about one department reads that department's reports."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con
        self._all: list[Report] | None = None
        self._by_doc: dict[str, Report | None] = {}
        self._by_departments: dict[tuple[str, ...], list[Report]] = {}
        self._count: int | None = None

    def all(self) -> list[Report]:
        """Every report in the index, in file-name order."""
        if self._all is None:
            self._all = load_reports(self.con)
            self._by_doc.update((r.doc, r) for r in self._all)
        return list(self._all)

    def report(self, doc: str) -> Report | None:
        """The report of file ``doc``, or None."""
        if doc not in self._by_doc:
            found = load_reports(self.con, docs=[doc])
            self._by_doc[doc] = found[0] if found else None
        return self._by_doc[doc]

    def of(self, departments: list[str] | None) -> list[Report]:
        """Reports of ``departments`` (all reports when none is named), in file-name order."""
        if not departments:
            return self.all()
        # One question asks several times (its reports, the not-found coverage, retrieval filters): read once.
        key = tuple(departments)
        if key not in self._by_departments:
            found = self._by_departments[key] = load_reports(self.con, departments=departments)
            self._by_doc.update((r.doc, r) for r in found)
        return list(self._by_departments[key])

    def count(self) -> int:
        """Number of reports in the index."""
        if self._count is None:
            self._count = self.con.execute("SELECT count(*) FROM reports").fetchone()[0]
        return self._count
