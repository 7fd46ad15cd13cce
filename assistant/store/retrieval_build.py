"""The retrieval step of a build: the retrieval index staged next to the new fact store, made
incrementally from the current one (assistant/retrieve/index.py does the work)."""

from __future__ import annotations

import shutil
from pathlib import Path

from assistant.atomic_files import link_or_copy, read_json_object
from assistant.config import Settings
from assistant.models import Document, Report
from assistant.reporting import Log, Progress
from assistant.store.errors import StoreError
from assistant.store.manifest import MANIFEST_NAME, RETRIEVAL_SUBDIR, read_manifest, sha256_file, tree_stamps


def retrieval_checksums(staged: Path, index_dir: Path) -> dict[str, str]:
    """tree_checksums of the staged retrieval index; a file hard-linked from the current index with
    the stamp the committed manifest recorded for it keeps the recorded checksum (as readers trust
    it, see manifest.retrieval_digest) instead of being read again."""
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


def _retrieval_up_to_date(staged: Path, settings: Settings, reports: dict[str, str], embed: bool) -> bool:
    """True when the staged copy of the previous retrieval index already covers exactly these reports
    (so the unchanged documents need not be loaded again: a PDF takes seconds)."""
    from assistant.retrieve.chunk_text import TABLE_TEXT_BEFORE_RULE
    from assistant.retrieve.dense import model_identity
    from assistant.retrieve.index import FORMAT_VERSION as RETRIEVAL_FORMAT
    from assistant.retrieve.tokenize import tokenizer_signature

    old = read_json_object(staged / "manifest.json")
    if old is None or not isinstance(old.get("docs"), dict):
        return False
    return (
        old.get("format") == RETRIEVAL_FORMAT
        and old.get("chunking") == {"size": settings.chunking.size, "overlap": settings.chunking.overlap}
        and old.get("tokenizer") == tokenizer_signature()
        and (not embed or (bool(old.get("embedded")) and old.get("model") == model_identity(settings)))
        and old.get("table_text", TABLE_TEXT_BEFORE_RULE) == settings.embedding.table_text
        and {k: (v or {}).get("sha256") for k, v in old["docs"].items()} == reports
    )


def build_retrieval(
    settings: Settings,
    staging: Path,
    loaded: list[tuple[Document, Report]],
    reused: list[tuple[Path, Report]],
    embed: bool,
    log: Log,
    progress: Progress,
) -> bool:
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
        shutil.copytree(current, staged, copy_function=link_or_copy, symlinks=False)
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
        stats = RetrievalIndex.build(
            staging,
            list(loaded),
            settings,
            embed=embed,
            progress=progress,
            cached=[r for _, r in reused],
            load=load,
        )
    except Exception as e:  # noqa: BLE001 — e.g. the embedding model is missing
        raise StoreError(
            f"retrieval index could not be built ({type(e).__name__}: {e}); the previous index is "
            "unchanged (use `assistant index --no-embed` for facts and BM25 only)"
        ) from e
    log(f"retrieval: {stats}")
    return not stats.up_to_date
