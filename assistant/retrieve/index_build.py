"""Building the retrieval index (RetrievalIndex.build): chunking the reports that changed, carrying
the others' rows, term counts and vectors over from the previous index, writing the new folder next
to the old one and swapping it in."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from assistant.atomic_files import swap_dir, write_json_atomic
from assistant.config import Settings
from assistant.models import Chunk, Document, Report
from assistant.reporting import NO_PROGRESS, Progress
from assistant.retrieve.chunk_text import TABLE_TEXT_BEFORE_RULE, dense_text, embed_text
from assistant.retrieve.chunking import chunk_document_with_context
from assistant.retrieve.dense import (
    DenseIndex,
    EmbeddingCache,
    Encoder,
    ModelEncoder,
    model_identity,
    text_key,
)
from assistant.retrieve.index_files import (
    BM25_DIR,
    CHUNKS,
    CONTEXTS,
    FAISS_FILE,
    FORMAT_VERSION,
    LINE_OWNER,
    LINES_DIR,
    MANIFEST,
    SPANS,
    SUBDIR,
    TEXT_KEYS,
    Lines,
    read_index_manifest,
    row_block,
    write_lines,
)
from assistant.retrieve.lexical import LexicalIndex, TermCounts
from assistant.retrieve.tokenize import tokenize, tokenizer_signature

log = logging.getLogger(__name__)


class BuildStats(BaseModel):
    """What a build did."""

    docs: int = 0
    docs_changed: int = 0  # new or modified files (by sha256)
    docs_removed: int = 0
    docs_chunked: int = 0  # reports chunked and tokenised in this build (the others were carried over)
    chunks: int = 0
    chunks_embedded: int = 0  # distinct chunk texts sent to the model in this build
    embedded: bool = False  # the index has a dense part
    up_to_date: bool = False  # nothing to do: the existing index was kept as is
    full_rebuild_reason: str | None = None
    seconds: float = 0.0
    # seconds per phase: load (changed reports' Documents), chunk (chunk + tokenise them), rows
    # (chunk/context/span files), bm25 (both BM25 indexes from term counts), dense (embed + FAISS)
    timings: dict[str, float] = Field(default_factory=dict)


def report_key(sha256: str, report: Report) -> dict[str, Any]:
    names = ([report.department] if report.department else []) + sorted(set(report.aliases))
    return {
        "sha256": sha256,
        "department": report.department,
        "year": report.year,
        "kind": report.kind,
        "names": names,
    }


def line_units(chunks: list[Chunk], contexts: list[str]) -> tuple[list[str], list[int]]:
    """The lines of every chunk's text and the chunk each belongs to; a line of a table is indexed
    with the table's title and column header (a row "合计 24,606,775.35 22,473,997.81" alone does
    not say that its columns are 人员经费 and 公用经费)."""
    units: list[str] = []
    owner: list[int] = []
    for i, c in enumerate(chunks):
        ctx = contexts[i] if i < len(contexts) else ""
        for line in c.text.split("\n"):
            if line.strip():
                units.append(f"{ctx} | {line}" if ctx else line)
                owner.append(i)
    return units, owner


def report_tokens(key: dict[str, Any]) -> list[str]:
    """Tokens naming a report (department and its aliases, year, 预算/决算), each once.

    They are added to every chunk's BM25 tokens, so a question naming the department ("普陀区政府办
    …") prefers that report's passages even without a department filter; with the filter set the
    names are stripped from the query (``_strip_filtered``) and these tokens are inert.
    """
    parts = [*key.get("names", [])]
    if key.get("year"):
        parts.append(f"{key['year']}年")
    if key.get("kind"):
        parts.append(str(key["kind"]))
    return list(dict.fromkeys(tokenize(" ".join(parts))))


class _Segment:
    """One report's rows of a new index: taken from the previous index (``old`` row ranges) or
    made in this build (``new`` chunk data)."""

    def __init__(
        self,
        name: str,
        chunk_range: tuple[int, int] | None = None,
        line_range: tuple[int, int] | None = None,
        new: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.chunk_range = chunk_range
        self.line_range = line_range
        self.new = new

    @property
    def chunks(self) -> int:
        if self.new is not None:
            return len(self.new["chunks"])
        assert self.chunk_range is not None
        return self.chunk_range[1] - self.chunk_range[0]


class _Previous:
    """The parts of the previous index an incremental build reuses (read lazily)."""

    def __init__(self, directory: Path, manifest: dict[str, Any]) -> None:
        self.directory = directory
        counts = manifest.get("chunks_per_doc", {})
        self.ranges: dict[str, tuple[int, int]] = {}
        pos = 0
        for name in sorted(counts):
            self.ranges[name] = (pos, pos + int(counts[name]))
            pos += int(counts[name])
        if pos != int(manifest.get("chunks", -1)):
            raise ValueError("chunk counts do not add up")
        self.owner = np.load(directory / LINE_OWNER, allow_pickle=False) if pos else np.zeros(0, np.int32)
        # each report's line range, with one vectorised binary search (lines are stored chunk by chunk)
        names = list(self.ranges)
        bounds = np.searchsorted(self.owner, [self.ranges[n][0] for n in names] + [pos]).tolist()
        self.line_ranges = {n: (bounds[i], bounds[i + 1]) for i, n in enumerate(names)}
        self.chunks = Lines(directory / CHUNKS)
        self.contexts = Lines(directory / CONTEXTS)
        self.spans = Lines(directory / SPANS)
        if not len(self.chunks) == len(self.contexts) == len(self.spans) == pos:
            raise ValueError("row counts differ")
        self._keys: list[str] | None = None
        self._counts: TermCounts | None = None
        self._line_counts: TermCounts | None = None

    def keys(self) -> list[str]:
        if self._keys is None:
            self._keys = json.loads((self.directory / TEXT_KEYS).read_text(encoding="utf-8"))
        return self._keys

    def counts(self) -> TermCounts:
        if self._counts is None:
            self._counts = LexicalIndex.load_counts(self.directory / BM25_DIR)
        return self._counts

    def line_counts(self) -> TermCounts:
        if self._line_counts is None:
            self._line_counts = LexicalIndex.load_counts(self.directory / LINES_DIR)
        return self._line_counts


def chunk_report(doc: Document, report: Report, key: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Chunks, contexts, spans, embedded texts and BM25 tokens (chunk and line level) of one report."""
    pairs = chunk_document_with_context(doc, report, settings.chunking.size, settings.chunking.overlap)
    chunks = [c for c, _, _ in pairs]
    contexts = [x for _, x, _ in pairs]
    texts = [embed_text(c, x) for c, x in zip(chunks, contexts, strict=True)]
    dense = [dense_text(c, x, settings.embedding.table_text) for c, x in zip(chunks, contexts, strict=True)]
    names = report_tokens(key)
    # BM25 text: the indexed text plus, once each, the tokens naming the chunk's report
    tokens = [tokenize(t) + names for t in texts]
    units, owner = line_units(chunks, contexts)
    return {
        "chunks": chunks,
        "dense_texts": dense,
        "keys": [text_key(t) for t in dense],
        "tokens": tokens,
        "line_tokens": [tokenize(u) for u in units],
        "owner": np.asarray(owner, dtype=np.int64),
        "chunk_rows": [(c.model_dump_json() + "\n").encode() for c in chunks],
        "context_rows": [(json.dumps(x, ensure_ascii=False) + "\n").encode() for x in contexts],
        "span_rows": [
            (json.dumps([list(u) for u in us], ensure_ascii=False) + "\n").encode() for _, _, us in pairs
        ],
    }


def build_retrieval_index(
    index_dir: Path,
    docs: list[tuple[Document, Report]],
    settings: Settings,
    embed: bool = True,
    progress: Progress | None = None,
    encoder: Encoder | None = None,
    cached: Sequence[Report] = (),
    load: Callable[[Report], Document | None] | None = None,
) -> BuildStats:
    """Build or update ``index_dir/retrieval`` for ``docs`` and ``cached``.

    ``docs`` are loaded reports; ``cached`` are reports not loaded (their ``sha256`` says which
    content they index): their rows are carried over from the previous index when their key and
    the index settings are unchanged, otherwise ``load(report)`` is called for the Document
    (None leaves the report out). A loaded report whose key is unchanged is carried over too.
    Only new chunk texts are embedded.

    ``progress``: where the embedding reports its progress (assistant/reporting.py; None: nowhere).
    ``encoder`` defaults to the configured
    model (loaded only if something has to be embedded). Raises whatever the model loader raises
    when embedding is needed and the model is unavailable (use embed=False then).
    """
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    final = index_dir / SUBDIR
    bar = progress if progress is not None else NO_PROGRESS
    model_name = encoder.name if encoder is not None else model_identity(settings)
    old = read_index_manifest(final) or {}

    documents = {d.doc: d for d, _ in docs}
    reports = {d.doc: r for d, r in docs}
    files = {d.doc: report_key(d.sha256, r) for d, r in docs}
    for r in cached:
        if r.doc not in files:
            reports[r.doc] = r
            files[r.doc] = report_key(r.sha256, r)
    stats = BuildStats(docs=len(files))

    chunking = {"size": settings.chunking.size, "overlap": settings.chunking.overlap}
    signature = tokenizer_signature()
    reasons = []
    if old and old.get("format") != FORMAT_VERSION:
        reasons.append(f"index format {old.get('format')} → {FORMAT_VERSION}")
    if old and old.get("chunking") != chunking:
        reasons.append(f"chunking {old.get('chunking')} → {chunking}")
    if old and old.get("format") == FORMAT_VERSION and old.get("tokenizer") != signature:
        reasons.append("tokenizer or chunker rules changed")
    table_text = settings.embedding.table_text
    old_table_text = old.get("table_text", TABLE_TEXT_BEFORE_RULE)
    if old and old_table_text != table_text:
        # the rows hold the keys of the texts embedded, which this rule makes
        reasons.append(f"table text {old_table_text} → {table_text}")
    reuse_rows = bool(old) and not reasons  # per-report rows (chunks, tokens) still valid
    keep_cache = bool(old) and old.get("format") == FORMAT_VERSION
    if old.get("model") and old.get("model") != model_name:
        reasons.append(f"embedding model {old.get('model')} → {model_name}")
        keep_cache = False
    if reasons:
        stats.full_rebuild_reason = "; ".join(reasons)
        log.warning("retrieval index: full rebuild (%s)", stats.full_rebuild_reason)

    old_files: dict[str, Any] = old.get("docs", {}) if not reasons else {}
    stats.docs_changed = sum(
        1 for name, key in files.items() if old_files.get(name, {}).get("sha256") != key["sha256"]
    )
    stats.docs_removed = sum(1 for name in old_files if name not in files)
    if (
        not reasons
        and old_files == files
        and old.get("tokenizer") == signature
        and (not embed or old.get("embedded"))
        and (final / MANIFEST).exists()
    ):
        stats.chunks = int(old.get("chunks", 0))
        stats.embedded = bool(old.get("embedded"))
        stats.up_to_date = True
        stats.seconds = time.perf_counter() - t0
        return stats

    prev: _Previous | None = None
    if reuse_rows:
        try:
            prev = _Previous(final, old)
        except (OSError, ValueError, KeyError) as e:  # damaged or partial: rebuild what it held
            log.warning("retrieval index: previous rows unusable (%s): re-chunking every report", e)
            prev = None
    prev_docs: dict[str, Any] = old.get("docs", {}) if prev is not None else {}

    # one segment per report, in name order: the previous index's rows or freshly chunked ones
    segments: list[_Segment] = []
    clock = {"load": 0.0, "chunk": 0.0}
    for name in sorted(files):
        key = files[name]
        if prev is not None and prev_docs.get(name) == key and name in prev.ranges:
            lo, hi = prev.ranges[name]
            segments.append(_Segment(name, (lo, hi), prev.line_ranges[name]))
            continue
        doc = documents.get(name)
        t = time.perf_counter()
        if doc is None and load is not None:
            doc = load(reports[name])
        clock["load"] += time.perf_counter() - t
        if doc is None:
            log.warning("retrieval index: %s could not be loaded: left out", name)
            del files[name]
            continue
        t = time.perf_counter()
        segments.append(_Segment(name, new=chunk_report(doc, reports[name], key, settings)))
        clock["chunk"] += time.perf_counter() - t
        stats.docs_chunked += 1
    stats.docs = len(files)
    stats.chunks = sum(s.chunks for s in segments)

    index_dir.mkdir(parents=True, exist_ok=True)
    tmp = index_dir / f".{SUBDIR}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        t = time.perf_counter()
        keys = _write_rows(tmp, segments, prev)
        clock["rows"] = time.perf_counter() - t
        _write_bm25(tmp, segments, prev)
        clock["bm25"] = time.perf_counter() - t - clock["rows"]
        t = time.perf_counter()

        dim: int | None = old.get("dim") if keep_cache else None
        cache_kept = False
        if embed and segments and stats.chunks:
            cache = EmbeddingCache.load(final) if keep_cache else EmbeddingCache()
            missing = _missing_texts(segments, prev, keys, cache, settings.embedding.table_text)
            enc = encoder if encoder is not None else ModelEncoder(settings)
            task = bar.start("嵌入段落", len(missing))
            stats.chunks_embedded = cache.fill(
                missing, enc.encode_passages, progress=lambda n: bar.advance(task, n)
            )
            if cache.dim is not None and dim is not None and cache.dim != dim:
                raise ValueError(f"embedding dimension changed ({dim} → {cache.dim}); delete {final}")
            dim = cache.dim
            cache = cache.subset_keys(keys)
            previous = None  # an approximate index's trained centroids are reused
            if (
                stats.chunks > settings.retrieval.approximate_above
                and (final / FAISS_FILE).exists()
                and keep_cache
            ):
                try:
                    previous = DenseIndex.load(final / FAISS_FILE)
                except RuntimeError:
                    previous = None
            vectors = cache.get_keys(keys)
            DenseIndex.build(vectors, settings.retrieval.approximate_above, previous).save(tmp / FAISS_FILE)
            stats.embedded = True
            cache.save(tmp)
            cache_kept = True
        elif keep_cache:
            # kept for the next build even when this one is BM25-only (files linked, not loaded)
            cache_kept = EmbeddingCache.carry_over(final, tmp)

        clock["dense"] = time.perf_counter() - t
        stats.timings = {k: round(v, 3) for k, v in clock.items()}
        per_doc = {s.name: s.chunks for s in segments}
        manifest = {
            "format": FORMAT_VERSION,
            "model": model_name if (stats.embedded or cache_kept) else None,
            "table_text": table_text,
            "dim": dim if (stats.embedded or cache_kept) else None,
            "embedded": stats.embedded,
            "chunking": chunking,
            "tokenizer": signature,
            "docs": files,
            "chunks_per_doc": per_doc,
            "chunks": stats.chunks,
        }
        write_json_atomic(tmp / MANIFEST, manifest)
        swap_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    stats.seconds = time.perf_counter() - t0
    return stats


def _write_rows(tmp: Path, segments: list[_Segment], prev: _Previous | None) -> list[str]:
    """chunks / contexts / spans .jsonl and text_keys.json of the new index; returns the keys."""
    keys: list[str] = []
    for name, attr, rows_key in (
        (CHUNKS, "chunks", "chunk_rows"),
        (CONTEXTS, "contexts", "context_rows"),
        (SPANS, "spans", "span_rows"),
    ):
        blocks: list[tuple[bytes, np.ndarray]] = []
        for s in segments:
            if s.new is not None:
                blocks.append(row_block(s.new[rows_key]))
            else:
                assert prev is not None and s.chunk_range is not None
                lines: Lines = getattr(prev, attr)
                lo, hi = s.chunk_range
                blocks.append((lines.block(lo, hi), np.diff(lines.offsets[lo : hi + 1])))
        write_lines(tmp / name, blocks)
    for s in segments:
        if s.new is not None:
            keys.extend(s.new["keys"])
        else:
            assert prev is not None and s.chunk_range is not None
            keys.extend(prev.keys()[s.chunk_range[0] : s.chunk_range[1]])
    (tmp / TEXT_KEYS).write_text(json.dumps(keys), encoding="utf-8")
    return keys


def _write_bm25(tmp: Path, segments: list[_Segment], prev: _Previous | None) -> None:
    """The chunk- and line-level BM25 indexes, from carried-over and new term counts."""
    fresh = [s for s in segments if s.new is not None]
    new_counts = TermCounts.from_tokens([t for s in fresh for t in s.new["tokens"]])  # type: ignore[index]
    new_line_counts = TermCounts.from_tokens([t for s in fresh for t in s.new["line_tokens"]])  # type: ignore[index]
    parts: list[TermCounts] = []
    line_parts: list[TermCounts] = []
    owners: list[np.ndarray] = []
    pos = line_pos = chunk_pos = 0
    for s in segments:
        if s.new is not None:
            n, m = len(s.new["tokens"]), len(s.new["line_tokens"])
            parts.append(new_counts.slice(pos, pos + n))
            line_parts.append(new_line_counts.slice(line_pos, line_pos + m))
            owners.append(s.new["owner"] + chunk_pos)
            pos, line_pos = pos + n, line_pos + m
        else:
            assert prev is not None and s.chunk_range is not None and s.line_range is not None
            (lo, hi), (llo, lhi) = s.chunk_range, s.line_range
            parts.append(prev.counts().slice(lo, hi))
            line_parts.append(prev.line_counts().slice(llo, lhi))
            owners.append(prev.owner[llo:lhi].astype(np.int64) - lo + chunk_pos)
        chunk_pos += s.chunks
    if not chunk_pos:
        return
    LexicalIndex.from_counts(TermCounts.concat(parts)).save(tmp / BM25_DIR)
    # line-level BM25: a question answered by one table row or sentence finds it even when the
    # rest of its chunk is about something else
    LexicalIndex.from_counts(TermCounts.concat(line_parts)).save(tmp / LINES_DIR)
    np.save(tmp / LINE_OWNER, np.concatenate(owners).astype(np.int32), allow_pickle=False)


def _missing_texts(
    segments: list[_Segment], prev: _Previous | None, keys: list[str], cache: EmbeddingCache, table_text: str
) -> list[str]:
    """The distinct embedded texts whose vectors the cache lacks (carried-over chunks are parsed
    only when one of theirs is missing, e.g. the previous build was BM25-only)."""
    wanted = {k for k in dict.fromkeys(keys) if k not in cache}
    out: dict[str, str] = {}
    if not wanted:
        return []
    prev_pos = 0  # position of the segment's first chunk in the new index
    for s in segments:
        if s.new is not None:
            for k, t in zip(s.new["keys"], s.new["dense_texts"], strict=True):
                if k in wanted and k not in out:
                    out[k] = t
        else:
            assert prev is not None and s.chunk_range is not None
            lo, hi = s.chunk_range
            for i in range(lo, hi):
                k = keys[prev_pos + i - lo]
                if k in wanted and k not in out:
                    c = Chunk.model_validate_json(prev.chunks.row(i))
                    out[k] = dense_text(c, json.loads(prev.contexts.row(i)), table_text)
        prev_pos += s.chunks
    return list(out.values())
