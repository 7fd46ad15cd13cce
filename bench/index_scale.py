"""A whole index with embeddings and the real model on N synthetic reports, extrapolated to 5,000.

    python -m bench.index_scale [--sizes 200] [--seed 7] [--target 5000]

For each N: bench/synth.py writes N reports into a temporary directory (config.toml there, the
configured embedding settings), then one cold ``build_index(settings, embed=True)`` runs with the
real encoder, as ``assistant index`` does. Printed: wall and CPU seconds, the phases (facts; the
retrieval build's load, chunk + tokenise, rows, BM25 and dense = embedding + FAISS), the chunks and
the distinct texts embedded, passages/s, and the build extrapolated to ``--target`` reports.

The extrapolation is linear in reports: facts, chunking and BM25 are per report, and the embedded
texts per report are taken as measured at N. The embedding cache embeds a text once however many
reports carry it, and a larger synthetic corpus repeats its five sources' boilerplate more often, so
at 5,000 the texts per report can only be fewer: the figure is an upper bound.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def retrieval_stats(found: dict[str, Any]) -> Iterator[None]:
    """Record the BuildStats of the retrieval build that build_index runs (``found['stats']``)."""
    from assistant.retrieve.index import RetrievalIndex

    orig = RetrievalIndex.__dict__["build"]  # the staticmethod itself, put back as it was

    def wrapper(*a: Any, **k: Any) -> Any:
        found["stats"] = stats = orig.__func__(*a, **k)
        return stats

    type.__setattr__(RetrievalIndex, "build", staticmethod(wrapper))
    try:
        yield
    finally:
        type.__setattr__(RetrievalIndex, "build", orig)


def run(n: int, seed: int, target: int) -> dict[str, Any]:
    """Build an index of n synthetic reports with embeddings; return the figures."""
    from assistant.config import load_settings
    from assistant.store.build import build_index
    from bench.synth import generate

    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        base = Path(tmp)
        generate(base / "corpus", n, seed=seed)
        (base / "config.toml").write_text('[paths]\ncorpus = ["corpus"]\nindex = "index"\n', encoding="utf-8")
        settings = load_settings(base / "config.toml")
        from assistant.retrieve.dense import ModelEncoder

        ModelEncoder(settings).model("passage")  # prepared/exported before the clock starts
        found: dict[str, Any] = {}
        t, c = time.perf_counter(), time.process_time()
        with retrieval_stats(found):
            result = build_index(settings, embed=True, log=lambda *a: None)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
    stats = found["stats"]
    retrieval = result.timings.get("retrieval", 0.0)
    dense = stats.timings.get("dense", 0.0)
    return {
        "n": n,
        "wall": wall,
        "cpu": cpu,
        "facts": wall - retrieval,
        "retrieval": retrieval,
        "phases": stats.timings,
        "chunks": stats.chunks,
        "embedded": stats.chunks_embedded,
        "passages_per_s": stats.chunks_embedded / dense if dense else 0.0,
        "target": target,
        "extrapolated_min": wall / n * target / 60,
        "embedding": settings.embedding,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="200")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--target", type=int, default=5000)
    args = ap.parse_args(argv)
    load = os.getloadavg()[0]
    print(f"load average at start {load:.2f}; {os.cpu_count()} CPUs")
    print(
        "| N | wall (s) | CPU (s) | facts (s) | retrieval (s) | chunk + tokenise (s) | BM25 (s) | dense (s) | "
        "chunks | texts embedded | per report | passages/s | extrapolated to target (min) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in (int(x) for x in args.sizes.split(",")):
        r = run(n, args.seed, args.target)
        p = r["phases"]
        print(
            f"| {n} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['facts']:.1f} | {r['retrieval']:.1f} | "
            f"{p.get('load', 0) + p.get('chunk', 0):.1f} | {p.get('bm25', 0):.1f} | {p.get('dense', 0):.1f} | "
            f"{r['chunks']} | {r['embedded']} | {r['embedded'] / n:.1f} | {r['passages_per_s']:.1f} | "
            f"{r['extrapolated_min']:.1f} ({r['target']} reports) |",
            flush=True,
        )
        e = r["embedding"]
        print(
            f"(embedding: {e.runtime}, passages {e.precision}, batch {e.batch_size}, tables {e.table_text})"
        )
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
