"""The fact store: SQLite under index/, holding reports, aliases and facts. No pickle anywhere."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from assistant.models import Fact, Report

FORMAT_VERSION = "1"
DB_NAME = "facts.sqlite"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE reports (doc TEXT PRIMARY KEY, sha256 TEXT NOT NULL, json TEXT NOT NULL,
                      n_tables INTEGER NOT NULL, warnings TEXT NOT NULL, duplicates TEXT NOT NULL);
CREATE TABLE aliases (alias TEXT NOT NULL, department TEXT NOT NULL, PRIMARY KEY (alias, department));
CREATE TABLE facts (id INTEGER PRIMARY KEY, doc TEXT NOT NULL, department TEXT, year INTEGER, kind TEXT,
                    metric TEXT NOT NULL, label TEXT NOT NULL, code TEXT, qualifier TEXT, value TEXT NOT NULL,
                    unit TEXT NOT NULL, value_yuan TEXT, source TEXT NOT NULL, table_id TEXT, line INTEGER NOT NULL,
                    line_end INTEGER, page INTEGER, snippet TEXT NOT NULL, flags TEXT NOT NULL);
CREATE INDEX facts_by_metric ON facts (metric, department, year);
CREATE INDEX facts_by_doc ON facts (doc);
CREATE INDEX facts_by_code ON facts (code);
"""

FACT_COLUMNS = ("doc", "department", "year", "kind", "metric", "label", "code", "qualifier", "value", "unit",
                "value_yuan", "source", "table_id", "line", "line_end", "page", "snippet", "flags")


class StoreError(Exception):
    """The store is missing, corrupt or of another format version: rebuild it."""


def _fact_row(f: Fact) -> tuple[object, ...]:
    return (f.doc, f.department, f.year, f.kind, f.metric, f.label, f.code, f.qualifier, str(f.value), f.unit,
            None if f.value_yuan is None else str(f.value_yuan), f.source, f.table_id, f.line, f.line_end,
            f.page, f.snippet, json.dumps(f.flags, ensure_ascii=False))


def row_to_fact(row: sqlite3.Row | tuple[object, ...]) -> Fact:
    """A facts table row (in FACT_COLUMNS order) as a Fact."""
    d = dict(zip(FACT_COLUMNS, row, strict=True))
    d["value"] = Decimal(str(d["value"]))
    d["value_yuan"] = None if d["value_yuan"] is None else Decimal(str(d["value_yuan"]))
    d["flags"] = json.loads(str(d["flags"]))
    return Fact.model_validate(d)


def create_store(path: Path) -> sqlite3.Connection:
    """A new, empty store at ``path`` (which must not exist yet)."""
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)
    con.execute("INSERT INTO meta VALUES ('format_version', ?)", (FORMAT_VERSION,))
    return con


def write_report(con: sqlite3.Connection, report: Report, facts: Iterable[Fact], n_tables: int,
                 warnings: list[str], duplicates: list[str]) -> None:
    """Store one report with its aliases and facts."""
    con.execute("INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?)",
                (report.doc, report.sha256, report.model_dump_json(), n_tables,
                 json.dumps(warnings, ensure_ascii=False), json.dumps(duplicates, ensure_ascii=False)))
    if report.department:
        for alias in {report.department, *report.aliases}:
            con.execute("INSERT OR IGNORE INTO aliases VALUES (?, ?)", (alias, report.department))
    con.executemany(f"INSERT INTO facts ({', '.join(FACT_COLUMNS)}) VALUES ({', '.join('?' * len(FACT_COLUMNS))})",
                    [_fact_row(f) for f in facts])


def open_store(index_dir: Path) -> sqlite3.Connection:
    """Open the store read-only; StoreError with advice when it is missing or not ours."""
    path = index_dir / DB_NAME
    if not path.exists():
        raise StoreError(f"no index at {index_dir}: run `assistant index` first")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        version = con.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone()
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path}: not a valid index ({e}); delete {index_dir} and run `assistant index`") from None
    if not version or version[0] != FORMAT_VERSION:
        raise StoreError(f"{path}: index format {version[0] if version else '?'} ≠ {FORMAT_VERSION}; "
                         "run `assistant index` to rebuild")
    return con


def load_reports(con: sqlite3.Connection) -> list[Report]:
    """All reports, in file-name order."""
    return [Report.model_validate_json(r[0]) for r in con.execute("SELECT json FROM reports ORDER BY doc")]


def query_facts(con: sqlite3.Connection, *, doc: str | None = None, metric: str | None = None,
                year: int | None = None, docs: list[str] | None = None, like: bool = False) -> list[Fact]:
    """Facts filtered by document, metric (exact, or substring of metric/label with ``like``) and year."""
    where, args = [], []
    if doc:
        where.append("doc LIKE ?")
        args.append(f"%{doc}%")
    if docs is not None:
        where.append(f"doc IN ({', '.join('?' * len(docs))})")
        args.extend(docs)
    if metric:
        if like:
            where.append("(metric LIKE ? OR label LIKE ?)")
            args.extend([f"%{metric}%"] * 2)
        else:
            where.append("metric = ?")
            args.append(metric)
    if year is not None:
        where.append("year = ?")
        args.append(year)
    sql = f"SELECT {', '.join(FACT_COLUMNS)} FROM facts"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY doc, line, id"
    return [row_to_fact(r) for r in con.execute(sql, args)]
