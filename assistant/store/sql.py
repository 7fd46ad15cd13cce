"""The fact store's SQLite schema and the statements that write it: reports, aliases, labels, facts
and numeric mentions as rows (no pickle anywhere). Reading is store/db.py."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from assistant.models import Fact, Mention, Report
from assistant.store.errors import StoreError

FORMAT_VERSION = (
    "4"  # 2: the labels table; 3: the mentions table; 4: short-form keys (terms dkey/tkey), Report.scope
)


SCHEMA_TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE reports (doc TEXT PRIMARY KEY, sha256 TEXT NOT NULL, json TEXT NOT NULL,
                      n_tables INTEGER NOT NULL, warnings TEXT NOT NULL, duplicates TEXT NOT NULL);
CREATE TABLE aliases (alias TEXT NOT NULL, department TEXT NOT NULL, PRIMARY KEY (alias, department));
CREATE TABLE labels (metric TEXT NOT NULL, label TEXT NOT NULL, PRIMARY KEY (metric, label));
CREATE TABLE facts (id INTEGER PRIMARY KEY, doc TEXT NOT NULL, department TEXT, year INTEGER, kind TEXT,
                    metric TEXT NOT NULL, label TEXT NOT NULL, code TEXT, qualifier TEXT, value TEXT NOT NULL,
                    unit TEXT NOT NULL, value_yuan TEXT, source TEXT NOT NULL, table_id TEXT, line INTEGER NOT NULL,
                    line_end INTEGER, page INTEGER, snippet TEXT NOT NULL, flags TEXT NOT NULL);
CREATE TABLE mentions (id INTEGER PRIMARY KEY, doc TEXT NOT NULL, line INTEGER NOT NULL, page INTEGER,
                       value TEXT NOT NULL, unit TEXT NOT NULL, phrase TEXT NOT NULL, snippet TEXT NOT NULL,
                       bound TEXT);
"""


SCHEMA_INDEXES = """
CREATE INDEX facts_by_metric ON facts (metric, department, year);
CREATE INDEX facts_by_doc ON facts (doc);
CREATE INDEX facts_by_code ON facts (code);
CREATE INDEX mentions_by_doc ON mentions (doc, unit);
"""


SCHEMA = SCHEMA_TABLES + SCHEMA_INDEXES


MENTION_COLUMNS = ("doc", "line", "page", "value", "unit", "phrase", "snippet", "bound")


FACT_COLUMNS = (
    "doc",
    "department",
    "year",
    "kind",
    "metric",
    "label",
    "code",
    "qualifier",
    "value",
    "unit",
    "value_yuan",
    "source",
    "table_id",
    "line",
    "line_end",
    "page",
    "snippet",
    "flags",
)


def _fact_row(f: Fact) -> tuple[object, ...]:
    return (
        f.doc,
        f.department,
        f.year,
        f.kind,
        f.metric,
        f.label,
        f.code,
        f.qualifier,
        str(f.value),
        f.unit,
        None if f.value_yuan is None else str(f.value_yuan),
        f.source,
        f.table_id,
        f.line,
        f.line_end,
        f.page,
        f.snippet,
        json.dumps(f.flags, ensure_ascii=False),
    )


def row_to_fact(row: sqlite3.Row | tuple[object, ...]) -> Fact:
    """A facts table row (in FACT_COLUMNS order) as a Fact."""
    d = dict(zip(FACT_COLUMNS, row, strict=True))
    d["value"] = Decimal(str(d["value"]))
    d["value_yuan"] = None if d["value_yuan"] is None else Decimal(str(d["value_yuan"]))
    d["flags"] = json.loads(str(d["flags"]))
    return Fact.model_validate(d)


def _staging_connect(path: Path) -> sqlite3.Connection:
    # A staging store is written by one connection and fsynced by the build before it is swapped
    # in: no rollback journal, no syncs; a large cache keeps index sorts in memory.
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA temp_store = MEMORY")
    con.execute("PRAGMA cache_size = -65536")  # KiB
    return con


def create_store(path: Path, indexes: bool = True) -> sqlite3.Connection:
    """A new, empty store at ``path`` (which must not exist yet), tables created and committed.

    Tuned for a bulk write into a new file that its caller fsyncs before anyone reads it (a build's
    staging store). With ``indexes=False`` the facts indexes are left out; the caller creates them
    after its inserts with create_indexes (one sort instead of updating three b-trees per row).
    """
    con = _staging_connect(path)
    con.executescript(SCHEMA_TABLES + (SCHEMA_INDEXES if indexes else ""))
    con.execute("INSERT INTO meta VALUES ('format_version', ?)", (FORMAT_VERSION,))
    con.commit()
    return con


def open_store_copy(path: Path) -> sqlite3.Connection:
    """A connection for updating ``path``, a private copy of a verified store (see create_store)."""
    return _staging_connect(path)


def drop_reports(con: sqlite3.Connection, docs: Iterable[str]) -> None:
    """Delete reports ``docs`` with their facts, and the labels and aliases no other report has."""
    docs = sorted(set(docs))
    if not docs:
        return
    marks = ", ".join("?" * len(docs))
    pairs = con.execute(f"SELECT DISTINCT metric, label FROM facts WHERE doc IN ({marks})", docs).fetchall()
    departments = {
        json.loads(r[0]).get("department")
        for r in con.execute(f"SELECT json FROM reports WHERE doc IN ({marks})", docs)
    } - {None, ""}
    con.executemany("DELETE FROM facts WHERE doc = ?", [(d,) for d in docs])
    con.executemany("DELETE FROM mentions WHERE doc = ?", [(d,) for d in docs])
    con.executemany("DELETE FROM reports WHERE doc = ?", [(d,) for d in docs])
    if len(pairs) > 5000:  # most of the store: recompute (a scan of every fact)
        con.execute("DELETE FROM labels")
        con.execute("INSERT INTO labels SELECT DISTINCT metric, label FROM facts ORDER BY metric, label")
    else:  # a label stays while a fact has it (facts_by_metric finds one quickly)
        gone = [
            p
            for p in pairs
            if con.execute("SELECT 1 FROM facts WHERE metric = ? AND label = ? LIMIT 1", p).fetchone() is None
        ]
        con.executemany("DELETE FROM labels WHERE metric = ? AND label = ?", gone)
    if departments:  # the aliases of these departments, from the reports that are left
        con.executemany("DELETE FROM aliases WHERE department = ?", [(d,) for d in sorted(departments)])
        for (report_json,) in con.execute("SELECT json FROM reports ORDER BY doc").fetchall():
            meta = json.loads(report_json)
            if meta.get("department") in departments:
                con.executemany(
                    "INSERT OR IGNORE INTO aliases VALUES (?, ?)",
                    [(a, meta["department"]) for a in sorted({meta["department"], *meta.get("aliases", [])})],
                )


def set_duplicates(con: sqlite3.Connection, duplicates: dict[str, list[str]]) -> None:
    """Record the duplicates of every report in the store (doc -> file names; absent = none)."""
    docs = [r[0] for r in con.execute("SELECT doc FROM reports")]
    con.executemany(
        "UPDATE reports SET duplicates = ? WHERE doc = ?",
        [(json.dumps(duplicates.get(d, []), ensure_ascii=False), d) for d in docs],
    )


def set_meta(con: sqlite3.Connection, key: str, value: str) -> None:
    """Set one meta value."""
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def create_indexes(con: sqlite3.Connection) -> None:
    """Create the facts indexes of a store made with create_store(indexes=False), and commit."""
    con.executescript(SCHEMA_INDEXES)
    con.commit()


_INSERT_FACT = f"INSERT INTO facts ({', '.join(FACT_COLUMNS)}) VALUES ({', '.join('?' * len(FACT_COLUMNS))})"


_INSERT_MENTION = (
    f"INSERT INTO mentions ({', '.join(MENTION_COLUMNS)}) VALUES ({', '.join('?' * len(MENTION_COLUMNS))})"
)


_METRIC, _LABEL = FACT_COLUMNS.index("metric"), FACT_COLUMNS.index("label")


def fact_rows(facts: Iterable[Fact]) -> list[tuple[object, ...]]:
    """Facts as facts-table rows (FACT_COLUMNS order): what write_report_rows stores.

    Plain tuples of str/int/None, so a parse worker can hand them back cheaply.
    """
    return [_fact_row(f) for f in facts]


def mention_rows(mentions: Iterable[Mention]) -> list[tuple[object, ...]]:
    """Mentions as mentions-table rows (MENTION_COLUMNS order), like fact_rows."""
    return [(m.doc, m.line, m.page, str(m.value), m.unit, m.phrase, m.snippet, m.bound) for m in mentions]


def write_report(
    con: sqlite3.Connection,
    report: Report,
    facts: Iterable[Fact],
    n_tables: int,
    warnings: list[str],
    duplicates: list[str],
    mentions: Iterable[Mention] = (),
) -> None:
    """Store one report with its aliases, facts and numeric mentions."""
    write_report_rows(con, report, fact_rows(facts), n_tables, warnings, duplicates, mention_rows(mentions))


def write_report_rows(
    con: sqlite3.Connection,
    report: Report,
    rows: list[tuple[object, ...]],
    n_tables: int,
    warnings: list[str],
    duplicates: list[str],
    mentions: list[tuple[object, ...]] | None = None,
) -> None:
    """write_report with the facts (and mentions) already as rows (see fact_rows, mention_rows)."""
    con.execute(
        "INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?)",
        (
            report.doc,
            report.sha256,
            report.model_dump_json(exclude={"copies"}),
            n_tables,
            json.dumps(warnings, ensure_ascii=False),
            json.dumps(duplicates, ensure_ascii=False),
        ),
    )
    if report.department:
        con.executemany(
            "INSERT OR IGNORE INTO aliases VALUES (?, ?)",
            [(alias, report.department) for alias in sorted({report.department, *report.aliases})],
        )
    con.executemany(_INSERT_FACT, rows)
    if mentions:
        con.executemany(_INSERT_MENTION, mentions)
    # The names a question can use, kept apart so an engine need not scan every fact at start-up.
    con.executemany(
        "INSERT OR IGNORE INTO labels VALUES (?, ?)", sorted({(r[_METRIC], r[_LABEL]) for r in rows})
    )


def copy_report(con: sqlite3.Connection, schema: str, doc: str, duplicates: list[str]) -> int:
    """Copy report ``doc`` with its facts, aliases and labels from the attached store ``schema``
    into the main store of ``con``, in SQL (no Fact objects); returns the number of facts copied.

    Facts keep their relative order (ORDER BY id); they get new ids in the order they are
    inserted, so a build that copies and writes reports in file order numbers every fact as a
    full build would.
    """
    row = con.execute(f"SELECT json FROM {schema}.reports WHERE doc = ?", (doc,)).fetchone()
    if row is None:
        raise StoreError(f"report {doc} is not in the previous store")
    con.execute(
        f"INSERT INTO reports SELECT doc, sha256, json, n_tables, warnings, ? FROM {schema}.reports "
        "WHERE doc = ?",
        (json.dumps(duplicates, ensure_ascii=False), doc),
    )
    meta = json.loads(row[0])
    if meta.get("department"):
        con.executemany(
            "INSERT OR IGNORE INTO aliases VALUES (?, ?)",
            [(a, meta["department"]) for a in sorted({meta["department"], *meta.get("aliases", [])})],
        )
    n = con.execute(
        f"INSERT INTO facts ({', '.join(FACT_COLUMNS)}) SELECT {', '.join(FACT_COLUMNS)} "
        f"FROM {schema}.facts WHERE doc = ? ORDER BY id",
        (doc,),
    ).rowcount
    con.execute(
        f"INSERT OR IGNORE INTO labels SELECT DISTINCT metric, label FROM {schema}.facts WHERE doc = ? "
        "ORDER BY metric, label",
        (doc,),
    )
    con.execute(
        f"INSERT INTO mentions ({', '.join(MENTION_COLUMNS)}) SELECT {', '.join(MENTION_COLUMNS)} "
        f"FROM {schema}.mentions WHERE doc = ? ORDER BY id",
        (doc,),
    )
    return n
