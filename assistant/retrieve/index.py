"""The retrieval index: chunks + BM25 + FAISS, built incrementally and searched with fusion.

Layout of ``<index_dir>/retrieval/``::

    manifest.json      format version, model name + dimension, chunking and tokenizer settings,
                       per-file key (sha256 and metadata), chunks per file, chunk count
    chunks.jsonl       one Chunk per line, in index order (files sorted by name, each file's chunks
                       in document order) ...
    contexts.jsonl     ... per chunk, the table title + column header it belongs to ("" outside tables)
    spans.jsonl        ... per chunk, its sentences / rows: [line_start, line_end, paragraph, page, text]
    text_keys.json     ... per chunk, the sha256 of its embedded text (the embedding cache key)
    *.offsets.npy      byte offset of every line of the .jsonl file of that name (+ its size)
    bm25/              BM25 of the chunks: scores (CSC), term counts per chunk (CSR), vocabulary
    bm25_lines/        the same over single lines/rows of the chunks ...
    line_owner.npy     ... and the chunk each line belongs to
    dense.faiss        FAISS index, row i = chunk i (absent when built with embed=False)
    embeddings.npy     embedding cache: vectors by sha256 of the embedded text ...
    embeddings.json    ... whose keys are listed here, in row order

The index is its own per-report cache: a report whose key (content sha256 + metadata) is unchanged
and whose index was built with the same format, chunking settings and tokenizer rules keeps its
rows — chunk lines, contexts, spans, text keys and BM25 term counts are copied as byte ranges and
array slices, without loading, chunking or tokenising the report again. Only the new or changed
reports are chunked and tokenised; the BM25 scores (which depend on every chunk) are recomputed
from the term counts in one vectorised pass, and FAISS from cached vectors. Only texts missing
from the embedding cache are embedded. A change of model, format version, chunking settings or
tokenizer invalidates what depends on it, with a message saying why.

A build writes a fresh directory next to it and swaps it in with os.replace, so a reader never sees
a half-written index. A reader maps the .jsonl files and parses a chunk only when it is used.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, overload

import numpy as np
from pydantic import BaseModel, Field

from assistant.config import Settings
from assistant.models import Chunk, Document, Report
from assistant.progress import BuildProgress
from assistant.retrieve.chunking import chunk_document_with_context, split_sentences
from assistant.retrieve.dense import DenseIndex, EmbeddingCache, Encoder, ModelEncoder, text_key
from assistant.retrieve.fusion import DEFINITION_WEIGHT, defines, definition_term, fuse
from assistant.retrieve.lexical import LexicalIndex, TermCounts
from assistant.retrieve.tokenize import expand_query, tokenize, tokenizer_signature

__all__ = ["RetrievalIndex", "Hit", "BuildStats", "IndexNotFound", "FORMAT_VERSION", "SUBDIR"]

FORMAT_VERSION = 4
SUBDIR = "retrieval"
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
CONTEXTS = "contexts.jsonl"
SPANS = "spans.jsonl"
TEXT_KEYS = "text_keys.json"
BM25_DIR = "bm25"
LINES_DIR = "bm25_lines"
LINE_OWNER = "line_owner.npy"
FAISS_FILE = "dense.faiss"
# Candidates taken from each ranking before fusion (enough for filters and the top_k cut).
CANDIDATES = 100
QUERY_CACHE = 64
# Extra rankings fused with BM25 and dense (weights relative to settings' bm25/dense weights), and
# the factor applied to settings.retrieval.dense_weight. Measured with bench/retrieval.py on
# tests/qa/dev.jsonl (35 questions with evidence, department filter): e5-small ranks table chunks
# poorly (dense alone R@5 0.69 vs BM25 0.91), and at full weight its rank pulls a chunk that every
# lexical ranking puts first out of the top 5 (hybrid 0.91); at half weight with the line and
# coverage rankings at 1.5 / 1.0 hybrid reaches 0.97 (0.94 with any of dense 0.3-0.5, line 1.0-1.5).
COVERAGE_WEIGHT = 1.0  # chunks ordered by the share of the query's IDF mass they contain
LINE_WEIGHT = 1.5  # chunks ordered by their best-matching line (BM25 over single lines/rows)
DENSE_FACTOR = 0.5

log = logging.getLogger(__name__)


class IndexNotFound(Exception):
    """No usable retrieval index in the directory; the message tells the user what to run."""


class Hit(BaseModel):
    """A retrieved passage: fused (RRF) score, the two component scores, and sentences to highlight."""

    chunk: Chunk
    score: float
    bm25_score: float
    dense_score: float | None = None
    coverage: float = 0.0  # share of the query's IDF mass found in the chunk (0..1)
    highlights: list[str] = Field(default_factory=list)  # best-matching sentence(s) of chunk.text


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


def embed_text(chunk: Chunk, context: str = "") -> str:
    """The text a chunk is indexed under: section path, table context (title + column header of the
    table the chunk is part of) and passage — headings and headers carry the topic."""
    head = "\n".join(p for p in (chunk.section, context) if p)
    return f"{head}\n{chunk.text}" if head else chunk.text


def _report_key(sha256: str, report: Report) -> dict[str, Any]:
    names = ([report.department] if report.department else []) + sorted(set(report.aliases))
    return {
        "sha256": sha256,
        "department": report.department,
        "year": report.year,
        "kind": report.kind,
        "names": names,
    }


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _line_units(chunks: list[Chunk], contexts: list[str]) -> tuple[list[str], list[int]]:
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


def _report_tokens(key: dict[str, Any]) -> list[str]:
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


def _top(cand: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` of ``cand`` ordered by score (descending), then index: a partition picks the
    few above the k-th score, only those are sorted (a full sort of 300k candidates costs ~30 ms)."""
    if len(cand) > k:
        s = scores[cand]
        kth = np.partition(s, len(s) - k)[len(s) - k]
        cand = cand[s >= kth]  # ties with the k-th score kept, the sort below cuts them by index
    return cand[np.lexsort((cand, -scores[cand]))][:k]


def _swap_in(tmp: Path, final: Path) -> None:
    """Replace ``final`` by ``tmp``: two renames, the old copy removed afterwards."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def _offsets_name(name: str) -> str:
    return name.rsplit(".", 1)[0] + ".offsets.npy"


class _Lines:
    """A .jsonl file read through mmap with its offsets array: row i is bytes off[i]:off[i+1]
    (its trailing newline included). Opening costs nothing per row; a row is read when used."""

    def __init__(self, path: Path) -> None:
        offsets_path = path.with_name(_offsets_name(path.name))
        self.offsets = np.load(offsets_path, allow_pickle=False).astype(np.int64)
        size = path.stat().st_size
        if self.offsets.ndim != 1 or not len(self.offsets) or int(self.offsets[-1]) != size:
            raise ValueError(f"{path.name} does not match its offsets")
        self._data: mmap.mmap | bytes = b""
        if size:
            with path.open("rb") as fh:  # the mapping outlives the descriptor (and a swap of the file)
                self._data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row(self, i: int) -> bytes:
        return self._data[int(self.offsets[i]) : int(self.offsets[i + 1])]

    def block(self, lo: int, hi: int) -> bytes:
        """Rows lo:hi as one byte string."""
        return self._data[int(self.offsets[lo]) : int(self.offsets[hi])]


def _write_lines(path: Path, blocks: list[tuple[bytes, np.ndarray]]) -> None:
    """Write a .jsonl file from (bytes, row lengths) blocks, and its offsets array."""
    with path.open("wb") as fh:
        for data, _ in blocks:
            fh.write(data)
    lengths = np.concatenate([np.zeros(1, np.int64), *(np.asarray(n, np.int64) for _, n in blocks)])
    np.save(path.with_name(_offsets_name(path.name)), np.cumsum(lengths), allow_pickle=False)


def _rows(values: list[bytes]) -> tuple[bytes, np.ndarray]:
    """One block from encoded rows (each ending with a newline)."""
    return b"".join(values), np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))


class _ChunkList(Sequence[Chunk]):
    """The index's chunks, parsed from chunks.jsonl on first access (an index of 300k chunks opens
    in milliseconds, and a search parses only the chunks it returns)."""

    def __init__(self, lines: _Lines | None) -> None:
        self._lines = lines
        self._parsed: dict[int, Chunk] = {}

    def __len__(self) -> int:
        return len(self._lines) if self._lines is not None else 0

    @overload
    def __getitem__(self, i: int) -> Chunk: ...
    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...
    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        found = self._parsed.get(i)
        if found is None:
            assert self._lines is not None
            found = Chunk.model_validate_json(self._lines.row(i))
            self._parsed[i] = found
        return found

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(len(self)))


class _Segment:
    """One report's rows of a new index: taken from the previous index (``old`` row ranges) or
    made in this build (``new`` chunk data)."""

    def __init__(self, name: str, chunk_range: tuple[int, int] | None = None,
                 line_range: tuple[int, int] | None = None, new: dict[str, Any] | None = None) -> None:
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
        self.chunks = _Lines(directory / CHUNKS)
        self.contexts = _Lines(directory / CONTEXTS)
        self.spans = _Lines(directory / SPANS)
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


def _chunk_report(doc: Document, report: Report, key: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Chunks, contexts, spans, embedded texts and BM25 tokens (chunk and line level) of one report."""
    pairs = chunk_document_with_context(doc, report, settings.chunking.size, settings.chunking.overlap)
    chunks = [c for c, _, _ in pairs]
    contexts = [x for _, x, _ in pairs]
    texts = [embed_text(c, x) for c, x in zip(chunks, contexts, strict=True)]
    names = _report_tokens(key)
    # BM25 text: the indexed text plus, once each, the tokens naming the chunk's report
    tokens = [tokenize(t) + names for t in texts]
    units, owner = _line_units(chunks, contexts)
    return {
        "chunks": chunks,
        "texts": texts,
        "keys": [text_key(t) for t in texts],
        "tokens": tokens,
        "line_tokens": [tokenize(u) for u in units],
        "owner": np.asarray(owner, dtype=np.int64),
        "chunk_rows": [(c.model_dump_json() + "\n").encode() for c in chunks],
        "context_rows": [(json.dumps(x, ensure_ascii=False) + "\n").encode() for x in contexts],
        "span_rows": [(json.dumps([list(u) for u in us], ensure_ascii=False) + "\n").encode() for _, _, us in pairs],
    }


class RetrievalIndex:
    """Hybrid BM25 + dense search over the chunks of the corpus."""

    def __init__(
        self,
        directory: Path,
        settings: Settings,
        manifest: dict[str, Any],
        chunks: Sequence[Chunk],
        lexical: LexicalIndex | None,
        dense: DenseIndex | None,
        encoder: Encoder | None,
        lines: tuple[LexicalIndex, np.ndarray] | None = None,
        spans: _Lines | None = None,
    ) -> None:
        self.directory = directory
        self.settings = settings
        self.manifest = manifest
        self.chunks = chunks
        self.lexical = lexical
        self.dense = dense
        self._encoder = encoder
        self.lines = lines
        self._executor: ThreadPoolExecutor | None = None
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._sentence_cache: dict[int, list[tuple[str, frozenset[str]]]] = {}
        self._dense_failed = False
        self._lock = threading.Lock()
        self._span_lines = spans
        # per report (files sorted by name, as the chunks are): its chunk range and metadata, so
        # filters are computed per report and broadcast to chunks with numpy
        docs = manifest.get("docs", {})
        counts = manifest.get("chunks_per_doc", {})
        self._doc_names = sorted(counts)
        sizes = np.asarray([int(counts[d]) for d in self._doc_names], dtype=np.int64)
        self._doc_start = np.concatenate([np.zeros(1, np.int64), np.cumsum(sizes)])
        self._doc_meta = [docs.get(d, {}) for d in self._doc_names]
        if int(self._doc_start[-1]) == len(chunks):
            self._chunk_doc = np.repeat(np.arange(len(self._doc_names), dtype=np.int32), sizes)
        else:  # an index without per-file counts: derive them from the chunks themselves
            self._set_docs_from_chunks()
        self._names_by_department: dict[str, set[str]] | None = None
        self._doc_pos_map: dict[str, int] | None = None

    def _set_docs_from_chunks(self) -> None:
        names = [c.doc for c in self.chunks]
        self._doc_names = sorted(set(names))
        pos = {d: i for i, d in enumerate(self._doc_names)}
        self._chunk_doc = np.asarray([pos[d] for d in names], dtype=np.int32)
        first = {c.doc: c for c in reversed(list(self.chunks))}
        self._doc_meta = [{"department": first[d].department, "year": first[d].year, "kind": first[d].kind}
                          for d in self._doc_names]
        self._doc_start = np.zeros(len(self._doc_names) + 1, dtype=np.int64)

    # ------------------------------------------------------------------ build

    @staticmethod
    def build(
        index_dir: Path,
        docs: list[tuple[Document, Report]],
        settings: Settings,
        embed: bool = True,
        progress: bool | BuildProgress | None = None,
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

        ``progress``: a BuildProgress to show the embedding in, or True/False/None (None: when on a
        terminal). ``encoder`` defaults to the configured
        model (loaded only if something has to be embedded). Raises whatever the model loader raises
        when embedding is needed and the model is unavailable (use embed=False then).
        """
        t0 = time.perf_counter()
        index_dir = Path(index_dir)
        final = index_dir / SUBDIR
        bar = progress if isinstance(progress, BuildProgress) else BuildProgress(progress)
        model_name = encoder.name if encoder is not None else settings.embedding.model
        old = _read_manifest(final) or {}

        documents = {d.doc: d for d, _ in docs}
        reports = {d.doc: r for d, r in docs}
        files = {d.doc: _report_key(d.sha256, r) for d, r in docs}
        for r in cached:
            if r.doc not in files:
                reports[r.doc] = r
                files[r.doc] = _report_key(r.sha256, r)
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
        reuse_rows = bool(old) and not reasons  # per-report rows (chunks, tokens) still valid
        keep_cache = bool(old) and old.get("format") == FORMAT_VERSION
        if old.get("model") and old.get("model") != model_name:
            reasons.append(f"embedding model {old.get('model')} → {model_name}")
            keep_cache = False
        if reasons:
            stats.full_rebuild_reason = "; ".join(reasons)
            log.warning("retrieval index: full rebuild (%s)", stats.full_rebuild_reason)

        old_files: dict[str, Any] = old.get("docs", {}) if not reasons else {}
        stats.docs_changed = sum(1 for name, key in files.items() if old_files.get(name, {}).get("sha256") != key["sha256"])
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
            segments.append(_Segment(name, new=_chunk_report(doc, reports[name], key, settings)))
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
            keys = RetrievalIndex._write_rows(tmp, segments, prev)
            clock["rows"] = time.perf_counter() - t
            RetrievalIndex._write_bm25(tmp, segments, prev)
            clock["bm25"] = time.perf_counter() - t - clock["rows"]
            t = time.perf_counter()

            dim: int | None = old.get("dim") if keep_cache else None
            cache_kept = False
            if embed and segments and stats.chunks:
                cache = EmbeddingCache.load(final) if keep_cache else EmbeddingCache()
                missing = RetrievalIndex._missing_texts(segments, prev, keys, cache)
                enc = encoder if encoder is not None else ModelEncoder(settings)
                with bar:
                    task = bar.start("嵌入段落", len(missing))
                    stats.chunks_embedded = cache.fill(missing, enc.encode_passages,
                                                       progress=lambda n: bar.advance(task, n))
                if cache.dim is not None and dim is not None and cache.dim != dim:
                    raise ValueError(f"embedding dimension changed ({dim} → {cache.dim}); delete {final}")
                dim = cache.dim
                cache = cache.subset_keys(keys)
                previous = None  # an approximate index's trained centroids are reused
                if stats.chunks > settings.retrieval.approximate_above and (final / FAISS_FILE).exists() and keep_cache:
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
                "dim": dim if (stats.embedded or cache_kept) else None,
                "embedded": stats.embedded,
                "chunking": chunking,
                "tokenizer": signature,
                "docs": files,
                "chunks_per_doc": per_doc,
                "chunks": stats.chunks,
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
            _swap_in(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        stats.seconds = time.perf_counter() - t0
        return stats

    @staticmethod
    def _write_rows(tmp: Path, segments: list[_Segment], prev: _Previous | None) -> list[str]:
        """chunks / contexts / spans .jsonl and text_keys.json of the new index; returns the keys."""
        keys: list[str] = []
        for name, attr, rows_key in ((CHUNKS, "chunks", "chunk_rows"), (CONTEXTS, "contexts", "context_rows"),
                                     (SPANS, "spans", "span_rows")):
            blocks: list[tuple[bytes, np.ndarray]] = []
            for s in segments:
                if s.new is not None:
                    blocks.append(_rows(s.new[rows_key]))
                else:
                    assert prev is not None and s.chunk_range is not None
                    lines: _Lines = getattr(prev, attr)
                    lo, hi = s.chunk_range
                    blocks.append((lines.block(lo, hi), np.diff(lines.offsets[lo : hi + 1])))
            _write_lines(tmp / name, blocks)
        for s in segments:
            if s.new is not None:
                keys.extend(s.new["keys"])
            else:
                assert prev is not None and s.chunk_range is not None
                keys.extend(prev.keys()[s.chunk_range[0] : s.chunk_range[1]])
        (tmp / TEXT_KEYS).write_text(json.dumps(keys), encoding="utf-8")
        return keys

    @staticmethod
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

    @staticmethod
    def _missing_texts(segments: list[_Segment], prev: _Previous | None, keys: list[str],
                       cache: EmbeddingCache) -> list[str]:
        """The distinct embedded texts whose vectors the cache lacks (carried-over chunks are parsed
        only when one of theirs is missing, e.g. the previous build was BM25-only)."""
        wanted = {k for k in dict.fromkeys(keys) if k not in cache}
        out: dict[str, str] = {}
        if not wanted:
            return []
        prev_pos = 0  # position of the segment's first chunk in the new index
        for s in segments:
            if s.new is not None:
                for k, t in zip(s.new["keys"], s.new["texts"], strict=True):
                    if k in wanted and k not in out:
                        out[k] = t
            else:
                assert prev is not None and s.chunk_range is not None
                lo, hi = s.chunk_range
                for i in range(lo, hi):
                    k = keys[prev_pos + i - lo]
                    if k in wanted and k not in out:
                        c = Chunk.model_validate_json(prev.chunks.row(i))
                        out[k] = embed_text(c, json.loads(prev.contexts.row(i)))
            prev_pos += s.chunks
        return list(out.values())

    # ------------------------------------------------------------------ open

    @classmethod
    def open(cls, index_dir: Path, settings: Settings, encoder: Encoder | None = None) -> RetrievalIndex:
        """Open ``index_dir/retrieval``; the model is not loaded until a search needs it."""
        directory = Path(index_dir) / SUBDIR
        manifest = _read_manifest(directory)
        if manifest is None:
            raise IndexNotFound(f"no retrieval index in {directory}: run `assistant index`")
        if manifest.get("format") != FORMAT_VERSION:
            raise IndexNotFound(f"retrieval index in {directory} has an old format: run `assistant index`")
        try:
            chunk_lines = _Lines(directory / CHUNKS)
        except (OSError, ValueError) as e:
            raise IndexNotFound(f"retrieval index in {directory} is damaged ({e}): run `assistant index`") from e
        chunks = _ChunkList(chunk_lines)
        lexical = LexicalIndex.load(directory / BM25_DIR) if len(chunks) else None
        lines = None
        if len(chunks):
            lines = (LexicalIndex.load(directory / LINES_DIR), np.load(directory / LINE_OWNER, allow_pickle=False))
        dense = None
        if manifest.get("embedded") and (directory / FAISS_FILE).exists():
            dense = DenseIndex.load(directory / FAISS_FILE)
            if encoder is None:
                encoder = ModelEncoder(settings)
            if manifest.get("model") != encoder.name:
                log.warning(
                    "retrieval index was embedded with %s but the model is %s: BM25 only until `assistant index`",
                    manifest.get("model"),
                    encoder.name,
                )
                dense = None
        spans = None
        try:
            spans = _Lines(directory / SPANS)
        except (OSError, ValueError):
            pass
        return cls(directory, settings, manifest, chunks, lexical, dense, encoder, lines, spans)

    def chunks_of(self, doc: str) -> list[int]:
        """Positions of the chunks of ``doc``, in document order."""
        d = self._doc_pos().get(doc)
        if d is None:
            return []
        if int(self._doc_start[-1]) == len(self.chunks):
            return list(range(int(self._doc_start[d]), int(self._doc_start[d + 1])))
        return np.flatnonzero(self._chunk_doc == d).tolist()

    def _doc_pos(self) -> dict[str, int]:
        if self._doc_pos_map is None:
            self._doc_pos_map = {d: i for i, d in enumerate(self._doc_names)}
        return self._doc_pos_map

    def spans(self, idx: int) -> list[tuple[int, int, int, int | None, str]]:
        """The sentences / rows / headings of chunk ``idx`` with their lines: (line_start, line_end,
        paragraph number, page, text), read from spans.jsonl when asked for."""
        if self._span_lines is None or not 0 <= idx < len(self._span_lines):
            return []
        try:
            rows = json.loads(self._span_lines.row(idx))
        except ValueError:
            return []
        return [(int(a), int(b), int(p), pg, str(t)) for a, b, p, pg, t in rows]

    @property
    def has_dense(self) -> bool:
        """True when searches use embeddings (the index has them and the model works)."""
        return self.dense is not None and not self._dense_failed

    def warmup(self) -> None:
        """Initialise the tokenizer and load the model now instead of on the first search."""
        tokenize("预热")
        if self.has_dense:
            self._encode_query("预热")

    def _encode_query(self, text: str) -> np.ndarray | None:
        """The query's embedding; the last QUERY_CACHE ones are kept (an engine often searches the
        same text twice, with and without filters)."""
        assert self._encoder is not None
        with self._lock:
            found = self._query_vectors.get(text)
            if found is not None:
                self._query_vectors.move_to_end(text)
                return found
        try:
            vec = self._encoder.encode_queries([text])[0]
        except Exception as exc:  # an unusable model must not take lexical search down with it
            if not self._dense_failed:
                log.warning("embedding model unavailable (%s): BM25 only", exc)
            self._dense_failed = True
            return None
        with self._lock:
            self._query_vectors[text] = vec
            while len(self._query_vectors) > QUERY_CACHE:
                self._query_vectors.popitem(last=False)
        return vec

    # ------------------------------------------------------------------ search

    def search(
        self,
        text: str,
        departments: list[str] | None = None,
        year: int | None = None,
        kind: str | None = None,
        top_k: int | None = None,
        mode: str = "hybrid",
    ) -> list[Hit]:
        """Best chunks for ``text`` within the filters; empty when nothing is relevant enough.

        ``mode`` is "hybrid" (default), or for evaluation "lexical" (BM25 + best line + coverage,
        no model), "bm25" (chunk BM25 alone) or "dense" (embeddings alone).
        """
        k = top_k or self.settings.retrieval.top_k
        if not len(self.chunks) or self.lexical is None or not text.strip():
            return []
        text = self._strip_filtered(text, departments, year)
        mask = self._filter_mask(departments, year, kind)
        allowed = None if mask is None else np.flatnonzero(mask)
        if allowed is not None and len(allowed) == 0:
            return []

        # the query embedding (~45 ms of model time, GIL released) is computed in a worker thread
        # while the lexical side runs here
        use_dense = mode in ("hybrid", "dense") and self.has_dense
        pending = self._pool().submit(self._encode_query, text) if use_dense else None
        q_tokens = tokenize(text)
        # the lexicon's canonical names for colloquial terms (出国经费 → 因公出国（境）费) join the query;
        # coverage stays that of the better of the two forms, so expansion never fails the gate
        expansion = [t for name in expand_query(text) for t in tokenize(name) if t not in q_tokens]
        core_tokens = q_tokens
        q_tokens = q_tokens + expansion
        bm25 = self.lexical.scores(q_tokens)
        bm25_ranked: list[int] = []
        if mode != "dense":
            cand = np.flatnonzero(bm25 > 0)
            if mask is not None:
                cand = cand[mask[cand]]
            bm25_ranked = _top(cand, bm25, CANDIDATES).tolist()

        dense_scores: dict[int, float] = {}
        dense_ranked: list[int] = []
        if pending is not None:
            qv = pending.result()
            if qv is not None and self.dense is not None:
                ids, sims = self.dense.search(qv, CANDIDATES, allowed)
                dense_ranked = [int(i) for i in ids]
                dense_scores = {int(i): float(s) for i, s in zip(ids, sims, strict=True)}
                extra = np.array([i for i in bm25_ranked if i not in dense_scores], dtype=np.int64)
                for i, s in zip(extra, self.dense.scores_for(qv, extra), strict=True):
                    dense_scores[int(i)] = float(s)
        if mode == "dense":
            bm25_ranked = []

        r = self.settings.retrieval
        rankings = [(bm25_ranked, r.bm25_weight), (dense_ranked, r.dense_weight * DENSE_FACTOR)]
        extra_lexical = mode in ("hybrid", "lexical")
        line_ranked: list[int] = []
        if LINE_WEIGHT and self.lines is not None and extra_lexical:
            line_ranked = self._line_ranking(q_tokens, mask)
            rankings.append((line_ranked, LINE_WEIGHT))
        # coverage only of the few hundred ranked chunks (the better of the query with and without
        # its expansion, so expansion never fails the gate)
        ranked = np.fromiter(dict.fromkeys(bm25_ranked + dense_ranked + line_ranked), dtype=np.int64)
        cov = self.lexical.coverage_of(q_tokens, ranked)
        if expansion:
            cov = np.maximum(cov, self.lexical.coverage_of(core_tokens, ranked))
        coverage = dict(zip(ranked.tolist(), cov.tolist(), strict=True))
        if COVERAGE_WEIGHT and bm25_ranked and extra_lexical:
            by_cov = sorted(bm25_ranked, key=lambda i: (-round(coverage[i], 3), -float(bm25[i]), i))
            rankings.append((by_cov, COVERAGE_WEIGHT))
        term = definition_term(text)
        if term is not None:
            # "什么是X": the passages that define X, in the order of the rankings above
            seen = dict.fromkeys(bm25_ranked + dense_ranked)
            defining = [i for i in seen if defines(self.chunks[i].text, self.chunks[i].section, term)]
            rankings.append((defining, DEFINITION_WEIGHT))
        fused = fuse(rankings, bm25, coverage, dense_scores, r.rrf_k, r.min_score)
        q_set = set(q_tokens)
        return [
            Hit(
                chunk=self.chunks[f.idx],
                score=f.score,
                bm25_score=f.bm25,
                dense_score=f.dense,
                coverage=f.coverage,
                highlights=self._highlights(f.idx, q_set),
            )
            for f in fused[:k]
        ]

    def _filter_mask(self, departments: list[str] | None, year: int | None, kind: str | None) -> np.ndarray | None:
        """Boolean mask of chunks matching the filters (None when no filter is set), computed per
        report and broadcast to its chunks. A report lacking the filtered field does not match."""
        if not departments and year is None and kind is None:
            return None
        wanted = set(departments or [])
        ok = np.fromiter(
            (
                (not wanted or m.get("department") in wanted)
                and (year is None or m.get("year") == year)
                and (kind is None or m.get("kind") == kind)
                for m in self._doc_meta
            ),
            dtype=bool,
            count=len(self._doc_meta),
        )
        return ok[self._chunk_doc]

    def _line_ranking(self, q_tokens: list[str], mask: np.ndarray | None) -> list[int]:
        """Chunks ordered by the BM25 score of their best line (table row / sentence)."""
        assert self.lines is not None
        lex, owner = self.lines
        scores = lex.scores(q_tokens)
        cand = np.flatnonzero(scores > 0)
        if mask is not None:
            cand = cand[mask[owner[cand]]]
        if not len(cand):
            return []
        # best line per chunk: lines are stored chunk by chunk, so the candidates' owners are sorted
        # and each chunk's lines are one run (ties: the lower chunk, as its lines come first)
        owners = owner[cand]
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        best = np.zeros(len(self.chunks), dtype=np.float32)
        best[owners[starts]] = np.maximum.reduceat(scores[cand], starts)
        return _top(owners[starts].astype(np.int64), best, CANDIDATES).tolist()

    def _strip_filtered(self, text: str, departments: list[str] | None, year: int | None) -> str:
        """The query without the department names / year its filters already enforce.

        "峨山医保局2021年邮电费" filtered to that department and year searches for 邮电费: left in,
        the name would rank the chunks that mention the department above the one about 邮电费.
        """
        terms: set[str] = set()
        if departments:
            terms.update(departments)
            if self._names_by_department is None:
                by: dict[str, set[str]] = {}
                for entry in self.manifest.get("docs", {}).values():
                    by.setdefault(entry.get("department"), set()).update(entry.get("names", []))
                self._names_by_department = by
            for d in departments:
                terms.update(self._names_by_department.get(d, ()))
        if year is not None:
            terms.update({f"{year}年度", f"{year}年", str(year)})
        stripped = text
        for term in sorted(terms, key=lambda t: (-len(t), t)):
            if len(term) >= 2:
                stripped = stripped.replace(term, " ")
        return stripped if stripped.strip(" ，,。？?的") else text

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retrieval-encode")
            return self._executor

    def _sentences(self, idx: int) -> list[tuple[str, frozenset[str]]]:
        """Sentences of chunk ``idx`` with their tokens (computed once per chunk)."""
        found = self._sentence_cache.get(idx)
        if found is None:
            found = [
                (s.strip(), frozenset(tokenize(s)))
                for s in split_sentences(self.chunks[idx].text)
                if s.strip()
            ]
            self._sentence_cache[idx] = found
        return found

    def _highlights(self, idx: int, q_tokens: set[str], limit: int = 2) -> list[str]:
        """The sentence(s) of chunk ``idx`` sharing the most query IDF mass (document order)."""
        pairs = self._sentences(idx)
        if not pairs:
            return []
        assert self.lexical is not None
        sentences = [s for s, _ in pairs]
        weights = [sum(self.lexical.idf(t) for t in q_tokens & toks) for _, toks in pairs]
        best = max(weights)
        if best <= 0:
            return sentences[:1]
        picked = sorted(range(len(sentences)), key=lambda i: (-weights[i], i))[:limit]
        picked = [i for i in picked if weights[i] >= 0.8 * best]
        return [sentences[i] for i in sorted(picked)]

