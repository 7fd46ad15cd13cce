"""The fact store: SQLite under index/, holding reports, aliases and facts. No pickle anywhere.

Index integrity: ``index/manifest.json`` (written last by a build, with tmp + os.replace) records the
format version, the parser version, every report's sha256 and the sha256 of facts.sqlite and of each
file under retrieval/. A build that is about to swap files in first writes ``manifest.next.json``; a
reader accepts each part (facts, retrieval) when it matches either manifest, so a build killed
between two swaps leaves an index that still opens (each part is itself swapped atomically). A part
that matches neither is damaged or foreign: StoreError, advising to rebuild. While a build holds
``index/.build.lock`` (flock), readers wait for it instead of failing on a half-committed index.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from assistant.models import Fact, Mention, Report

FORMAT_VERSION = "4"  # 2: the labels table; 3: the mentions table; 4: short-form keys (terms dkey/tkey), Report.scope
DB_NAME = "facts.sqlite"
MANIFEST_NAME = "manifest.json"
NEXT_MANIFEST_NAME = "manifest.next.json"
LOCK_NAME = ".build.lock"
MANIFEST_FORMAT = 1
RETRIEVAL_SUBDIR = "retrieval"
# How long a reader waits for a running build to finish committing before giving up.
READER_WAIT_SECONDS = 10.0

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
    departments = {json.loads(r[0]).get("department") for r in con.execute(
        f"SELECT json FROM reports WHERE doc IN ({marks})", docs)} - {None, ""}
    con.executemany("DELETE FROM facts WHERE doc = ?", [(d,) for d in docs])
    con.executemany("DELETE FROM mentions WHERE doc = ?", [(d,) for d in docs])
    con.executemany("DELETE FROM reports WHERE doc = ?", [(d,) for d in docs])
    if len(pairs) > 5000:  # most of the store: recompute (a scan of every fact)
        con.execute("DELETE FROM labels")
        con.execute("INSERT INTO labels SELECT DISTINCT metric, label FROM facts ORDER BY metric, label")
    else:  # a label stays while a fact has it (facts_by_metric finds one quickly)
        gone = [p for p in pairs
                if con.execute("SELECT 1 FROM facts WHERE metric = ? AND label = ? LIMIT 1", p).fetchone() is None]
        con.executemany("DELETE FROM labels WHERE metric = ? AND label = ?", gone)
    if departments:  # the aliases of these departments, from the reports that are left
        con.executemany("DELETE FROM aliases WHERE department = ?", [(d,) for d in sorted(departments)])
        for (report_json,) in con.execute("SELECT json FROM reports ORDER BY doc").fetchall():
            meta = json.loads(report_json)
            if meta.get("department") in departments:
                con.executemany("INSERT OR IGNORE INTO aliases VALUES (?, ?)",
                                [(a, meta["department"]) for a in sorted({meta["department"], *meta.get("aliases", [])})])


def set_duplicates(con: sqlite3.Connection, duplicates: dict[str, list[str]]) -> None:
    """Record the duplicates of every report in the store (doc -> file names; absent = none)."""
    docs = [r[0] for r in con.execute("SELECT doc FROM reports")]
    con.executemany("UPDATE reports SET duplicates = ? WHERE doc = ?",
                    [(json.dumps(duplicates.get(d, []), ensure_ascii=False), d) for d in docs])


def set_meta(con: sqlite3.Connection, key: str, value: str) -> None:
    """Set one meta value."""
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def create_indexes(con: sqlite3.Connection) -> None:
    """Create the facts indexes of a store made with create_store(indexes=False), and commit."""
    con.executescript(SCHEMA_INDEXES)
    con.commit()


_INSERT_FACT = f"INSERT INTO facts ({', '.join(FACT_COLUMNS)}) VALUES ({', '.join('?' * len(FACT_COLUMNS))})"
_INSERT_MENTION = f"INSERT INTO mentions ({', '.join(MENTION_COLUMNS)}) VALUES ({', '.join('?' * len(MENTION_COLUMNS))})"
_METRIC, _LABEL = FACT_COLUMNS.index("metric"), FACT_COLUMNS.index("label")


def fact_rows(facts: Iterable[Fact]) -> list[tuple[object, ...]]:
    """Facts as facts-table rows (FACT_COLUMNS order): what write_report_rows stores.

    Plain tuples of str/int/None, so a parse worker can hand them back cheaply.
    """
    return [_fact_row(f) for f in facts]


def mention_rows(mentions: Iterable[Mention]) -> list[tuple[object, ...]]:
    """Mentions as mentions-table rows (MENTION_COLUMNS order), like fact_rows."""
    return [(m.doc, m.line, m.page, str(m.value), m.unit, m.phrase, m.snippet, m.bound) for m in mentions]


def write_report(con: sqlite3.Connection, report: Report, facts: Iterable[Fact], n_tables: int,
                 warnings: list[str], duplicates: list[str], mentions: Iterable[Mention] = ()) -> None:
    """Store one report with its aliases, facts and numeric mentions."""
    write_report_rows(con, report, fact_rows(facts), n_tables, warnings, duplicates, mention_rows(mentions))


def write_report_rows(con: sqlite3.Connection, report: Report, rows: list[tuple[object, ...]], n_tables: int,
                      warnings: list[str], duplicates: list[str],
                      mentions: list[tuple[object, ...]] | None = None) -> None:
    """write_report with the facts (and mentions) already as rows (see fact_rows, mention_rows)."""
    con.execute("INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?)",
                (report.doc, report.sha256, report.model_dump_json(exclude={"copies"}), n_tables,
                 json.dumps(warnings, ensure_ascii=False), json.dumps(duplicates, ensure_ascii=False)))
    if report.department:
        con.executemany("INSERT OR IGNORE INTO aliases VALUES (?, ?)",
                        [(alias, report.department) for alias in sorted({report.department, *report.aliases})])
    con.executemany(_INSERT_FACT, rows)
    if mentions:
        con.executemany(_INSERT_MENTION, mentions)
    # The names a question can use, kept apart so an engine need not scan every fact at start-up.
    con.executemany("INSERT OR IGNORE INTO labels VALUES (?, ?)", sorted({(r[_METRIC], r[_LABEL]) for r in rows}))


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
    con.execute(f"INSERT INTO reports SELECT doc, sha256, json, n_tables, warnings, ? FROM {schema}.reports "
                "WHERE doc = ?", (json.dumps(duplicates, ensure_ascii=False), doc))
    meta = json.loads(row[0])
    if meta.get("department"):
        con.executemany("INSERT OR IGNORE INTO aliases VALUES (?, ?)",
                        [(a, meta["department"]) for a in sorted({meta["department"], *meta.get("aliases", [])})])
    n = con.execute(f"INSERT INTO facts ({', '.join(FACT_COLUMNS)}) SELECT {', '.join(FACT_COLUMNS)} "
                    f"FROM {schema}.facts WHERE doc = ? ORDER BY id", (doc,)).rowcount
    con.execute(f"INSERT OR IGNORE INTO labels SELECT DISTINCT metric, label FROM {schema}.facts WHERE doc = ? "
                "ORDER BY metric, label", (doc,))
    con.execute(f"INSERT INTO mentions ({', '.join(MENTION_COLUMNS)}) SELECT {', '.join(MENTION_COLUMNS)} "
                f"FROM {schema}.mentions WHERE doc = ? ORDER BY id", (doc,))
    return n


# ---------------------------------------------------------------- checksums and the manifest


def sha256_file(path: Path) -> str:
    """Content hash of a file, read in blocks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree_checksums(directory: Path) -> dict[str, str]:
    """relative path -> sha256 of every regular file under ``directory`` (sorted; {} when absent)."""
    if not directory.is_dir():
        return {}
    out = {}
    for p in sorted(directory.rglob("*")):
        if p.is_file():
            out[p.relative_to(directory).as_posix()] = sha256_file(p)
    return out


def file_stamp(path: Path) -> list[int]:
    """Size, modification time and inode: unchanged since the build wrote the manifest ⇒ same bytes.

    Renames keep all three, so a build records them before it swaps its files in; anything that
    rewrites a file afterwards changes them and the file is hashed in full.
    """
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def tree_stamps(directory: Path) -> dict[str, list[int]]:
    """relative path -> file_stamp of every regular file under ``directory``."""
    if not directory.is_dir():
        return {}
    return {p.relative_to(directory).as_posix(): file_stamp(p) for p in sorted(directory.rglob("*")) if p.is_file()}


def source_stamp(st: os.stat_result) -> list[int]:
    """Size, modification and change times, inode and device of a corpus file: a build that finds a
    file with the stamp it recorded reuses the recorded sha256 instead of reading the file again.

    The change time cannot be set from user space (unlike mtime: touch -d, cp -p, rsync -t), so a
    file rewritten in place or replaced by another one gets another stamp.
    """
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def _manifests(index_dir: Path) -> list[dict[str, Any]]:
    out = []
    for name in (MANIFEST_NAME, NEXT_MANIFEST_NAME):
        try:
            m = read_manifest(index_dir / name)
        except StoreError:
            m = None
        if m is not None:
            out.append(m)
    return out


def facts_digest(index_dir: Path, path: Path) -> str:
    """sha256 of facts.sqlite: taken from a manifest whose recorded stamp the file still has,
    otherwise computed (hashing a large store on every start-up would cost seconds)."""
    stamp = file_stamp(path)
    for m in _manifests(index_dir):
        if m.get("facts", {}).get("stamp") == stamp and m["facts"].get("sha256"):
            return str(m["facts"]["sha256"])
    return sha256_file(path)


def retrieval_digest(index_dir: Path, directory: Path) -> dict[str, str]:
    """tree_checksums of retrieval/, taken from a manifest when every file still has its stamp."""
    stamps = tree_stamps(directory)
    for m in _manifests(index_dir):
        if m.get("retrieval_stamps") == stamps and m.get("retrieval") is not None:
            return dict(m["retrieval"])
    return tree_checksums(directory)


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest at ``path``; None when absent; StoreError when unreadable or foreign."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise StoreError(f"{path}: unreadable index manifest ({type(e).__name__}); "
                         "run `assistant index` to rebuild") from None
    if not isinstance(data, dict) or data.get("manifest_format") != MANIFEST_FORMAT \
            or not isinstance(data.get("facts"), dict):
        raise StoreError(f"{path}: not an index manifest of this version; run `assistant index` to rebuild")
    return data


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to ``path`` via a temporary file, fsync and os.replace."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


_held: set[str] = set()  # index dirs whose build lock this process holds


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold ``index_dir/.build.lock`` exclusively (released by the kernel even on SIGKILL)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(f"another `assistant index` is updating {index_dir}; wait for it to finish") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        key = str(index_dir.resolve())
        _held.add(key)
        try:
            yield
        finally:
            _held.discard(key)
    finally:
        os.close(fd)


def build_running(index_dir: Path) -> bool:
    """True while another process holds the build lock of ``index_dir``."""
    if str(index_dir.resolve()) in _held:
        return False  # this process is the builder: nobody to wait for
    try:
        fd = os.open(index_dir / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


def _damaged(index_dir: Path, what: str) -> StoreError:
    return StoreError(f"{index_dir}: {what} — the index is damaged or was changed by hand; "
                      "run `assistant index` to rebuild it")


def verify_index(index_dir: Path, facts_sha: str | None = None) -> dict[str, Any] | None:
    """Check facts.sqlite (hash ``facts_sha`` if given) and retrieval/ against the manifests.

    Returns the manifest the facts match (None for an index built before manifests existed);
    raises StoreError naming what does not match.
    """
    committed = read_manifest(index_dir / MANIFEST_NAME)
    try:
        pending = read_manifest(index_dir / NEXT_MANIFEST_NAME)
    except StoreError:
        pending = None  # a half-written next manifest of a killed build: only the committed one counts
    path = index_dir / DB_NAME
    if facts_sha is None:
        facts_sha = facts_digest(index_dir, path)
    if committed is None:
        if pending is None or pending["facts"].get("sha256") != facts_sha:
            return None  # an index built before manifests existed: only the SQLite format check applies
        committed = pending  # first build killed after its swaps: the next manifest describes them
    candidates = [m for m in (committed, pending) if m is not None]
    facts_ok = [m for m in candidates if m["facts"].get("sha256") == facts_sha]
    if not facts_ok:
        raise _damaged(index_dir, f"{DB_NAME} does not match the index manifest (checksum)")
    retrieval_dir = index_dir / RETRIEVAL_SUBDIR
    if retrieval_dir.exists() and any(m.get("retrieval") is not None for m in candidates):
        got = retrieval_digest(index_dir, retrieval_dir)
        if not any(m.get("retrieval") == got for m in candidates if m.get("retrieval") is not None):
            if any(m.get("retrieval") is not None for m in candidates):
                bad = sorted(set(got) ^ set(committed.get("retrieval") or {})) or sorted(
                    k for k, v in got.items() if (committed.get("retrieval") or {}).get(k) != v)
                raise _damaged(index_dir, f"{RETRIEVAL_SUBDIR}/{bad[0] if bad else ''} does not match the index "
                                          "manifest")
    return facts_ok[0]


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
            if (build_running(index_dir) or _manifest_stamp(index_dir) != seen) and time.monotonic() < deadline:
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
        raise StoreError(f"{path}: not a valid index ({e}); delete {index_dir} and run `assistant index`") from None
    try:
        after = os.stat(path)
    except OSError:
        after = None
    if after is None or (after.st_ino, after.st_dev) != (before.st_ino, before.st_dev):
        con.close()
        return None
    if not version or version[0] != FORMAT_VERSION:
        con.close()
        raise StoreError(f"{path}: index format {version[0] if version else '?'} ≠ {FORMAT_VERSION}; "
                         "run `assistant index` to rebuild")
    return con


def load_reports(con: sqlite3.Connection, *, departments: list[str] | None = None,
                 docs: list[str] | None = None) -> list[Report]:
    """Reports in file-name order: all, or those of ``departments`` / with file names ``docs``."""
    where, args = [], []
    if departments is not None:
        where.append(f"json_extract(json, '$.department') IN ({','.join('?' * len(departments))})")
        args += departments
    if docs is not None:
        where.append(f"doc IN ({','.join('?' * len(docs))})")
        args += docs
    sql = "SELECT json, duplicates FROM reports" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY doc"
    # copies: the byte-identical files indexed once under this report's name
    return [Report.model_validate_json(r[0]).model_copy(update={"copies": json.loads(r[1])})
            for r in con.execute(sql, args)]


def copies_of(con: sqlite3.Connection, docs: Iterable[str]) -> dict[str, list[str]]:
    """doc → the byte-identical copies indexed under it, for those of ``docs`` that have any (one query)."""
    ordered = sorted(set(docs))
    out: dict[str, list[str]] = {}
    for i in range(0, len(ordered), 900):  # stay under SQLite's bound-parameter limit
        part = ordered[i:i + 900]
        for doc, dups in con.execute(f"SELECT doc, duplicates FROM reports WHERE doc IN ({','.join('?' * len(part))})"
                                     " AND duplicates != '[]'", part):
            out[doc] = json.loads(dups)
    return out


def query_facts(con: sqlite3.Connection, *, doc: str | None = None, metric: str | None = None,
                year: int | None = None, docs: list[str] | None = None, like: bool = False,
                qualifier: str | None = None) -> list[Fact]:
    """Facts filtered by document, metric (exact, or substring of metric/label with ``like``), year and
    qualifier (column)."""
    where, args = [], []
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


def query_mentions(con: sqlite3.Connection, docs: list[str], units: Iterable[str] | None = None) -> list[Mention]:
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
    for row in con.execute(f"SELECT {', '.join(MENTION_COLUMNS)} FROM mentions WHERE {where} ORDER BY doc, line, id",
                           args):
        d = dict(zip(MENTION_COLUMNS, row, strict=True))
        d["value"] = Decimal(str(d["value"]))
        out.append(Mention.model_validate(d))
    return out
