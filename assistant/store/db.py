"""The fact store: opening it (checked against the index manifest) and the queries readers run.

The store is SQLite under index/ (schema and writing: store/sql.py); ``index/manifest.json`` records
the checksums a reader verifies (store/manifest.py). A build swaps its parts in one at a time, each
atomically, after writing ``manifest.next.json``: a reader accepts each part when it matches either
manifest, so a build killed between two swaps leaves an index that still opens. While a build holds
``index/.build.lock`` (store/lock.py), readers wait for it instead of failing on a half-committed
index.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from assistant.models import Fact, Mention, Report
from assistant.store.errors import StoreError
from assistant.store.lock import build_running
from assistant.store.manifest import DB_NAME, MANIFEST_NAME, facts_digest, file_stamp, verify_index
from assistant.store.sql import FACT_COLUMNS, FORMAT_VERSION, MENTION_COLUMNS, row_to_fact

__all__ = ["StoreError", "copies_of", "load_reports", "open_store", "query_facts", "query_mentions"]

# How long a reader waits for a running build to finish committing before giving up.
READER_WAIT_SECONDS = 10.0


def open_store(index_dir: Path, verify: bool = True) -> sqlite3.Connection:
    """Open the store read-only; StoreError with advice when it is missing, damaged or not ours.

    With ``verify`` the files are checked against the index manifest first (see the module doc);
    while another process is committing a build, waits up to READER_WAIT_SECONDS for it.
    """
    index_dir = Path(index_dir)
    path = index_dir / DB_NAME
    deadline = time.monotonic() + READER_WAIT_SECONDS
    while True:
        if not path.exists():
            if build_running(index_dir) and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            raise StoreError(f"no index at {index_dir}: run `assistant index` first")
        seen = _manifest_stamp(index_dir)
        try:
            con = _open_checked(index_dir, path, verify)
        except StoreError:
            # A build that committed while we were checking (and may already have released its
            # lock) leaves a new manifest: check again against it.
            if (
                build_running(index_dir) or _manifest_stamp(index_dir) != seen
            ) and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            raise
        if con is not None:
            return con
        # the file was swapped while it was being checked: check the new one


def _manifest_stamp(index_dir: Path) -> list[int] | None:
    try:
        return file_stamp(index_dir / MANIFEST_NAME)
    except OSError:
        return None


def _open_checked(index_dir: Path, path: Path, verify: bool) -> sqlite3.Connection | None:
    try:
        before = os.stat(path)
        facts_sha = facts_digest(index_dir, path) if verify else None
        if verify:
            # A build swapping retrieval/ in while it is being hashed makes files vanish under us: a
            # StoreError, which open_store retries once the build has committed its new manifest.
            verify_index(index_dir, facts_sha)
    except OSError as e:
        raise StoreError(f"{path}: cannot read the index ({e.strerror}); run `assistant index`") from None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise StoreError(f"{path}: cannot open the index ({e}); run `assistant index`") from None
    try:
        version = con.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone()
        con.execute("SELECT count(*) FROM reports").fetchone()
    except sqlite3.DatabaseError as e:
        con.close()
        raise StoreError(
            f"{path}: not a valid index ({e}); delete {index_dir} and run `assistant index`"
        ) from None
    try:
        after = os.stat(path)
    except OSError:
        after = None
    if after is None or (after.st_ino, after.st_dev) != (before.st_ino, before.st_dev):
        con.close()
        return None
    if not version or version[0] != FORMAT_VERSION:
        con.close()
        raise StoreError(
            f"{path}: index format {version[0] if version else '?'} ≠ {FORMAT_VERSION}; "
            "run `assistant index` to rebuild"
        )
    return con


def load_reports(
    con: sqlite3.Connection, *, departments: list[str] | None = None, docs: list[str] | None = None
) -> list[Report]:
    """Reports in file-name order: all, or those of ``departments`` / with file names ``docs``."""
    where: list[str] = []
    args: list[object] = []
    if departments is not None:
        where.append(f"json_extract(json, '$.department') IN ({','.join('?' * len(departments))})")
        args += departments
    if docs is not None:
        where.append(f"doc IN ({','.join('?' * len(docs))})")
        args += docs
    sql = (
        "SELECT json, duplicates FROM reports"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY doc"
    )
    # copies: the byte-identical files indexed once under this report's name
    return [
        Report.model_validate_json(r[0]).model_copy(update={"copies": json.loads(r[1])})
        for r in con.execute(sql, args)
    ]


def copies_of(con: sqlite3.Connection, docs: Iterable[str]) -> dict[str, list[str]]:
    """doc → the byte-identical copies indexed under it, for those of ``docs`` that have any (one query)."""
    ordered = sorted(set(docs))
    out: dict[str, list[str]] = {}
    for i in range(0, len(ordered), 900):  # stay under SQLite's bound-parameter limit
        part = ordered[i : i + 900]
        for doc, dups in con.execute(
            f"SELECT doc, duplicates FROM reports WHERE doc IN ({','.join('?' * len(part))})"
            " AND duplicates != '[]'",
            part,
        ):
            out[doc] = json.loads(dups)
    return out


def query_facts(
    con: sqlite3.Connection,
    *,
    doc: str | None = None,
    metric: str | None = None,
    year: int | None = None,
    docs: list[str] | None = None,
    like: bool = False,
    qualifier: str | None = None,
) -> list[Fact]:
    """Facts filtered by document, metric (exact, or substring of metric/label with ``like``), year and
    qualifier (column)."""
    where: list[str] = []
    args: list[object] = []
    if qualifier is not None:
        where.append("qualifier = ?")
        args.append(qualifier)
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


def query_mentions(
    con: sqlite3.Connection, docs: list[str], units: Iterable[str] | None = None
) -> list[Mention]:
    """The numeric mentions of reports ``docs`` (parse/mentions.py), optionally only those written with
    one of ``units``; in (doc, line) order.

    The contract for the answer side: a question whose metric no fact names, with its reports known,
    asks here for the numbers of those reports in the unit it expects (多少人 → 人/万人, 多少钱 → 元/万元/
    亿元, 百分之几 → %, 几个 → 个 …) and picks the line whose ``phrase`` (the words the number
    quantifies) or ``snippet`` (its sentence) holds the question's remaining words. ``bound`` set means
    the report states a limit (≥90%), not a figure. Numbers already held by facts are not here. Indexed
    by (doc, unit): the cost is that of the reports asked for, not of the store (5,000 reports).
    """
    if not docs:
        return []
    where = f"doc IN ({', '.join('?' * len(docs))})"
    args: list[object] = list(docs)
    if units is not None:
        units = sorted(set(units))
        if not units:
            return []
        where += f" AND unit IN ({', '.join('?' * len(units))})"
        args.extend(units)
    out = []
    for row in con.execute(
        f"SELECT {', '.join(MENTION_COLUMNS)} FROM mentions WHERE {where} ORDER BY doc, line, id", args
    ):
        d = dict(zip(MENTION_COLUMNS, row, strict=True))
        d["value"] = Decimal(str(d["value"]))
        out.append(Mention.model_validate(d))
    return out
