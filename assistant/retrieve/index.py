"""The retrieval index: chunks + BM25 + FAISS, built incrementally and searched with fusion.

Layout of ``<index_dir>/retrieval/``::

    manifest.json      format version, model name + dimension, chunking and tokenizer settings,
                       per-file sha256 and metadata, chunk count
    chunks.jsonl       one Chunk per line, in index order
    contexts.json      per chunk, the table title + column header it belongs to ("" outside tables)
    spans.json         per chunk, its sentences / rows: [line_start, line_end, paragraph, page, text]
    bm25/              bm25s arrays (.npy) and vocabulary (JSON)
    dense.faiss        FAISS index, row i = chunk i (absent when built with embed=False)
    embeddings.npy     embedding cache: vectors by sha256 of the embedded text ...
    embeddings.json    ... whose keys are listed here, in row order

A build writes a fresh directory next to it and swaps it in with os.replace, so a reader never sees
a half-written index. Only texts missing from the embedding cache are embedded, so touching one
document re-embeds only that document's changed chunks; a change of model, format version or
chunking settings invalidates what depends on it, with a message saying why.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from pydantic import BaseModel, Field

from assistant.config import Settings
from assistant.models import Chunk, Document, Report
from assistant.retrieve.chunking import chunk_document_with_context, split_sentences
from assistant.retrieve.dense import DenseIndex, EmbeddingCache, Encoder, ModelEncoder, text_key
from assistant.retrieve.fusion import DEFINITION_WEIGHT, defines, definition_term, filter_mask, fuse
from assistant.retrieve.lexical import LexicalIndex
from assistant.retrieve.tokenize import expand_query, tokenize, tokenizer_signature

__all__ = ["RetrievalIndex", "Hit", "BuildStats", "IndexNotFound", "FORMAT_VERSION", "SUBDIR"]

FORMAT_VERSION = 3
SUBDIR = "retrieval"
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
CONTEXTS = "contexts.json"
SPANS = "spans.json"
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
    chunks: int = 0
    chunks_embedded: int = 0  # distinct chunk texts sent to the model in this build
    embedded: bool = False  # the index has a dense part
    up_to_date: bool = False  # nothing to do: the existing index was kept as is
    full_rebuild_reason: str | None = None
    seconds: float = 0.0


def embed_text(chunk: Chunk, context: str = "") -> str:
    """The text a chunk is indexed under: section path, table context (title + column header of the
    table the chunk is part of) and passage — headings and headers carry the topic."""
    head = "\n".join(p for p in (chunk.section, context) if p)
    return f"{head}\n{chunk.text}" if head else chunk.text


def _report_key(doc: Document, report: Report) -> dict[str, Any]:
    names = ([report.department] if report.department else []) + sorted(set(report.aliases))
    return {
        "sha256": doc.sha256,
        "department": report.department,
        "year": report.year,
        "kind": report.kind,
        "names": names,
    }


class _Progress:
    """A one-line progress counter on a TTY; silent otherwise."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr  # the current one, not import time's
        self.done = 0
        self.total = 0
        self.label = ""

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self._show()

    def advance(self, n: int) -> None:
        self.done += n
        self._show()

    def finish(self) -> None:
        if self.enabled and self.total:
            self.stream.write("\n")
            self.stream.flush()

    def _show(self) -> None:
        if not (self.enabled and self.total):
            return
        pct = 100 * self.done // self.total
        if pct != getattr(self, "_last", None):  # redraw on a percent change only
            self._last = pct
            self.stream.write(f"\r{self.label}: {self.done}/{self.total} ({pct}%)")
            self.stream.flush()


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


def _swap_in(tmp: Path, final: Path) -> None:
    """Replace ``final`` by ``tmp``: two renames, the old copy removed afterwards."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


class RetrievalIndex:
    """Hybrid BM25 + dense search over the chunks of the corpus."""

    def __init__(
        self,
        directory: Path,
        settings: Settings,
        manifest: dict[str, Any],
        chunks: list[Chunk],
        lexical: LexicalIndex | None,
        dense: DenseIndex | None,
        encoder: Encoder | None,
        lines: tuple[LexicalIndex, np.ndarray] | None = None,
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
        self._spans: list[list[Any]] | None = None
        self._doc_chunks: dict[str, list[int]] | None = None

    # ------------------------------------------------------------------ build

    @staticmethod
    def build(
        index_dir: Path,
        docs: list[tuple[Document, Report]],
        settings: Settings,
        embed: bool = True,
        progress: bool | None = None,
        encoder: Encoder | None = None,
    ) -> BuildStats:
        """Build or update ``index_dir/retrieval`` for ``docs``; only new chunk texts are embedded.

        ``progress`` None shows progress when stderr is a TTY. ``encoder`` defaults to the configured
        model (loaded only if something has to be embedded). Raises whatever the model loader raises
        when embedding is needed and the model is unavailable (use embed=False then).
        """
        t0 = time.perf_counter()
        index_dir = Path(index_dir)
        final = index_dir / SUBDIR
        show = sys.stderr.isatty() if progress is None else progress
        bar = _Progress(show)
        model_name = encoder.name if encoder is not None else settings.embedding.model
        old = _read_manifest(final) or {}
        stats = BuildStats(docs=len(docs))

        chunking = {"size": settings.chunking.size, "overlap": settings.chunking.overlap}
        reasons = []
        if old and old.get("format") != FORMAT_VERSION:
            reasons.append(f"index format {old.get('format')} → {FORMAT_VERSION}")
        if old and old.get("chunking") != chunking:
            reasons.append(f"chunking {old.get('chunking')} → {chunking}")
        keep_cache = bool(old) and old.get("format") == FORMAT_VERSION
        if old.get("model") and old.get("model") != model_name:
            reasons.append(f"embedding model {old.get('model')} → {model_name}")
            keep_cache = False
        if reasons:
            stats.full_rebuild_reason = "; ".join(reasons)
            log.warning("retrieval index: full rebuild (%s)", stats.full_rebuild_reason)

        files = {d.doc: _report_key(d, r) for d, r in docs}
        old_files: dict[str, Any] = old.get("docs", {}) if not reasons else {}
        stats.docs_changed = sum(1 for name, key in files.items() if old_files.get(name, {}).get("sha256") != key["sha256"])
        stats.docs_removed = sum(1 for name in old_files if name not in files)
        signature = tokenizer_signature()
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

        # chunking is cheap and deterministic: redo it for every file (metadata may have changed)
        chunks: list[Chunk] = []
        contexts: list[str] = []
        spans: list[list[Any]] = []
        per_doc: dict[str, int] = {}
        for doc, report in sorted(docs, key=lambda dr: dr[0].doc):
            pairs = chunk_document_with_context(doc, report, settings.chunking.size, settings.chunking.overlap)
            per_doc[doc.doc] = len(pairs)
            chunks.extend(c for c, _, _ in pairs)
            contexts.extend(x for _, x, _ in pairs)
            spans.extend([list(u) for u in us] for _, _, us in pairs)
        stats.chunks = len(chunks)

        index_dir.mkdir(parents=True, exist_ok=True)
        tmp = index_dir / f".{SUBDIR}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            with (tmp / CHUNKS).open("w", encoding="utf-8") as f:
                for c in chunks:
                    f.write(c.model_dump_json() + "\n")
            (tmp / CONTEXTS).write_text(json.dumps(contexts, ensure_ascii=False), encoding="utf-8")
            (tmp / SPANS).write_text(json.dumps(spans, ensure_ascii=False), encoding="utf-8")

            texts = [embed_text(c, x) for c, x in zip(chunks, contexts, strict=True)]
            report_tokens = {name: _report_tokens(key) for name, key in files.items()}
            # BM25 text: the indexed text plus, once each, the tokens naming the chunk's report
            token_lists = [tokenize(t) + report_tokens.get(c.doc, []) for c, t in zip(chunks, texts, strict=True)]
            if chunks:
                LexicalIndex.build(token_lists).save(tmp / BM25_DIR)
                # line-level BM25: a question answered by one table row or sentence finds it even
                # when the rest of its chunk is about something else
                units, owner = _line_units(chunks, contexts)
                LexicalIndex.build([tokenize(u) for u in units]).save(tmp / LINES_DIR)
                np.save(tmp / LINE_OWNER, np.asarray(owner, dtype=np.int32), allow_pickle=False)

            cache = EmbeddingCache.load(final) if keep_cache else EmbeddingCache()
            dim: int | None = old.get("dim") if keep_cache else None
            if embed and chunks:
                enc = encoder if encoder is not None else ModelEncoder(settings)
                missing = len({text_key(t) for t in texts} - set(cache.keys))
                bar.start("embedding", missing)
                stats.chunks_embedded = cache.fill(texts, enc.encode_passages, progress=bar.advance)
                bar.finish()
                if cache.dim is not None and dim is not None and cache.dim != dim:
                    raise ValueError(f"embedding dimension changed ({dim} → {cache.dim}); delete {final}")
                dim = cache.dim
                cache = cache.subset(texts)
                DenseIndex.build(cache.get(texts), settings.retrieval.approximate_above).save(tmp / FAISS_FILE)
                stats.embedded = True
            if len(cache):
                cache.save(tmp)  # kept for the next build even when this one is BM25-only

            manifest = {
                "format": FORMAT_VERSION,
                "model": model_name if (stats.embedded or len(cache)) else None,
                "dim": dim,
                "embedded": stats.embedded,
                "chunking": chunking,
                "tokenizer": signature,
                "docs": files,
                "chunks_per_doc": per_doc,
                "chunks": len(chunks),
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
            _swap_in(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        stats.seconds = time.perf_counter() - t0
        return stats

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
        chunks = [
            Chunk.model_validate_json(line)
            for line in (directory / CHUNKS).read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        lexical = LexicalIndex.load(directory / BM25_DIR) if chunks else None
        lines = None
        if chunks:
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
        return cls(directory, settings, manifest, chunks, lexical, dense, encoder, lines)

    def chunks_of(self, doc: str) -> list[int]:
        """Positions of the chunks of ``doc``, in document order."""
        if self._doc_chunks is None:
            by: dict[str, list[int]] = {}
            for i, c in enumerate(self.chunks):
                by.setdefault(c.doc, []).append(i)
            self._doc_chunks = by
        return self._doc_chunks.get(doc, [])

    def spans(self, idx: int) -> list[tuple[int, int, int, int | None, str]]:
        """The sentences / rows / headings of chunk ``idx`` with their lines: (line_start, line_end,
        paragraph number, page, text). Read from spans.json on first use."""
        if self._spans is None:
            try:
                self._spans = json.loads((self.directory / SPANS).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._spans = []
        if idx >= len(self._spans):
            return []
        return [(int(a), int(b), int(p), pg, str(t)) for a, b, p, pg, t in self._spans[idx]]

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
        if not self.chunks or self.lexical is None or not text.strip():
            return []
        text = self._strip_filtered(text, departments, year)
        mask = filter_mask(self.chunks, departments, year, kind)
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
        bm25, coverage = self.lexical.score(q_tokens + expansion)
        if expansion:
            coverage = np.maximum(coverage, self.lexical.score(q_tokens)[1])
        q_tokens = q_tokens + expansion
        bm25_ranked: list[int] = []
        if mode != "dense":
            cand = np.flatnonzero(bm25 > 0)
            if mask is not None:
                cand = cand[mask[cand]]
            order = np.lexsort((cand, -bm25[cand]))  # score desc, index asc
            bm25_ranked = [int(i) for i in cand[order][:CANDIDATES]]

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
        if LINE_WEIGHT and self.lines is not None and extra_lexical:
            rankings.append((self._line_ranking(q_tokens, mask), LINE_WEIGHT))
        if COVERAGE_WEIGHT and bm25_ranked and extra_lexical:
            by_cov = sorted(bm25_ranked, key=lambda i: (-round(float(coverage[i]), 3), -float(bm25[i]), i))
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

    def _line_ranking(self, q_tokens: list[str], mask: np.ndarray | None) -> list[int]:
        """Chunks ordered by the BM25 score of their best line (table row / sentence)."""
        assert self.lines is not None
        lex, owner = self.lines
        scores, _ = lex.score(q_tokens)
        cand = np.flatnonzero(scores > 0)
        if mask is not None:
            cand = cand[mask[owner[cand]]]
        order = cand[np.lexsort((cand, -scores[cand]))]
        return [int(c) for c in dict.fromkeys(owner[order].tolist())][:CANDIDATES]

    def _strip_filtered(self, text: str, departments: list[str] | None, year: int | None) -> str:
        """The query without the department names / year its filters already enforce.

        "峨山医保局2021年邮电费" filtered to that department and year searches for 邮电费: left in,
        the name would rank the chunks that mention the department above the one about 邮电费.
        """
        terms: set[str] = set()
        if departments:
            wanted = set(departments)
            terms.update(departments)
            for entry in self.manifest.get("docs", {}).values():
                if entry.get("department") in wanted:
                    terms.update(entry.get("names", []))
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

