"""BM25 over jieba tokens, computed with numpy and persisted as .npy + JSON (no pickle).

Chunks are tokenised with assistant.retrieve.tokenize (bm25s's own tokenizer treats a run of Chinese
characters as one token, so every Chinese query would score 0). The index keeps two matrices:

- the *term counts* (``TermCounts``: per passage, its distinct token ids and their counts, CSR) —
  the per-passage input, which an incremental build slices and carries over for unchanged reports
  instead of tokenising them again;
- the *BM25 scores* derived from them (CSC over tokens: the passages containing token t and their
  score), which depend on every passage (IDF, average length) and are recomputed from the counts in
  one vectorised pass (``LexicalIndex.from_counts``: ~0.1 s for 30k passages; bm25s's own
  ``BM25.index`` loops over passages in Python with a Counter each and takes seconds).

The scores are those of bm25s's default (Lucene) variant, k1 = 1.5, b = 0.75: IDF
log(1 + (N − df + 0.5) / (df + 0.5)), term part tf / (k1·(1 − b + b·dl/avgdl) + tf), dl counting
repeated tokens. The vocabulary is sorted, so the files are deterministic and an incremental build
writes the same bytes as a full one.

Besides the BM25 score, ``score`` returns the *coverage* of each passage: the share of the query's
IDF mass (out-of-vocabulary tokens included, at maximal IDF) that occurs in the passage. Unlike the
raw BM25 score it is comparable across queries, so it can be thresholded (see fusion.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["LexicalIndex", "TermCounts"]

K1 = 1.5
B = 0.75
_COUNT_FILES = ("tf_indptr.npy", "tf_ids.npy", "tf_counts.npy")
_SCORE_FILES = ("data.npy", "indices.npy", "indptr.npy")
VOCAB = "vocab.json"
PARAMS = "params.json"


class TermCounts:
    """Distinct token ids and their counts per passage (CSR rows), with the vocabulary (sorted)."""

    def __init__(self, vocab: list[str], indptr: np.ndarray, ids: np.ndarray, counts: np.ndarray) -> None:
        self.vocab = vocab
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.ids = np.asarray(ids, dtype=np.int32)
        self.counts = np.asarray(counts, dtype=np.int32)

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def from_tokens(cls, token_lists: Sequence[Sequence[str]]) -> TermCounts:
        """Counts of ``token_lists`` (one list per passage)."""
        n = len(token_lists)
        # identical passages (a line or header repeated across reports) are counted once, then copied
        distinct: dict[tuple[str, ...], int] = {}
        row_of = np.fromiter(
            (distinct.setdefault(tuple(toks), len(distinct)) for toks in token_lists), dtype=np.int64, count=n
        )
        lengths = np.fromiter((len(toks) for toks in distinct), dtype=np.int64, count=len(distinct))
        # one pass over their tokens: ids in order of first occurrence, then renumbered in sorted order
        first: dict[str, int] = {}
        ids = np.fromiter(
            (first.setdefault(t, len(first)) for toks in distinct for t in toks),
            dtype=np.int32,
            count=int(lengths.sum()),
        )
        vocab = sorted(first)
        rank = np.empty(len(vocab), dtype=np.int32)
        rank[np.fromiter((first[t] for t in vocab), dtype=np.int64, count=len(vocab))] = np.arange(
            len(vocab), dtype=np.int32
        )
        starts = np.zeros(len(distinct) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        from scipy.sparse import csr_matrix  # build time only: searching needs numpy alone

        # repeated (passage, token) pairs summed per row: linear, no sort of every token
        m = csr_matrix(
            (np.ones(len(ids), dtype=np.int32), rank[ids], starts), shape=(len(distinct), max(len(vocab), 1))
        )
        m.sum_duplicates()
        # each passage's row is its distinct passage's: gathered with one vectorised index
        sizes = np.diff(m.indptr.astype(np.int64))[row_of]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(sizes, out=indptr[1:])
        src = np.repeat(m.indptr[:-1].astype(np.int64)[row_of] - indptr[:-1], sizes) + np.arange(indptr[-1])
        return cls(vocab, indptr, m.indices[src], m.data[src])

    def slice(self, lo: int, hi: int) -> TermCounts:
        """Rows ``lo:hi`` (same vocabulary; views, no copy)."""
        a, b = int(self.indptr[lo]), int(self.indptr[hi])
        return TermCounts(self.vocab, self.indptr[lo : hi + 1] - a, self.ids[a:b], self.counts[a:b])

    @classmethod
    def concat(cls, parts: Sequence[TermCounts]) -> TermCounts:
        """The rows of ``parts`` in order, over the sorted union of the tokens they use (a token no
        row uses any more is dropped, so the result equals ``from_tokens`` of the same passages)."""
        parts = [p for p in parts if p.rows]
        if not parts:
            return cls([], np.zeros(1, dtype=np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32))
        # per distinct vocabulary (usually two: the previous index's and the new reports'), the ids in use
        vocabs: dict[int, tuple[list[str], list[np.ndarray]]] = {}
        for p in parts:
            vocabs.setdefault(id(p.vocab), (p.vocab, []))[1].append(p.ids)
        used: dict[int, np.ndarray] = {  # a bincount, not np.unique: linear, no sort or hash of 10M ids
            k: np.flatnonzero(sum(np.bincount(i, minlength=len(v)) for i in ids))
            for k, (v, ids) in vocabs.items()
        }
        words = sorted({v[i] for k, (v, _) in vocabs.items() for i in used[k].tolist()})
        index = {t: i for i, t in enumerate(words)}
        remap: dict[int, np.ndarray] = {}
        for k, (v, _) in vocabs.items():
            table = np.full(len(v), -1, dtype=np.int32)
            u = used[k]
            table[u] = np.fromiter((index[v[i]] for i in u.tolist()), dtype=np.int32, count=len(u))
            remap[k] = table
        indptr = [np.zeros(1, dtype=np.int64)]
        ids: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        offset = 0
        for p in parts:
            new_ids = remap[id(p.vocab)][p.ids]
            # the remapping keeps each row's ids sorted only if it is monotonic: it is (both sorted)
            ids.append(new_ids)
            counts.append(p.counts)
            indptr.append(p.indptr[1:] + offset)
            offset += int(p.indptr[-1])
        return cls(words, np.concatenate(indptr), np.concatenate(ids), np.concatenate(counts))

    def save(self, directory: Path) -> None:
        arrays: tuple[np.ndarray, ...] = (self.indptr, self.ids, self.counts)
        for name, arr in zip(_COUNT_FILES, arrays, strict=True):
            np.save(directory / name, arr, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path, vocab: list[str]) -> TermCounts:
        indptr, ids, counts = (np.load(directory / name, allow_pickle=False) for name in _COUNT_FILES)
        return cls(vocab, indptr, ids, counts)


class LexicalIndex:
    """A BM25 index of token lists (one per chunk, in chunk order)."""

    def __init__(
        self,
        vocab: list[str],
        data: np.ndarray,
        indices: np.ndarray,
        indptr: np.ndarray,
        num_docs: int,
        counts: TermCounts | None = None,
    ) -> None:
        self.words = vocab
        self.vocab = {t: i for i, t in enumerate(vocab)}
        self.num_docs = num_docs
        # CSC over tokens: docs containing token t are indices[indptr[t]:indptr[t+1]]
        self._data = np.asarray(data, dtype=np.float32)
        self._indices = np.asarray(indices)  # int32: half the memory, indexes as well
        self._indptr = np.asarray(indptr, dtype=np.int64)
        self.counts = counts

    @classmethod
    def build(cls, token_lists: Sequence[Sequence[str]]) -> LexicalIndex:
        """Index ``token_lists`` (chunk order is the document id order)."""
        return cls.from_counts(TermCounts.from_tokens(token_lists))

    @classmethod
    def from_counts(cls, tc: TermCounts) -> LexicalIndex:
        """The BM25 index of the passages ``tc`` counts (vectorised; see the module doc)."""
        n, width = tc.rows, len(tc.vocab)
        lengths = np.diff(tc.indptr)
        csum = np.zeros(len(tc.counts) + 1, dtype=np.int64)
        np.cumsum(tc.counts, out=csum[1:])
        dl = (csum[tc.indptr[1:]] - csum[tc.indptr[:-1]]).astype(np.float64)  # passage lengths in tokens
        avgdl = float(dl.mean()) if n and dl.mean() > 0 else 1.0
        df = np.bincount(tc.ids, minlength=width)
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        # in place, float32: tf / (k1·(1 − b + b·dl/avgdl) + tf) · idf — per-passage norm repeated
        scores = tc.counts.astype(np.float32)
        denom = np.repeat((K1 * ((1 - B) + B * dl / avgdl)).astype(np.float32), lengths)
        denom += scores
        np.divide(scores, denom, out=scores)
        scores *= idf[tc.ids]
        from scipy.sparse import csr_matrix  # build time only: searching needs numpy alone

        # CSR (passage-major) → CSC (token-major) in linear time, rows ascending within a token
        csc = csr_matrix((scores, tc.ids, tc.indptr), shape=(n, width)).tocsc()
        return cls(tc.vocab, csc.data, csc.indices.astype(np.int32), csc.indptr.astype(np.int64), n, tc)

    def save(self, directory: Path) -> None:
        """Write the index files into ``directory`` (created if needed)."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / VOCAB).write_text(json.dumps(self.words, ensure_ascii=False), encoding="utf-8")
        (directory / PARAMS).write_text(
            json.dumps({"num_docs": self.num_docs, "k1": K1, "b": B}), encoding="utf-8"
        )
        arrays: tuple[np.ndarray, ...] = (self._data, self._indices.astype(np.int32), self._indptr)
        for name, arr in zip(_SCORE_FILES, arrays, strict=True):
            np.save(directory / name, arr, allow_pickle=False)
        if self.counts is not None:
            self.counts.save(directory)

    @classmethod
    def load(cls, directory: Path, with_counts: bool = False) -> LexicalIndex:
        """Read an index written by ``save`` (``with_counts``: also its term counts, for a rebuild)."""
        words = json.loads((directory / VOCAB).read_text(encoding="utf-8"))
        params = json.loads((directory / PARAMS).read_text(encoding="utf-8"))
        data, indices, indptr = (np.load(directory / name, allow_pickle=False) for name in _SCORE_FILES)
        counts = TermCounts.load(directory, words) if with_counts else None
        return cls(words, data, indices, indptr, int(params["num_docs"]), counts)

    @staticmethod
    def load_counts(directory: Path) -> TermCounts:
        """Only the term counts of the index in ``directory`` (what an incremental build reuses)."""
        words = json.loads((directory / VOCAB).read_text(encoding="utf-8"))
        return TermCounts.load(directory, words)

    def idf(self, token: str) -> float:
        """Lucene BM25 IDF of ``token`` (a token absent from the corpus gets the highest IDF)."""
        tid = self.vocab.get(token)
        df = (
            0
            if tid is None or tid + 1 >= len(self._indptr)
            else int(self._indptr[tid + 1] - self._indptr[tid])
        )
        return math.log(1.0 + (self.num_docs - df + 0.5) / (df + 0.5))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage for ``query_tokens`` (each distinct token once): one
        scatter-add per token over its postings, the only work proportional to the corpus."""
        scores = np.zeros(self.num_docs, dtype=np.float32)
        for tok in dict.fromkeys(query_tokens):
            tid = self.vocab.get(tok)
            if tid is None:
                continue
            lo, hi = int(self._indptr[tid]), int(self._indptr[tid + 1])
            scores[self._indices[lo:hi]] += self._data[lo:hi]
        return scores

    def coverage_of(self, query_tokens: list[str], ids: np.ndarray) -> np.ndarray:
        """IDF coverage (as ``score`` computes it) of the passages ``ids`` only: a binary search of
        each token's postings (sorted by passage) instead of a pass over every passage."""
        ids = np.asarray(ids, dtype=np.int64)
        covered = np.zeros(len(ids), dtype=np.float32)
        total = 0.0
        for tok in dict.fromkeys(query_tokens):
            w = self.idf(tok)
            total += w
            tid = self.vocab.get(tok)
            if tid is None or not len(ids):
                continue
            posting = self._indices[int(self._indptr[tid]) : int(self._indptr[tid + 1])]
            pos = np.searchsorted(posting, ids)
            found = pos < len(posting)
            found[found] = posting[pos[found]] == ids[found]
            covered[found] += w
        return covered / total if total > 0 else covered

    def score(self, query_tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """BM25 score and IDF coverage (0..1) of every passage for ``query_tokens``.

        A token repeated in the query counts once: repeats come from jieba's search mode emitting
        sub-words, not from the user stressing a word.
        """
        scores = np.zeros(self.num_docs, dtype=np.float32)
        covered = np.zeros(self.num_docs, dtype=np.float32)
        unique = list(dict.fromkeys(query_tokens))
        total = 0.0
        for tok in unique:
            w = self.idf(tok)
            total += w
            tid = self.vocab.get(tok)
            if tid is None:
                continue
            lo, hi = int(self._indptr[tid]), int(self._indptr[tid + 1])
            docs = self._indices[lo:hi]
            scores[docs] += self._data[lo:hi]
            covered[docs] += w
        if total > 0:
            covered /= total
        return scores, covered
