"""`assistant index`: build or update the fact store (and the retrieval index) from the corpus.

Incremental: a file whose content hash is unchanged is not parsed again; its facts are copied from
the previous store. Atomic: the new store is written to a temporary file and swapped in with
os.replace, so a build killed at any point leaves the previous index usable.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path

from assistant.config import Settings
from assistant.models import Document, Fact, Report
from assistant.store.db import (
    DB_NAME,
    FACT_COLUMNS,
    StoreError,
    create_store,
    open_store,
    row_to_fact,
    write_report,
)

SUPPORTED = {".txt", ".md", ".pdf", ".docx"}


@dataclass
class BuildResult:
    """What an index run did."""

    indexed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    duplicates: dict[str, list[str]] = field(default_factory=dict)
    n_facts: int = 0


def corpus_files(settings: Settings) -> tuple[list[Path], list[tuple[str, str]]]:
    """Report files under the corpus paths, sorted by name; and files skipped with a reason."""
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for base in settings.corpus_dirs:
        if base.is_file():
            files.append(base)
            continue
        if not base.is_dir():
            skipped.append((str(base), "corpus path not found"))
            continue
        for p in sorted(base.rglob("*")):
            if any(part.startswith(".") for part in p.relative_to(base).parts) or p.is_dir():
                continue
            if p.is_symlink() and not settings.paths.follow_symlinks:
                skipped.append((p.name, "symbolic link not followed (set paths.follow_symlinks = true)"))
                continue
            if p.suffix.lower() not in SUPPORTED:
                skipped.append((p.name, f"unsupported file type {p.suffix or '(none)'}"))
                continue
            files.append(p)
    return sorted(files, key=lambda p: p.name), skipped


def file_sha256(path: Path) -> str:
    """Content hash of a file."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def parser_version() -> str:
    """Hash of the ingest and parse code: facts parsed by other code are parsed again."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for sub in ("ingest", "parse"):
        for p in sorted((root / sub).glob("*.py")):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _previous(index_dir: Path) -> dict[str, tuple[str, str, int, str]]:
    """doc -> (sha256, report json, n_tables, warnings json) of the previous store, if any."""
    try:
        con = open_store(index_dir)
    except StoreError:
        return {}
    with con:
        row = con.execute("SELECT value FROM meta WHERE key = 'parser_version'").fetchone()
        if not row or row[0] != parser_version():
            return {}
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in con.execute(
            "SELECT doc, sha256, json, n_tables, warnings FROM reports")}


def _previous_facts(index_dir: Path, doc: str) -> list[Fact]:
    con = sqlite3.connect(f"file:{index_dir / DB_NAME}?mode=ro", uri=True)
    try:
        rows = con.execute(f"SELECT {', '.join(FACT_COLUMNS)} FROM facts WHERE doc = ? ORDER BY id", (doc,))
        return [row_to_fact(r) for r in rows]
    finally:
        con.close()


def build_index(settings: Settings, embed: bool = True, log=print) -> BuildResult:  # noqa: ANN001
    """Build or update the store under settings.index_dir; returns what was done."""
    from assistant.ingest.loaders import IngestError, load_document
    from assistant.parse.facts import parse_document

    index_dir = settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    result = BuildResult()
    files, skipped = corpus_files(settings)
    result.skipped.extend(skipped)
    prev = _previous(index_dir)
    by_hash: dict[str, str] = {}
    tmp = index_dir / f".{DB_NAME}.tmp-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    con = create_store(tmp)
    con.execute("INSERT INTO meta VALUES ('parser_version', ?)", (parser_version(),))
    loaded: list[tuple[Document, Report]] = []
    try:
        pending: list[tuple[Report, list[Fact], int, list[str]]] = []
        for path in files:
            try:
                sha = file_sha256(path)
            except OSError as e:
                result.skipped.append((path.name, f"cannot read: {e.strerror}"))
                continue
            if sha in by_hash:
                result.duplicates.setdefault(by_hash[sha], []).append(path.name)
                continue
            by_hash[sha] = path.name
            old = prev.get(path.name)
            if old is not None and old[0] == sha:
                report = Report.model_validate_json(old[1])
                facts = _previous_facts(index_dir, path.name)
                pending.append((report, facts, old[2], json.loads(old[3])))
                result.reused.append(path.name)
                if embed:
                    try:
                        loaded.append((load_document(path), report))
                    except IngestError:
                        pass
                continue
            try:
                doc = load_document(path)
                parsed = parse_document(doc)
            except IngestError as e:
                result.skipped.append((path.name, str(e)))
                continue
            except Exception as e:  # a parser bug must not lose the rest of the corpus
                result.skipped.append((path.name, f"could not be parsed ({type(e).__name__}: {e})"))
                continue
            pending.append((parsed.report, parsed.facts, len(parsed.tables), parsed.warnings))
            loaded.append((doc, parsed.report))
            result.indexed.append(path.name)
        for report, facts, n_tables, warnings in pending:
            write_report(con, report, facts, n_tables, warnings, result.duplicates.get(report.doc, []))
            result.n_facts += len(facts)
            _print_report(log, report, facts, n_tables, warnings, report.doc in result.reused)
        con.commit()
        con.close()
        os.replace(tmp, index_dir / DB_NAME)
    finally:
        if tmp.exists():
            con.close()
            tmp.unlink(missing_ok=True)
    _build_retrieval(settings, loaded, embed, log)
    return result


def _build_retrieval(settings: Settings, loaded: list[tuple[Document, Report]], embed: bool, log) -> None:  # noqa: ANN001
    try:
        from assistant.retrieve.index import RetrievalIndex
    except ImportError:
        return
    stats = RetrievalIndex.build(settings.index_dir, loaded, settings, embed=embed, progress=sys.stderr.isatty())
    log(f"retrieval: {stats}")


def _print_report(log, report: Report, facts: list[Fact], n_tables: int, warnings: list[str], reused: bool) -> None:  # noqa: ANN001
    kind = report.kind or "?"
    state = "unchanged" if reused else "parsed"
    log(f"{report.doc}: {report.department or '（部门未识别）'} {report.year or '?'} {kind} — "
        f"{n_tables} tables, {len(facts)} facts ({state})")
    for w in warnings[:5]:
        log(f"  warning: {w}")


def run_index(settings: Settings, check: bool = False, embed: bool = True) -> int:
    """CLI body of `assistant index`; exit 0 when everything was indexed, 1 when files were skipped."""
    if check:
        return check_index(settings)
    result = build_index(settings, embed=embed)
    for name, reason in result.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    for first, dups in result.duplicates.items():
        print(f"duplicate content: {', '.join(dups)} = {first} (indexed once)")
    print(f"{len(result.indexed)} parsed, {len(result.reused)} unchanged, {len(result.skipped)} skipped, "
          f"{result.n_facts} facts → {settings.index_dir}")
    return 1 if result.skipped else 0


def check_index(settings: Settings) -> int:
    """Compare the index with the corpus without rebuilding: missing, changed and extra reports."""
    try:
        prev = _previous_index_or_raise(settings.index_dir)
    except StoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    files, _ = corpus_files(settings)
    on_disk = {p.name: p for p in files}
    problems = 0
    for name, p in on_disk.items():
        if name not in prev:
            print(f"missing from index: {name}")
            problems += 1
        elif prev[name] != file_sha256(p):
            print(f"changed since indexing: {name}")
            problems += 1
    for name in sorted(set(prev) - set(on_disk)):
        print(f"in index but not in corpus: {name}")
        problems += 1
    print("index is up to date" if not problems else f"{problems} difference(s): run `assistant index`")
    return 0 if not problems else 1


def _previous_index_or_raise(index_dir: Path) -> dict[str, str]:
    con = open_store(index_dir)
    with con:
        return {r[0]: r[1] for r in con.execute("SELECT doc, sha256 FROM reports")}
