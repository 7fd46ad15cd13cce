"""BM25 over jieba tokens (bm25s), persisted as .npy + JSON.

bm25s's own tokenizer treats a run of Chinese characters as one token (every Chinese query then
scores 0), so chunks are tokenised with assistant.retrieve.tokenize and handed to bm25s as ids with
a vocabulary we build ourselves (sorted, so the index files are deterministic). bm25s saves with
``np.save(allow_pickle=False)`` and JSON, and is loaded with ``allow_pickle=False``: no pickle.

Besides the BM25 score, ``score`` returns the *coverage* of each passage: the share of the query's
IDF mass (out-of-vocabulary tokens included, at maximal IDF) that occurs in the passage. Unlike the
raw BM25 score it is comparable across queries, so it can be thresholded (see fusion.py).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = ["LexicalIndex"]


class LexicalIndex:
    """A BM25 index of token lists (one per chunk, in chunk order)."""

    def __init__(self, bm25: object, vocab: dict[str, int], num_docs: int) -> None:
        self._bm25 = bm25
        self.vocab = vocab
        self.num_docs = num_docs
        scores = bm25.scores  # type: ignore[attr-defined]
        # CSC over tokens: docs containing token t are indices[indptr[t]:indptr[t+1]]
        self._data = np.asarray(scores["data"], dtype=np.float32)
        self._indices = np.asarray(scores["indices"], dtype=np.int64)
        self._indptr = np.asarray(scores["indptr"], dtype=np.int64)

    @classmethod
    def build(cls, token_lists: list[list[str]]) -> LexicalIndex:
        """Index ``token_lists`` (chunk order is the document id order)."""
        import bm25s
        from bm25s.tokenization import Tokenized

        vocab = {tok: i for i, tok in enumerate(sorted({t for toks in token_lists for t in toks}))}
        ids = [[vocab[t] for t in toks] for toks in token_lists]
        bm25 = bm25s.BM25()  # lucene variant, k1=1.5, b=0.75
        bm25.index(Tokenized(ids=ids, vocab=vocab), show_progress=False)
        return cls(bm25, vocab, len(token_lists))

    def save(self, directory: Path) -> None:
        """Write the index files into ``directory`` (created if needed)."""
        self._bm25.save(str(directory), allow_pickle=False, show_progress=False)  # type: ignore[attr-defined]

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        """Read an index written by ``save``."""
        import bm25s

        bm25 = bm25s.BM25.load(str(directory), allow_pickle=False, show_progress=False)
        vocab = {k: int(v) for k, v in bm25.vocab_dict.items()}
        return cls(bm25, vocab, int(bm25.scores["num_docs"]))

    def idf(self, token: str) -> float:
        """Lucene BM25 IDF of ``token`` (a token absent from the corpus gets the highest IDF)."""
        tid = self.vocab.get(token)
        df = 0 if tid is None or tid + 1 >= len(self._indptr) else int(self._indptr[tid + 1] - self._indptr[tid])
        return math.log(1.0 + (self.num_docs - df + 0.5) / (df + 0.5))

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
