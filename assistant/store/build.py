"""`assistant index`: build or update the fact store (and the retrieval index) from the corpus.

The orchestration of a build; its parts are store/corpus.py (which files, their hashes),
store/parsing.py (parallel parsing), store/sql.py (writing the store), store/retrieval_build.py,
store/manifest.py and assistant/atomic_files.py (the commit), store/killpoints.py (fault tests).

Incremental: a file whose content hash is unchanged is not parsed again; its facts are copied from
the previous store. Atomic: the new store and retrieval index are written to a staging directory,
swapped in with os.replace and committed by the index manifest (see build_index), so a build killed
at any point leaves a usable index.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assistant.atomic_files import fsync_dir, remove_dir, swap_dir, write_json_atomic
from assistant.config import Settings
from assistant.models import Document, Report
from assistant.reporting import NO_PROGRESS, Log, Progress, quiet
from assistant.store.corpus import corpus_files, parser_version, source_sha
from assistant.store.db import open_store
from assistant.store.errors import StoreError
from assistant.store.killpoints import kill_point
from assistant.store.lock import build_lock
from assistant.store.manifest import (
    DB_NAME,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    NEXT_MANIFEST_NAME,
    RETRIEVAL_SUBDIR,
    file_stamp,
    read_manifest,
    sha256_file,
    tree_stamps,
)
from assistant.store.parsing import parse_all
from assistant.store.retrieval_build import build_retrieval, retrieval_checksums
from assistant.store.sql import (
    FORMAT_VERSION,
    copy_report,
    create_indexes,
    create_store,
    drop_reports,
    open_store_copy,
    set_duplicates,
    set_meta,
    write_report_rows,
)
from assistant.store.vocabulary import write_vocabulary


@dataclass
class BuildResult:
    """What an index run did."""

    indexed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    duplicates: dict[str, list[str]] = field(default_factory=dict)
    n_facts: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds (bench/build_phases.py)


@dataclass
class _Previous:
    """What a build takes from the previous store."""

    reports: dict[str, tuple[str, str, int, str]] = field(
        default_factory=dict
    )  # doc -> (sha256, json, n_tables, warnings)
    sources: dict[str, list] = field(default_factory=dict)  # path -> source_stamp + [sha256]


def _previous(index_dir: Path) -> _Previous:
    """The previous store's reports (when parsed by this parser version) and recorded source stamps;
    empty when there is no usable store (open_store verifies its checksum against the manifest)."""
    try:
        con = open_store(index_dir)
    except StoreError:
        return _Previous()
    with contextlib.closing(con):
        meta = dict(
            con.execute("SELECT key, value FROM meta WHERE key IN ('parser_version', 'source_stamps')")
        )
        try:
            sources = json.loads(meta.get("source_stamps", "{}"))
        except ValueError:
            sources = {}
        if not isinstance(sources, dict):
            sources = {}
        if meta.get("parser_version") != parser_version():
            return _Previous(sources=sources)
        reports = {
            r[0]: (r[1], r[2], r[3], r[4])
            for r in con.execute("SELECT doc, sha256, json, n_tables, warnings FROM reports")
        }
        return _Previous(reports, sources)


# A retrieval dir being deleted by a facts-only build (atomic_files.remove_dir; _cleanup finishes the job).
_DELETED_RETRIEVAL = f".{RETRIEVAL_SUBDIR}.del-"


def build_index(
    settings: Settings,
    embed: bool = True,
    log: Log = quiet,
    retrieval: bool = True,
    progress: Progress | None = None,
) -> BuildResult:
    """Build or update the index under settings.index_dir; returns what was done.

    Everything is built in ``index/.build-<pid>/`` first (facts.sqlite, retrieval/); then
    manifest.next.json is written, retrieval/ and facts.sqlite are swapped in (each atomically) and
    manifest.next.json becomes manifest.json. Killed at any point, the index still opens: each part
    matches one of the two manifests (see assistant/store/db.py), and the next build cleans up.
    With ``retrieval=False`` only the fact store is built: the manifest records no retrieval index
    and an existing retrieval/ is deleted before the new facts are swapped in (it would describe
    other reports); the next build with retrieval builds it again.
    ``log`` receives the build's report line by line (one line per report, the retrieval summary);
    ``progress`` the reports parsed and passages embedded (assistant/reporting.py; the interface
    draws them, see assistant/interfaces/index.py).
    Raises StoreError when another build holds the index or the retrieval index cannot be built.
    """
    progress = progress if progress is not None else NO_PROGRESS
    index_dir = settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    with build_lock(index_dir):
        _cleanup(index_dir)
        staging = index_dir / f".build-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            return _build(settings, index_dir, staging, embed, retrieval, log, progress)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _cleanup(index_dir: Path) -> None:
    """Remove what killed builds left behind (we hold the lock, so nobody else is building)."""
    final = index_dir / RETRIEVAL_SUBDIR
    olds = sorted(index_dir.glob(f".{RETRIEVAL_SUBDIR}.old-*"))
    if olds and not final.exists():
        os.replace(olds[0], final)  # killed between the two renames of a retrieval swap: put it back
        olds = olds[1:]
    for p in [
        *olds,
        *index_dir.glob(".build-*"),
        *index_dir.glob(f".{DB_NAME}.tmp-*"),
        *index_dir.glob(".*.json.tmp-*"),
        *index_dir.glob(f".{RETRIEVAL_SUBDIR}.tmp-*"),
        *index_dir.glob(f"{_DELETED_RETRIEVAL}*"),
    ]:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


class _Phases:
    """Seconds per build phase, accumulated into BuildResult.timings."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t


@dataclass(frozen=True)
class _BuildContext:
    """What the steps of one build share."""

    index_dir: Path
    version: str  # parser_version() of this build
    prev: _Previous
    retrieval: bool  # the retrieval index is built too (parsed Documents are kept for it)
    result: BuildResult  # filled in as the build goes
    phase: _Phases
    log: Log
    progress: Progress


@dataclass
class _Reuse:
    """A file whose report is copied from the previous store (same content, same parser)."""

    path: Path
    doc: str


def _build(
    settings: Settings,
    index_dir: Path,
    staging: Path,
    embed: bool,
    retrieval: bool,
    log: Log,
    progress: Progress,
) -> BuildResult:
    result = BuildResult()
    phase = _Phases(result.timings)
    version = parser_version()
    with phase("scan"):
        files, skipped = corpus_files(settings)
    result.skipped.extend(skipped)
    with phase("previous"):
        prev = _previous(index_dir)
    by_hash: dict[str, str] = {}
    stamps: dict[str, list] = {}
    pending: list[_Reuse | Path] = []  # in file order: copied from the previous store, or parsed
    with phase("hash"):
        for path in files:
            try:
                sha, stamp = source_sha(path, prev.sources)
            except OSError as e:
                result.skipped.append((path.name, f"cannot read: {e.strerror}"))
                continue
            if stamp is not None:
                stamps[str(path)] = stamp
            if sha in by_hash:
                result.duplicates.setdefault(by_hash[sha], []).append(path.name)
                continue
            by_hash[sha] = path.name
            old = prev.reports.get(path.name)
            if old is not None and old[0] == sha:
                pending.append(_Reuse(path, path.name))
            else:
                pending.append(path)  # parsed below, in parallel when there are many

    facts_tmp = staging / DB_NAME
    ctx = _BuildContext(index_dir, version, prev, retrieval, result, phase, log, progress)
    loaded, reused, manifest_reports = _write_store(ctx, facts_tmp, pending, stamps)
    with phase("fsync + store hash"):
        with facts_tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
    kill_point("after_parse")

    staged_retrieval = staging / RETRIEVAL_SUBDIR
    retrieval_changed = False
    if retrieval:
        with phase("retrieval"):
            retrieval_changed = bool(build_retrieval(settings, staging, loaded, reused, embed, log, progress))
    kill_point("after_retrieval_build")
    with phase("fsync + store hash"):
        facts_sha = sha256_file(facts_tmp)
    with phase("manifest + swap"):
        # No staged retrieval index (facts only, or it could not be built): the manifest records
        # none and the current one is deleted before the facts swap, so it is never served against
        # facts it does not describe.
        has_retrieval = staged_retrieval.is_dir()
        manifest = {
            "manifest_format": MANIFEST_FORMAT,
            "format_version": FORMAT_VERSION,
            "parser_version": version,
            "reports": manifest_reports,
            "duplicates": result.duplicates,
            "facts": {
                "file": DB_NAME,
                "sha256": facts_sha,
                "size": facts_tmp.stat().st_size,
                "stamp": file_stamp(facts_tmp),
            },
            "retrieval_stamps": tree_stamps(staged_retrieval) if has_retrieval else None,
            "retrieval": retrieval_checksums(staged_retrieval, index_dir) if has_retrieval else None,
            "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        write_json_atomic(index_dir / NEXT_MANIFEST_NAME, manifest)
        kill_point("before_retrieval_swap")
        if not has_retrieval:
            remove_dir(index_dir / RETRIEVAL_SUBDIR)
        elif retrieval_changed:
            swap_dir(staged_retrieval, index_dir / RETRIEVAL_SUBDIR)
        kill_point("after_retrieval_swap")
        kill_point("before_facts_swap")
        os.replace(facts_tmp, index_dir / DB_NAME)
        kill_point("after_facts_swap")
        os.replace(index_dir / NEXT_MANIFEST_NAME, index_dir / MANIFEST_NAME)
        fsync_dir(index_dir)
    kill_point("after_manifest")
    return result


def _write_store(
    ctx: _BuildContext,
    facts_tmp: Path,
    pending: list[_Reuse | Path],
    stamps: dict[str, list],
) -> tuple[list[tuple[Document, Report]], list[tuple[Path, Report]], dict[str, str]]:
    """Write the new store to ``facts_tmp``: reports copied from the previous store or parsed (in
    file order); returns the parsed (Document, Report) pairs (Documents only with ``retrieval``),
    the reused (path, Report) pairs (only with ``retrieval``) and doc -> sha256 for the manifest."""
    index_dir, prev, version, retrieval = ctx.index_dir, ctx.prev, ctx.version, ctx.retrieval
    result, phase, log, progress = ctx.result, ctx.phase, ctx.log, ctx.progress
    loaded: list[tuple[Document, Report]] = []
    reused: list[tuple[Path, Report]] = []  # for the retrieval index (it may have to load them again)
    manifest_reports: dict[str, str] = {}
    keep = {p.doc for p in pending if isinstance(p, _Reuse)}
    # Mostly unchanged: start from a copy of the previous store (indexes included) and replace the
    # changed reports. Mostly new: a fresh store, unchanged reports copied in by SQL, indexes built
    # at the end. Readers see the same either way (facts are read ORDER BY doc, line, id).
    patch = len(keep) >= len(pending) - len(keep) and len(keep) > 0
    if patch:
        with phase("reuse copy"):
            shutil.copyfile(index_dir / DB_NAME, facts_tmp)  # verified by _previous (open_store)
            con = open_store_copy(facts_tmp)
            drop_reports(con, set(prev.reports) - keep)
            n_old = dict(con.execute("SELECT doc, count(*) FROM facts GROUP BY doc").fetchall())
    else:
        with phase("store write"):
            con = create_store(facts_tmp, indexes=False)
    try:
        if keep and not patch:
            # read-only: nothing this build does can touch the store it is replacing
            con.execute("ATTACH DATABASE ? AS old", ((index_dir / DB_NAME).resolve().as_uri() + "?mode=ro",))
        parsed = parse_all(pending, keep_docs=retrieval)
        task = progress.start("解析报告", sum(isinstance(p, Path) for p in pending))
        try:
            # Reports go into the store in file order (copied or parsed), so a fresh store numbers
            # the facts as a full build would.
            for item in pending:
                if isinstance(item, _Reuse):
                    sha, report_json, n_tables, warnings_json = prev.reports[item.doc]
                    with phase("reuse copy"):
                        if patch:
                            n = n_old.get(item.doc, 0)
                        else:
                            n = copy_report(con, "old", item.doc, result.duplicates.get(item.doc, []))
                        meta = json.loads(report_json)
                        if retrieval:
                            reused.append((item.path, Report.model_validate_json(report_json)))
                    result.reused.append(item.doc)
                    manifest_reports[item.doc] = sha
                    result.n_facts += n
                    _log_report(log, item.doc, meta, n_tables, n, json.loads(warnings_json), reused=True)
                    continue
                with phase("parse"):
                    _, path, outcome = next(parsed)
                progress.advance(task)
                if isinstance(outcome, str):
                    result.skipped.append((path.name, outcome))
                    continue
                report = outcome.report
                with phase("store write"):
                    write_report_rows(
                        con,
                        report,
                        outcome.rows,
                        outcome.n_tables,
                        outcome.warnings,
                        result.duplicates.get(report.doc, []),
                        outcome.mentions,
                    )
                if outcome.doc is not None:
                    loaded.append((outcome.doc, report))
                result.indexed.append(path.name)
                manifest_reports[report.doc] = report.sha256
                result.n_facts += len(outcome.rows)
                _log_report(
                    log,
                    report.doc,
                    report.model_dump(include={"department", "year", "kind"}),
                    outcome.n_tables,
                    len(outcome.rows),
                    outcome.warnings,
                    reused=False,
                )
        finally:
            parsed.close()  # stops the workers early when the build failed
        with phase("store write"):
            if patch:
                set_duplicates(con, result.duplicates)  # a copy of any report may have come or gone
            set_meta(con, "parser_version", version)
            # corpus file stamps, so the next build need not hash unchanged files (see source_sha)
            set_meta(con, "source_stamps", json.dumps(stamps, ensure_ascii=False, sort_keys=True))
            con.commit()
        if keep and not patch:
            con.execute("DETACH DATABASE old")
        if not patch:
            with phase("indexes"):
                create_indexes(con)  # after the bulk insert: one sort per index
        with phase("vocabulary"):
            write_vocabulary(con)  # what questions can name, looked up without loading (store/vocabulary.py)
            con.commit()
    finally:
        con.close()
    return loaded, reused, manifest_reports


def _log_report(
    log: Log, doc: str, meta: dict, n_tables: int, n_facts: int, warnings: list[str], reused: bool
) -> None:
    """One line per report; ``meta`` holds its department, year and kind."""
    kind = meta.get("kind") or "?"
    state = "unchanged" if reused else "parsed"
    log(
        f"{doc}: {meta.get('department') or '（部门未识别）'} {meta.get('year') or '?'} {kind} — "
        f"{n_tables} tables, {n_facts} facts ({state})"
    )
    for w in warnings[:5]:
        log(f"  warning: {w}")


def index_differences(settings: Settings) -> list[str]:
    """Compare the index with the corpus without rebuilding: integrity (checksums against the index
    manifest), then missing, changed and extra reports; one line per difference ([] = up to date).
    No index or a damaged one raises StoreError."""
    index_dir = settings.index_dir
    prev = _previous_index_or_raise(index_dir)
    manifest = read_manifest(index_dir / MANIFEST_NAME)
    problems: list[str] = []
    if manifest is None:
        problems.append("index has no manifest (built by an older version): run `assistant index`")
    elif manifest.get("parser_version") != parser_version():
        problems.append("index was parsed by another version of the parser: run `assistant index`")
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
            problems.append(f"cannot read: {name} ({e.strerror})")
            continue
        if name not in prev:
            if name in dup_names and sha in indexed_shas:
                continue  # a duplicate of an indexed report, indexed once under the other name
            problems.append(f"missing from index: {name}")
        elif prev[name] != sha:
            problems.append(f"changed since indexing: {name}")
    problems.extend(f"in index but not in corpus: {name}" for name in sorted(set(prev) - set(on_disk)))
    return problems


def _previous_index_or_raise(index_dir: Path) -> dict[str, str]:
    con = open_store(index_dir)  # verifies facts.sqlite and retrieval/ against the manifest
    with con:
        return {r[0]: r[1] for r in con.execute("SELECT doc, sha256 FROM reports")}
