"""Reciprocal-rank fusion of BM25 and dense rankings, metadata filters, and the relevance gate.

RRF (score = Σ weight / (k + rank)) only uses ranks, so it cannot tell a good match from the best
of a bad lot: every query, even nonsense, has a first-ranked chunk. The gate ``is_relevant`` uses
scores that *are* comparable across queries instead: the IDF coverage of the query by the chunk
(lexical.py) and the cosine similarity of the embeddings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.models import Chunk

__all__ = [
    "MIN_COVERAGE",
    "MIN_DENSE",
    "DEFINITION_WEIGHT",
    "definition_term",
    "defines",
    "fuse",
    "Fused",
    "filter_mask",
    "is_relevant",
    "reciprocal_rank_fusion",
]

# Calibration (python -m bench.retrieval --calibrate; corpus/ + tests/qa/dev.jsonl, 345 chunks,
# multilingual-e5-small). For each of the 35 dev questions with an evidence passage, the chunk holding
# the evidence was scored as search() scores it (department filter set, department names stripped
# from the query); so was the best chunk of 10 junk queries (量子引力的弦论解释, 今天天气怎么样,
# 红烧肉的做法, 世界杯冠军是谁, python列表推导式怎么写, 火星上有没有水 …).
# - IDF coverage: evidence chunks min 0.36, median 0.82; junk max 0.22 (generic words: 做法, 解释).
# - e5 cosine: evidence chunks min 0.863, median 0.907; junk max 0.846. e5 squeezes every pair into
#   0.80-0.95, so the dense margin is thin; the threshold sits just above the junk ceiling.
# A chunk passes when either signal clears its threshold: every evidence chunk passes on coverage
# alone, every junk query yields nothing. Unanswerable dev questions (a year or department the corpus
# lacks) are not this gate's job: the engine's year/department filters leave nothing to search.
MIN_COVERAGE = 0.30
MIN_DENSE = 0.86
# Weight of the third ranking that a definitional question ("什么是X") adds: the passages defining X.
DEFINITION_WEIGHT = 1.0
_DEFINITION_QUERIES = (
    re.compile(r"^(?:请问)?(?:什么是|什么叫|何为|何谓|解释一下|解释)(.+)$"),
    re.compile(r"^(.+?)(?:是什么意思|是什么|指什么|是指什么|指的是什么|的含义|的定义|什么意思)$"),
)
# A regex, not str.translate: translate with a deletion table takes ~100 µs on a chunk of Chinese
# text (~10 µs here), and defines() strips every candidate chunk of a "什么是X" search.
_QUOTES = re.compile("[“”‘’\"'「」]")


def _strip_quotes(text: str) -> str:
    return _QUOTES.sub("", text)


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


def reciprocal_rank_fusion(rankings: Sequence[tuple[Sequence[int], float]], k: int) -> dict[int, float]:
    """RRF over ``(ranked ids, weight)`` lists: Σ weight / (k + rank), rank starting at 1."""
    fused: dict[int, float] = {}
    for ranked, weight in rankings:
        for rank, idx in enumerate(ranked, start=1):
            fused[idx] = fused.get(idx, 0.0) + weight / (k + rank)
    return fused


def definition_term(query: str) -> str | None:
    """The term a "what is X" question asks about (什么是X / X是什么 / X指什么 …), else None."""
    q = query.strip().rstrip("？?。.！! ")
    for rx in _DEFINITION_QUERIES:
        m = rx.match(q)
        if m:
            term = _strip_quotes(m.group(1)).strip(" ，,的")
            return term if 2 <= len(term) <= 20 else None
    return None


def defines(text: str, section: str, term: str) -> bool:
    """True when a passage defines ``term``: "X：指…", "X是指…", or X inside a 名词解释 section."""
    flat = _strip_quotes(text)
    if "名词解释" in section and term in flat:
        return True
    return re.search(re.escape(term) + r"\s*(?:[:：]|是指|指)", flat) is not None


def fuse(
    rankings: Sequence[tuple[Sequence[int], float]],
    bm25: np.ndarray,
    coverage: np.ndarray | Mapping[int, float],
    dense: dict[int, float],
    k: int,
    min_score: float = 0.0,
) -> list[Fused]:
    """Fuse ``(ranked ids, weight)`` lists, drop chunks failing the relevance gate, best first.

    Ties are broken by index order (deterministic). ``coverage`` gives (at least) every ranked
    chunk's IDF coverage. ``dense`` maps chunk index → cosine for every
    candidate (empty when there is no dense index). ``min_score`` is an extra floor on the fused
    RRF score (settings.retrieval.min_score).
    """
    fused = reciprocal_rank_fusion([r for r in rankings if r[0]], k)
    out = [
        Fused(i, s, float(bm25[i]), float(coverage[i]), dense.get(i))
        for i, s in fused.items()
        if s >= min_score and is_relevant(float(coverage[i]), dense.get(i))
    ]
    out.sort(key=lambda f: (-f.score, f.idx))
    return out
