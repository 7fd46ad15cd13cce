"""`assistant index`: build or update the fact store (and the retrieval index) from the corpus.

Incremental: a file whose content hash is unchanged is not parsed again; its facts are copied from
the previous store. Atomic: the new store and retrieval index are written to a staging directory,
swapped in with os.replace and committed by the index manifest (see build_index), so a build killed
at any point leaves a usable index.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.config import Settings
from assistant.models import Document, Fact, Report

if TYPE_CHECKING:
    from assistant.parse.facts import ParsedReport
from assistant.store.db import (
    DB_NAME,
    FACT_COLUMNS,
    FORMAT_VERSION,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    NEXT_MANIFEST_NAME,
    RETRIEVAL_SUBDIR,
    StoreError,
    build_lock,
    create_store,
    file_stamp,
    open_store,
    read_manifest,
    row_to_fact,
    sha256_file,
    tree_checksums,
    tree_stamps,
    write_json_atomic,
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
    """Report files under the corpus paths, sorted by name; and files skipped with a reason.

    Symbolic links (to files or folders) are skipped unless paths.follow_symlinks is true; hidden
    files and folders are ignored; FIFOs, sockets and devices are skipped (reading one would block).
    """
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    follow = settings.paths.follow_symlinks

    def walk(base: Path) -> None:
        for p in sorted(base.rglob("*")):
            if any(part.startswith(".") for part in p.relative_to(base).parts):
                continue
            if p.is_symlink():
                if not follow:
                    skipped.append((p.name, "symbolic link not followed (set paths.follow_symlinks = true)"))
                    continue
                if not p.exists():
                    skipped.append((p.name, "broken symbolic link"))
                    continue
                if p.is_dir():
                    walk(p)  # rglob does not descend into linked folders by itself
                    continue
            if p.is_dir():
                continue
            if not p.is_file():
                skipped.append((p.name, "not a regular file"))
                continue
            if p.suffix.lower() not in SUPPORTED:
                skipped.append((p.name, f"unsupported file type {p.suffix or '(none)'}"))
                continue
            files.append(p)

    for base in settings.corpus_dirs:
        if base.is_file():
            files.append(base)
            continue
        if not base.is_dir():
            skipped.append((str(base), "corpus path not found"))
            continue
        walk(base)
    return sorted(dict.fromkeys(files), key=lambda p: (p.name, str(p))), skipped


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


KILL_ENV = "ASSISTANT_TEST_KILL_AT"
# Named points of a build where the fault tests kill it (SIGKILL) through ASSISTANT_TEST_KILL_AT.
KILL_STAGES = ("after_parse", "after_retrieval_build", "before_retrieval_swap", "after_retrieval_swap",
               "before_facts_swap", "after_facts_swap", "after_manifest")


def _kill_point(stage: str) -> None:
    """Test hook: die here, as a power cut would, when ASSISTANT_TEST_KILL_AT names this stage."""
    if os.environ.get(KILL_ENV) == stage:
        os.kill(os.getpid(), signal.SIGKILL)


def build_index(settings: Settings, embed: bool = True, log=print) -> BuildResult:  # noqa: ANN001
    """Build or update the index under settings.index_dir; returns what was done.

    Everything is built in ``index/.build-<pid>/`` first (facts.sqlite, retrieval/); then
    manifest.next.json is written, retrieval/ and facts.sqlite are swapped in (each atomically) and
    manifest.next.json becomes manifest.json. Killed at any point, the index still opens: each part
    matches one of the two manifests (see assistant/store/db.py), and the next build cleans up.
    Raises StoreError when another build holds the index or the retrieval index cannot be built.
    """
    index_dir = settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    with build_lock(index_dir):
        _cleanup(index_dir)
        staging = index_dir / f".build-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            return _build(settings, index_dir, staging, embed, log)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _cleanup(index_dir: Path) -> None:
    """Remove what killed builds left behind (we hold the lock, so nobody else is building)."""
    final = index_dir / RETRIEVAL_SUBDIR
    olds = sorted(index_dir.glob(f".{RETRIEVAL_SUBDIR}.old-*"))
    if olds and not final.exists():
        os.replace(olds[0], final)  # killed between the two renames of a retrieval swap: put it back
        olds = olds[1:]
    for p in [*olds, *index_dir.glob(".build-*"), *index_dir.glob(f".{DB_NAME}.tmp-*"),
              *index_dir.glob(".*.json.tmp-*"), *index_dir.glob(f".{RETRIEVAL_SUBDIR}.tmp-*")]:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def _build(settings: Settings, index_dir: Path, staging: Path, embed: bool, log) -> BuildResult:  # noqa: ANN001
    result = BuildResult()
    files, skipped = corpus_files(settings)
    result.skipped.extend(skipped)
    prev = _previous(index_dir)
    by_hash: dict[str, str] = {}
    facts_tmp = staging / DB_NAME
    con = create_store(facts_tmp)
    con.execute("INSERT INTO meta VALUES ('parser_version', ?)", (parser_version(),))
    loaded: list[tuple[Document, Report]] = []
    reused: list[tuple[Path, Report]] = []  # loaded only if the retrieval index must be rebuilt
    try:
        pending: list = []  # per file in order: (report, facts, n_tables, warnings), a Path to parse, or None
        for path in files:
            try:
                sha = sha256_file(path)
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
                reused.append((path, report))
                continue
            pending.append(path)  # parsed below, in parallel when there are many
        for slot, path, outcome in _parse_all(pending):
            if isinstance(outcome, str):
                result.skipped.append((path.name, outcome))
                pending[slot] = None
                continue
            doc, parsed = outcome
            pending[slot] = (parsed.report, parsed.facts, len(parsed.tables), parsed.warnings)
            loaded.append((doc, parsed.report))
            result.indexed.append(path.name)
        for item in pending:
            if item is None:
                continue
            report, facts, n_tables, warnings = item
            write_report(con, report, facts, n_tables, warnings, result.duplicates.get(report.doc, []))
            result.n_facts += len(facts)
            _print_report(log, report, facts, n_tables, warnings, report.doc in result.reused)
        con.commit()
    finally:
        con.close()
    with facts_tmp.open("rb+") as fh:
        os.fsync(fh.fileno())
    _kill_point("after_parse")

    retrieval_changed = _build_retrieval(settings, staging, loaded, reused, embed, log)
    _kill_point("after_retrieval_build")
    staged_retrieval = staging / RETRIEVAL_SUBDIR
    manifest = {
        "manifest_format": MANIFEST_FORMAT,
        "format_version": FORMAT_VERSION,
        "parser_version": parser_version(),
        "reports": {item[0].doc: item[0].sha256 for item in pending if item is not None},
        "duplicates": result.duplicates,
        "facts": {"file": DB_NAME, "sha256": sha256_file(facts_tmp), "size": facts_tmp.stat().st_size,
                  "stamp": file_stamp(facts_tmp)},
        "retrieval_stamps": tree_stamps(staged_retrieval) if staged_retrieval.is_dir() else None,
        "retrieval": tree_checksums(staged_retrieval) if staged_retrieval.is_dir() else None,
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json_atomic(index_dir / NEXT_MANIFEST_NAME, manifest)
    _kill_point("before_retrieval_swap")
    if retrieval_changed and staged_retrieval.is_dir():
        _swap_dir(staged_retrieval, index_dir / RETRIEVAL_SUBDIR)
    _kill_point("after_retrieval_swap")
    _kill_point("before_facts_swap")
    os.replace(facts_tmp, index_dir / DB_NAME)
    _kill_point("after_facts_swap")
    os.replace(index_dir / NEXT_MANIFEST_NAME, index_dir / MANIFEST_NAME)
    _fsync_dir(index_dir)
    _kill_point("after_manifest")
    return result


PARALLEL_FROM = 8  # files to parse before a process pool pays for its start-up


def parse_file(path: Path) -> tuple[Document, ParsedReport] | str:
    """Load and parse one file; a string is the one-line reason it was skipped."""
    from assistant.ingest.loaders import IngestError, load_document
    from assistant.parse.facts import parse_document

    try:
        doc = load_document(path)
        return doc, parse_document(doc)
    except IngestError as e:
        return e.cause
    except Exception as e:  # a parser bug must not lose the rest of the corpus
        return f"could not be parsed ({type(e).__name__}: {e})"


def _parse_all(pending: list) -> Iterator[tuple[int, Path, tuple[Document, ParsedReport] | str]]:
    """(slot, path, outcome) for every Path in ``pending``, in order; on all cores when there are many."""
    todo = [(i, p) for i, p in enumerate(pending) if isinstance(p, Path)]
    workers = min(os.cpu_count() or 1, 8)
    if len(todo) < PARALLEL_FROM or workers < 2:
        for i, p in todo:
            yield i, p, parse_file(p)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers) as pool:
        for (i, p), outcome in zip(todo, pool.map(parse_file, [p for _, p in todo], chunksize=4), strict=True):
            yield i, p, outcome


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _swap_dir(new: Path, final: Path) -> None:
    """Replace directory ``final`` by ``new`` (two renames; _cleanup repairs a kill in between)."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.is_symlink() or final.is_file():
        final.unlink()
    elif final.exists():
        os.replace(final, old)
    os.replace(new, final)
    shutil.rmtree(old, ignore_errors=True)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # the retrieval builder never writes into an existing file: links are safe
    except OSError:
        shutil.copy2(src, dst)


def _retrieval_up_to_date(staged: Path, settings: Settings, reports: dict[str, str], embed: bool) -> bool:
    """True when the staged copy of the previous retrieval index already covers exactly these reports
    (so the unchanged documents need not be loaded again: a PDF takes seconds)."""
    from assistant.retrieve.index import FORMAT_VERSION as RETRIEVAL_FORMAT
    from assistant.retrieve.tokenize import tokenizer_signature

    try:
        old = json.loads((staged / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(old, dict) or not isinstance(old.get("docs"), dict):
        return False
    return (
        old.get("format") == RETRIEVAL_FORMAT
        and old.get("chunking") == {"size": settings.chunking.size, "overlap": settings.chunking.overlap}
        and old.get("tokenizer") == tokenizer_signature()
        and (not embed or (bool(old.get("embedded")) and old.get("model") == settings.embedding.model))
        and {k: (v or {}).get("sha256") for k, v in old["docs"].items()} == reports
    )


def _build_retrieval(settings: Settings, staging: Path, loaded: list[tuple[Document, Report]],
                     reused: list[tuple[Path, Report]], embed: bool, log) -> bool:  # noqa: ANN001
    """Build the retrieval index into ``staging/retrieval``; True when it differs from the current one.

    Unchanged reports are not loaded: the retrieval index carries their chunks, BM25 term counts
    and vectors over from the previous index (RetrievalIndex.build ``cached``). One is loaded only
    when the previous index cannot serve it (first build, other chunking or tokenizer rules …).
    """
    try:
        from assistant.retrieve.index import RetrievalIndex
    except ImportError:
        return False

    current = settings.index_dir / RETRIEVAL_SUBDIR
    staged = staging / RETRIEVAL_SUBDIR
    if current.is_dir():
        # the previous index, hard-linked: its manifest, rows and embedding cache make the build incremental
        shutil.copytree(current, staged, copy_function=_link_or_copy, symlinks=False)
    reports = {d.doc: d.sha256 for d, _ in loaded} | {r.doc: r.sha256 for _, r in reused}
    if not loaded and _retrieval_up_to_date(staged, settings, reports, embed):
        log("retrieval: up to date")
        return False
    paths = {r.doc: path for path, r in reused}

    def load(report: Report) -> Document | None:
        from assistant.ingest.loaders import IngestError, load_document

        try:
            return load_document(paths[report.doc])
        except IngestError as e:  # same bytes and code as when it was parsed: should not happen
            log(f"  warning: {e} (left out of the retrieval index)")
            return None

    try:
        stats = RetrievalIndex.build(staging, list(loaded), settings, embed=embed, progress=sys.stderr.isatty(),
                                     cached=[r for _, r in reused], load=load)
    except Exception as e:  # noqa: BLE001 — e.g. the embedding model is missing
        raise StoreError(f"retrieval index could not be built ({type(e).__name__}: {e}); the previous index is "
                         "unchanged (use `assistant index --no-embed` for facts and BM25 only)") from e
    log(f"retrieval: {stats}")
    return not stats.up_to_date


def _print_report(log, report: Report, facts: list[Fact], n_tables: int, warnings: list[str], reused: bool) -> None:  # noqa: ANN001
    kind = report.kind or "?"
    state = "unchanged" if reused else "parsed"
    log(f"{report.doc}: {report.department or '（部门未识别）'} {report.year or '?'} {kind} — "
        f"{n_tables} tables, {len(facts)} facts ({state})")
    for w in warnings[:5]:
        log(f"  warning: {w}")


def run_index(settings: Settings, check: bool = False, embed: bool = True) -> int:
    """CLI body of `assistant index`; exit 0 when everything was indexed, 1 when files were skipped
    (or --check found differences), 2 when the index could not be built."""
    if check:
        return check_index(settings)
    try:
        result = build_index(settings, embed=embed)
    except StoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, reason in result.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    for first, dups in result.duplicates.items():
        print(f"duplicate content: {', '.join(dups)} = {first} (indexed once)")
    print(f"{len(result.indexed)} parsed, {len(result.reused)} unchanged, {len(result.skipped)} skipped, "
          f"{result.n_facts} facts → {settings.index_dir}")
    return 1 if result.skipped else 0


def check_index(settings: Settings) -> int:
    """Compare the index with the corpus without rebuilding: integrity (checksums against the index
    manifest), then missing, changed and extra reports. Exit 0 up to date, 1 otherwise."""
    index_dir = settings.index_dir
    try:
        prev = _previous_index_or_raise(index_dir)
        manifest = read_manifest(index_dir / MANIFEST_NAME)
    except StoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    problems = 0
    if manifest is None:
        print("index has no manifest (built by an older version): run `assistant index`")
        problems += 1
    elif manifest.get("parser_version") != parser_version():
        print("index was parsed by another version of the parser: run `assistant index`")
        problems += 1
    files, _ = corpus_files(settings)
    on_disk: dict[str, Path] = {}
    for p in files:
        on_disk.setdefault(p.name, p)
    dup_names = {d for dups in (manifest or {}).get("duplicates", {}).values() for d in dups}
    indexed_shas = set(prev.values())
    for name, p in on_disk.items():
        try:
            sha = sha256_file(p)
        except OSError as e:
            print(f"cannot read: {name} ({e.strerror})")
            problems += 1
            continue
        if name not in prev:
            if name in dup_names and sha in indexed_shas:
                continue  # a duplicate of an indexed report, indexed once under the other name
            print(f"missing from index: {name}")
            problems += 1
        elif prev[name] != sha:
            print(f"changed since indexing: {name}")
            problems += 1
    for name in sorted(set(prev) - set(on_disk)):
        print(f"in index but not in corpus: {name}")
        problems += 1
    print("index is up to date" if not problems else f"{problems} difference(s): run `assistant index`")
    return 0 if not problems else 1


def _previous_index_or_raise(index_dir: Path) -> dict[str, str]:
    con = open_store(index_dir)  # verifies facts.sqlite and retrieval/ against the manifest
    with con:
        return {r[0]: r[1] for r in con.execute("SELECT doc, sha256 FROM reports")}
