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
Building is assistant/retrieve/index_build.py; the file names and row files index_files.py.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from assistant.config import Settings
from assistant.models import Chunk
from assistant.retrieve.chunking import split_sentences
from assistant.retrieve.dense import DenseIndex, Encoder, ModelEncoder
from assistant.retrieve.fusion import DEFINITION_WEIGHT, defines, definition_term, fuse
from assistant.retrieve.index_build import BuildStats, build_retrieval_index
from assistant.retrieve.index_files import (
    BM25_DIR,
    CHUNKS,
    FAISS_FILE,
    FORMAT_VERSION,
    LINE_OWNER,
    LINES_DIR,
    MANIFEST,
    SPANS,
    SUBDIR,
    ChunkList,
    Lines,
    read_index_manifest,
)
from assistant.retrieve.lexical import LexicalIndex
from assistant.retrieve.tokenize import expand_query, tokenize

# MANIFEST and SUBDIR: answer/passages.py reads the manifest to know whether the index is embedded
__all__ = ["RetrievalIndex", "Hit", "BuildStats", "IndexNotFound", "FORMAT_VERSION", "SUBDIR", "MANIFEST"]

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


def _load_quietly(encoder: ModelEncoder) -> None:
    """Load the encoder's model; a failure is left for the search, which reports it (BM25 only)."""
    try:
        encoder.model()
    except Exception:  # noqa: BLE001 - the search's own load raises it again and handles it
        log.debug("background load of the embedding model failed", exc_info=True)


def _top(cand: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` of ``cand`` ordered by score (descending), then index: a partition picks the
    few above the k-th score, only those are sorted (a full sort of 300k candidates costs ~30 ms)."""
    if len(cand) > k:
        s = scores[cand]
        kth = np.partition(s, len(s) - k)[len(s) - k]
        cand = cand[s >= kth]  # ties with the k-th score kept, the sort below cuts them by index
    return cand[np.lexsort((cand, -scores[cand]))][:k]


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
        spans: Lines | None = None,
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
        self._doc_meta = [
            {"department": first[d].department, "year": first[d].year, "kind": first[d].kind}
            for d in self._doc_names
        ]
        self._doc_start = np.zeros(len(self._doc_names) + 1, dtype=np.int64)

    # ------------------------------------------------------------------ build

    # Build or update ``index_dir/retrieval`` (assistant/retrieve/index_build.py): the same function,
    # not a wrapper repeating its signature.
    build = staticmethod(build_retrieval_index)

    # ------------------------------------------------------------------ open

    @classmethod
    def open(
        cls, index_dir: Path, settings: Settings, encoder: Encoder | None = None, *, prefetch: bool = False
    ) -> RetrievalIndex:
        """Open ``index_dir/retrieval``; the model is not loaded until a search needs it, or, with
        ``prefetch`` (a search is coming), loaded from now on in a background thread."""
        directory = Path(index_dir) / SUBDIR
        manifest = read_index_manifest(directory)
        if manifest is None:
            raise IndexNotFound(f"no retrieval index in {directory}: run `assistant index`")
        if manifest.get("format") != FORMAT_VERSION:
            raise IndexNotFound(f"retrieval index in {directory} has an old format: run `assistant index`")
        embedded = bool(manifest.get("embedded")) and (directory / FAISS_FILE).exists()
        if embedded:
            if encoder is None:
                encoder = ModelEncoder(settings)
            if manifest.get("model") != encoder.name:
                log.warning(
                    "retrieval index was embedded with %s but the model is %s: BM25 only until `assistant index`",
                    manifest.get("model"),
                    encoder.name,
                )
                embedded = False
            elif prefetch and isinstance(encoder, ModelEncoder):
                # speed (cold text question): onnxruntime builds its session without the GIL, so the
                # load overlaps the rest of the open, rjieba's dictionary and the lexical search
                threading.Thread(
                    target=_load_quietly, args=(encoder,), name="encoder-load", daemon=True
                ).start()
        try:
            chunk_lines = Lines(directory / CHUNKS)
        except (OSError, ValueError) as e:
            raise IndexNotFound(
                f"retrieval index in {directory} is damaged ({e}): run `assistant index`"
            ) from e
        chunks = ChunkList(chunk_lines)
        lexical = LexicalIndex.load(directory / BM25_DIR) if len(chunks) else None
        lines = None
        if len(chunks):
            lines = (
                LexicalIndex.load(directory / LINES_DIR),
                np.load(directory / LINE_OWNER, allow_pickle=False),
            )
        dense = DenseIndex.load(directory / FAISS_FILE) if embedded else None
        spans = None
        try:
            spans = Lines(directory / SPANS)
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
        q_unique = list(dict.fromkeys(q_tokens))
        return [
            Hit(
                chunk=self.chunks[f.idx],
                score=f.score,
                bm25_score=f.bm25,
                dense_score=f.dense,
                coverage=f.coverage,
                highlights=self._highlights(f.idx, q_unique),
            )
            for f in fused[:k]
        ]

    def _filter_mask(
        self, departments: list[str] | None, year: int | None, kind: str | None
    ) -> np.ndarray | None:
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
        # and each chunk's lines are one run; ranked by position in that run, i.e. ties go to the
        # lower chunk
        owners = owner[cand]
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        best = np.maximum.reduceat(scores[cand], starts)
        return owners[starts][_top(np.arange(len(starts)), best, CANDIDATES)].tolist()

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

    def _highlights(self, idx: int, q_tokens: list[str], limit: int = 2) -> list[str]:
        """The sentence(s) of chunk ``idx`` sharing the most query IDF mass (document order).

        The IDF of the distinct ``q_tokens`` is summed in their order: summed over a set, the order
        (and so the last bit of a sum, which decides near ties) would change with the string hash
        seed from one process to the next."""
        pairs = self._sentences(idx)
        if not pairs:
            return []
        assert self.lexical is not None
        sentences = [s for s, _ in pairs]
        idf = [(t, self.lexical.idf(t)) for t in q_tokens]
        weights = [sum(w for t, w in idf if t in toks) for _, toks in pairs]
        best = max(weights)
        if best <= 0:
            return sentences[:1]
        picked = sorted(range(len(sentences)), key=lambda i: (-weights[i], i))[:limit]
        picked = [i for i in picked if weights[i] >= 0.8 * best]
        return [sentences[i] for i in sorted(picked)]
