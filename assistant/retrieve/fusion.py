"""Reciprocal-rank fusion of BM25 and dense rankings, metadata filters, and the relevance gate.

RRF (score = Σ weight / (k + rank)) only uses ranks, so it cannot tell a good match from the best
of a bad lot: every query, even nonsense, has a first-ranked chunk. The gate ``is_relevant`` uses
scores that *are* comparable across queries instead: the IDF coverage of the query by the chunk
(lexical.py) and the cosine similarity of the embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assistant.models import Chunk

__all__ = [
    "MIN_COVERAGE",
    "MIN_DENSE",
    "Fused",
    "filter_mask",
    "is_relevant",
    "reciprocal_rank_fusion",
]

# Calibration (bench/retrieval.py --calibrate, corpus/ + tests/qa/dev.jsonl, multilingual-e5-small):
# for every dev question with an evidence passage, the chunk holding the evidence was scored, and so
# was the best chunk of junk queries (量子引力的弦论解释, 红烧肉的做法, 世界杯冠军是谁, python列表推导式,
# 火星上有没有水 …) and of the unanswerable questions.
# - IDF coverage of the evidence chunks: min 0.53, median 0.86; best chunk of junk queries: max 0.35
#   (their only matching tokens are generic words such as 解释/做法). A threshold of 0.45 separates.
# - e5 cosine of the evidence chunks: min 0.80; best chunk of junk queries: max 0.81 (e5 squeezes
#   everything into 0.7-0.9), so dense alone can only admit a chunk well above the junk ceiling.
# A chunk passes when either signal clears its threshold. Unanswerable dev questions (wrong year)
# are not rejected here: they are answered "not found" through the year/department filters.
MIN_COVERAGE = 0.45
MIN_DENSE = 0.86


@dataclass(frozen=True)
class Fused:
    """One fused result: chunk position in the index and its scores."""

    idx: int
    score: float  # RRF score
    bm25: float
    coverage: float
    dense: float | None


def filter_mask(
    chunks: Sequence[Chunk],
    departments: Sequence[str] | None = None,
    year: int | None = None,
    kind: str | None = None,
) -> np.ndarray | None:
    """Boolean mask of chunks matching the filters (None when no filter is set).

    A chunk whose report lacks the filtered field (department unknown …) does not match.
    """
    if not departments and year is None and kind is None:
        return None
    wanted = set(departments or [])
    return np.fromiter(
        (
            (not wanted or c.department in wanted)
            and (year is None or c.year == year)
            and (kind is None or c.kind == kind)
            for c in chunks
        ),
        dtype=bool,
        count=len(chunks),
    )


def is_relevant(coverage: float, dense: float | None) -> bool:
    """The calibrated gate: enough of the query's words occur in the chunk, or the meaning is close."""
    return coverage >= MIN_COVERAGE or (dense is not None and dense >= MIN_DENSE)


def reciprocal_rank_fusion(
    rankings: Sequence[tuple[Sequence[int], float]], k: int
) -> dict[int, float]:
    """RRF over ``(ranked ids, weight)`` lists: Σ weight / (k + rank), rank starting at 1."""
    fused: dict[int, float] = {}
    for ranked, weight in rankings:
        for rank, idx in enumerate(ranked, start=1):
            fused[idx] = fused.get(idx, 0.0) + weight / (k + rank)
    return fused


def fuse(
    bm25_ranked: Sequence[int],
    dense_ranked: Sequence[int],
    bm25: np.ndarray,
    coverage: np.ndarray,
    dense: dict[int, float],
    bm25_weight: float,
    dense_weight: float,
    k: int,
    min_score: float = 0.0,
) -> list[Fused]:
    """Fuse the two rankings, drop chunks failing the relevance gate, best first (ties: index order).

    ``dense`` maps chunk index → cosine for every candidate (empty when there is no dense index).
    ``min_score`` is an extra floor on the fused RRF score (settings.retrieval.min_score).
    """
    rankings: list[tuple[Sequence[int], float]] = [(bm25_ranked, bm25_weight)]
    if dense_ranked:
        rankings.append((dense_ranked, dense_weight))
    fused = reciprocal_rank_fusion(rankings, k)
    out = [
        Fused(i, s, float(bm25[i]), float(coverage[i]), dense.get(i))
        for i, s in fused.items()
        if s >= min_score and is_relevant(float(coverage[i]), dense.get(i))
    ]
    out.sort(key=lambda f: (-f.score, f.idx))
    return out
