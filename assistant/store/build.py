"""`assistant index`: build or update the fact store (and the retrieval index) from the corpus.

Incremental: a file whose content hash is unchanged is not parsed again; its facts are copied from
the previous store. Atomic: the new store and retrieval index are written to a staging directory,
swapped in with os.replace and committed by the index manifest (see build_index), so a build killed
at any point leaves a usable index.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.config import Settings
from assistant.models import Document, Report
from assistant.progress import BuildProgress

if TYPE_CHECKING:
    from assistant.parse.facts import ParsedReport
from assistant.store.db import (
    DB_NAME,
    FORMAT_VERSION,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    NEXT_MANIFEST_NAME,
    RETRIEVAL_SUBDIR,
    StoreError,
    build_lock,
    copy_report,
    create_indexes,
    create_store,
    drop_reports,
    fact_rows,
    file_stamp,
    mention_rows,
    open_store,
    open_store_copy,
    read_manifest,
    set_duplicates,
    set_meta,
    sha256_file,
    source_stamp,
    tree_stamps,
    write_json_atomic,
    write_report_rows,
)
from assistant.store.vocabulary import write_vocabulary

SUPPORTED = {".txt", ".md", ".pdf", ".docx", ".html", ".htm", ".xlsx", ".xls"}  # = ingest SUPPORTED_SUFFIXES


@dataclass
class BuildResult:
    """What an index run did."""

    indexed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    duplicates: dict[str, list[str]] = field(default_factory=dict)
    n_facts: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds (bench/build_phases.py)


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
    """Hash of the ingest and parse code (and of naming.py, which derives a report's aliases): facts
    and metadata made by other code are made again."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for sub in ("ingest", "parse"):
        for p in sorted((root / sub).glob("*.py")):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    h.update((root / "naming.py").read_bytes())
    return h.hexdigest()[:16]


@dataclass
class _Previous:
    """What a build takes from the previous store."""

    reports: dict[str, tuple[str, str, int, str]] = field(default_factory=dict)  # doc -> (sha256, json, n_tables, warnings)
    sources: dict[str, list] = field(default_factory=dict)  # path -> source_stamp + [sha256]


def _previous(index_dir: Path) -> _Previous:
    """The previous store's reports (when parsed by this parser version) and recorded source stamps;
    empty when there is no usable store (open_store verifies its checksum against the manifest)."""
    try:
        con = open_store(index_dir)
    except StoreError:
        return _Previous()
    with contextlib.closing(con):
        meta = dict(con.execute("SELECT key, value FROM meta WHERE key IN ('parser_version', 'source_stamps')"))
        try:
            sources = json.loads(meta.get("source_stamps", "{}"))
        except ValueError:
            sources = {}
        if not isinstance(sources, dict):
            sources = {}
        if meta.get("parser_version") != parser_version():
            return _Previous(sources=sources)
        reports = {r[0]: (r[1], r[2], r[3], r[4]) for r in con.execute(
            "SELECT doc, sha256, json, n_tables, warnings FROM reports")}
        return _Previous(reports, sources)


# A file changed within this many seconds of being hashed gets no recorded stamp (it is hashed again
# next time): a write in the same timestamp tick as our read would otherwise leave the stamp as it was.
RACY_SECONDS = 2.0


def _source_sha(path: Path, known: dict[str, list]) -> tuple[str, list | None]:
    """sha256 of a corpus file and the stamp to record for it (None: do not trust a stamp next time).

    A file whose stamp (size, mtime, ctime, inode, device) is the one recorded by the previous build
    is not read again; see source_stamp and RACY_SECONDS for why that is safe.
    """
    st = os.stat(path)
    stamp = source_stamp(st)
    rec = known.get(str(path))
    if isinstance(rec, list) and len(rec) == len(stamp) + 1 and rec[:-1] == stamp and isinstance(rec[-1], str):
        return rec[-1], rec
    now = time.time_ns()
    sha = sha256_file(path)
    if source_stamp(os.stat(path)) != stamp or max(st.st_mtime_ns, st.st_ctime_ns) > now - RACY_SECONDS * 1e9:
        return sha, None
    return sha, [*stamp, sha]


KILL_ENV = "ASSISTANT_TEST_KILL_AT"
# Named points of a build where the fault tests kill it (SIGKILL) through ASSISTANT_TEST_KILL_AT.
KILL_STAGES = ("after_parse", "after_retrieval_build", "before_retrieval_swap", "after_retrieval_swap",
               "before_facts_swap", "after_facts_swap", "after_manifest")
# A retrieval dir being deleted by a facts-only build (_cleanup finishes the job after a kill).
_DELETED_RETRIEVAL = f".{RETRIEVAL_SUBDIR}.del-"


def _kill_point(stage: str) -> None:
    """Test hook: die here, as a power cut would, when ASSISTANT_TEST_KILL_AT names this stage."""
    if os.environ.get(KILL_ENV) == stage:
        os.kill(os.getpid(), signal.SIGKILL)


def build_index(settings: Settings, embed: bool = True, log=print, retrieval: bool = True,  # noqa: ANN001
                progress: BuildProgress | None = None) -> BuildResult:
    """Build or update the index under settings.index_dir; returns what was done.

    Everything is built in ``index/.build-<pid>/`` first (facts.sqlite, retrieval/); then
    manifest.next.json is written, retrieval/ and facts.sqlite are swapped in (each atomically) and
    manifest.next.json becomes manifest.json. Killed at any point, the index still opens: each part
    matches one of the two manifests (see assistant/store/db.py), and the next build cleans up.
    With ``retrieval=False`` only the fact store is built: the manifest records no retrieval index
    and an existing retrieval/ is deleted before the new facts are swapped in (it would describe
    other reports); the next build with retrieval builds it again.
    ``progress``: bars for reports parsed and passages embedded (`assistant index` on a terminal).
    Raises StoreError when another build holds the index or the retrieval index cannot be built.
    """
    progress = progress if progress is not None else BuildProgress(False)
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
    for p in [*olds, *index_dir.glob(".build-*"), *index_dir.glob(f".{DB_NAME}.tmp-*"),
              *index_dir.glob(".*.json.tmp-*"), *index_dir.glob(f".{RETRIEVAL_SUBDIR}.tmp-*"),
              *index_dir.glob(f"{_DELETED_RETRIEVAL}*")]:
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


@dataclass
class _Reuse:
    """A file whose report is copied from the previous store (same content, same parser)."""

    path: Path
    doc: str


@dataclass
class _Parsed:
    """What the store needs of a parsed file: facts as rows, not Fact objects (cheap to pickle back
    from a worker); the Document only when the retrieval index is built too."""

    doc: Document | None
    report: Report
    rows: list[tuple[object, ...]]
    n_tables: int
    warnings: list[str]
    mentions: list[tuple[object, ...]] = field(default_factory=list)  # numeric mentions as rows


def _build(settings: Settings, index_dir: Path, staging: Path, embed: bool, retrieval: bool,
           log, progress: BuildProgress) -> BuildResult:  # noqa: ANN001
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
                sha, stamp = _source_sha(path, prev.sources)
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
    loaded, reused, manifest_reports = _write_store(facts_tmp, index_dir, prev, pending, stamps, version, retrieval,
                                                    result, phase, log, progress)
    with phase("fsync + store hash"):
        with facts_tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
    _kill_point("after_parse")

    staged_retrieval = staging / RETRIEVAL_SUBDIR
    retrieval_changed = False
    if retrieval:
        with phase("retrieval"):
            retrieval_changed = bool(_build_retrieval(settings, staging, loaded, reused, embed, log, progress))
    _kill_point("after_retrieval_build")
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
            "facts": {"file": DB_NAME, "sha256": facts_sha, "size": facts_tmp.stat().st_size,
                      "stamp": file_stamp(facts_tmp)},
            "retrieval_stamps": tree_stamps(staged_retrieval) if has_retrieval else None,
            "retrieval": _retrieval_checksums(staged_retrieval, index_dir) if has_retrieval else None,
            "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        write_json_atomic(index_dir / NEXT_MANIFEST_NAME, manifest)
        _kill_point("before_retrieval_swap")
        if not has_retrieval:
            _remove_dir(index_dir / RETRIEVAL_SUBDIR)
        elif retrieval_changed:
            _swap_dir(staged_retrieval, index_dir / RETRIEVAL_SUBDIR)
        _kill_point("after_retrieval_swap")
        _kill_point("before_facts_swap")
        os.replace(facts_tmp, index_dir / DB_NAME)
        _kill_point("after_facts_swap")
        os.replace(index_dir / NEXT_MANIFEST_NAME, index_dir / MANIFEST_NAME)
        _fsync_dir(index_dir)
    _kill_point("after_manifest")
    return result


def _write_store(facts_tmp: Path, index_dir: Path, prev: _Previous, pending: list[_Reuse | Path],
                 stamps: dict[str, list], version: str, retrieval: bool, result: BuildResult, phase: _Phases,
                 log, progress: BuildProgress,  # noqa: ANN001
                 ) -> tuple[list[tuple[Document, Report]], list[tuple[Path, Report]], dict[str, str]]:
    """Write the new store to ``facts_tmp``: reports copied from the previous store or parsed (in
    file order); returns the parsed (Document, Report) pairs (Documents only with ``retrieval``),
    the reused (path, Report) pairs (only with ``retrieval``) and doc -> sha256 for the manifest."""
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
        parsed = _parse_all(pending, keep_docs=retrieval)
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
                    _print_report(log, item.doc, meta, n_tables, n, json.loads(warnings_json), reused=True)
                    continue
                with phase("parse"):
                    _, path, outcome = next(parsed)
                progress.advance(task)
                if isinstance(outcome, str):
                    result.skipped.append((path.name, outcome))
                    continue
                report = outcome.report
                with phase("store write"):
                    write_report_rows(con, report, outcome.rows, outcome.n_tables, outcome.warnings,
                                      result.duplicates.get(report.doc, []), outcome.mentions)
                if outcome.doc is not None:
                    loaded.append((outcome.doc, report))
                result.indexed.append(path.name)
                manifest_reports[report.doc] = report.sha256
                result.n_facts += len(outcome.rows)
                _print_report(log, report.doc, report.model_dump(include={"department", "year", "kind"}),
                              outcome.n_tables, len(outcome.rows), outcome.warnings, reused=False)
        finally:
            parsed.close()  # stops the workers early when the build failed
        with phase("store write"):
            if patch:
                set_duplicates(con, result.duplicates)  # a copy of any report may have come or gone
            set_meta(con, "parser_version", version)
            # corpus file stamps, so the next build need not hash unchanged files (see _source_sha)
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


# Files to parse before a process pool pays: every worker warms up once (regexes, pydantic schemas:
# ~0.3 s) and the machine is often shared; measured on 2 busy cores, serial parsing was still as fast
# at 12 files (bench/build_phases.py, see the build report).
PARALLEL_FROM = 8


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


def _parse_for_store(path: Path, keep_doc: bool) -> _Parsed | str:
    """parse_file, reduced to what the build keeps (runs in a worker process)."""
    outcome = parse_file(path)
    if isinstance(outcome, str):
        return outcome
    doc, parsed = outcome
    try:
        rows = fact_rows(parsed.facts)
        mentions = mention_rows(parsed.mentions)
    except Exception as e:  # noqa: BLE001 — as in parse_file: one bad report must not stop the build
        return f"could not be parsed ({type(e).__name__}: {e})"
    return _Parsed(doc if keep_doc else None, parsed.report, rows, len(parsed.tables), list(parsed.warnings),
                   mentions)


def _parse_all(pending: list, keep_docs: bool = True) -> Iterator[tuple[int, Path, _Parsed | str]]:
    """(slot, path, outcome) for every Path in ``pending``, in order; on all cores when there are many."""
    todo = [(i, p) for i, p in enumerate(pending) if isinstance(p, Path)]
    work = functools.partial(_parse_for_store, keep_doc=keep_docs)
    workers = min(os.cpu_count() or 1, 8, len(todo))
    if len(todo) < PARALLEL_FROM or workers < 2:
        for i, p in todo:
            yield i, p, work(p)
        return
    from concurrent.futures import ProcessPoolExecutor

    import assistant.parse.facts  # noqa: F401 — imported once here, inherited by the forked workers

    # Small chunks keep the workers evenly loaded (a PDF takes seconds, a text report 0.1 s); a
    # chunk of 4 already makes the per-task overhead negligible.
    chunksize = max(1, min(4, len(todo) // (workers * 4)))
    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        for (i, p), outcome in zip(todo, pool.map(work, [p for _, p in todo], chunksize=chunksize), strict=True):
            yield i, p, outcome
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


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


def _retrieval_checksums(staged: Path, index_dir: Path) -> dict[str, str]:
    """tree_checksums of the staged retrieval index; a file hard-linked from the current index with
    the stamp the committed manifest recorded for it keeps the recorded checksum (as readers trust
    it, see db.retrieval_digest) instead of being read again."""
    try:
        m = read_manifest(index_dir / MANIFEST_NAME) or {}
    except StoreError:
        m = {}
    old_stamps, old_sums = m.get("retrieval_stamps") or {}, m.get("retrieval") or {}
    out = {}
    for rel, stamp in tree_stamps(staged).items():
        known = old_sums.get(rel) if old_stamps.get(rel) == stamp else None
        out[rel] = known if isinstance(known, str) else sha256_file(staged / rel)
    return out


def _remove_dir(final: Path) -> None:
    """Delete directory ``final`` (a rename first: no reader sees it half deleted)."""
    if final.is_symlink() or final.is_file():
        final.unlink()
        return
    if not final.exists():
        return
    gone = final.with_name(f"{_DELETED_RETRIEVAL}{os.getpid()}")
    os.replace(final, gone)
    shutil.rmtree(gone, ignore_errors=True)


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
                     reused: list[tuple[Path, Report]], embed: bool, log,  # noqa: ANN001
                     progress: BuildProgress) -> bool:
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
        stats = RetrievalIndex.build(staging, list(loaded), settings, embed=embed, progress=progress,
                                     cached=[r for _, r in reused], load=load)
    except Exception as e:  # noqa: BLE001 — e.g. the embedding model is missing
        raise StoreError(f"retrieval index could not be built ({type(e).__name__}: {e}); the previous index is "
                         "unchanged (use `assistant index --no-embed` for facts and BM25 only)") from e
    log(f"retrieval: {stats}")
    return not stats.up_to_date


def _print_report(log, doc: str, meta: dict, n_tables: int, n_facts: int, warnings: list[str],  # noqa: ANN001
                  reused: bool) -> None:
    """One line per report; ``meta`` holds its department, year and kind."""
    kind = meta.get("kind") or "?"
    state = "unchanged" if reused else "parsed"
    log(f"{doc}: {meta.get('department') or '（部门未识别）'} {meta.get('year') or '?'} {kind} — "
        f"{n_tables} tables, {n_facts} facts ({state})")
    for w in warnings[:5]:
        log(f"  warning: {w}")


def run_index(settings: Settings, check: bool = False, embed: bool = True, retrieval: bool = True) -> int:
    """CLI body of `assistant index`; exit 0 when everything was indexed, 1 when files were skipped
    (or --check found differences), 2 when the index could not be built. ``retrieval=False``: the
    fact store only (see build_index)."""
    if check:
        return check_index(settings)
    try:
        with BuildProgress() as progress:  # bars on a terminal, nothing in a pipe
            result = build_index(settings, embed=embed, retrieval=retrieval, log=progress.log, progress=progress)
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
    manifest), then missing, changed and extra reports. Exit 0 up to date, 1 otherwise; no index or a
    damaged one raises StoreError (the CLI prints its one line, exit 2)."""
    index_dir = settings.index_dir
    prev = _previous_index_or_raise(index_dir)
    manifest = read_manifest(index_dir / MANIFEST_NAME)
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
