"""Facts-only build phases: cold build and incremental rebuild on synthetic corpora.

    python -m bench.build_phases [--sizes 150,500] [--seed 7] [--profile N] [--retrieval] [--search]

For each N: bench/synth.py generates N reports into a temporary directory (config.toml there, as
bench/scale.py does); then

- cold: ``build_index(settings, embed=False, retrieval=False)`` into an empty index;
- incremental: one report gets a line appended, and the same build runs again;
- unchanged: the same build once more with nothing changed.

Each run prints wall seconds, reports/s and its phases (BuildResult.timings: scan, hash, previous,
parse, store write, reuse copy, indexes, fsync + store hash, manifest + swap). On a build_index
without the ``retrieval`` parameter (the code before it existed) the retrieval build is patched out
and the phases are measured by wrapping the build module's functions instead.
``--profile N`` prints the N most expensive functions (cProfile, cumulative) of each run.

``--retrieval``: after the cold facts-only build, the BM25 retrieval index on that store, as
bench/scale.py times it ("+ retrieval index, BM25": ``build_index(embed=False)``, every report loaded,
chunked and tokenised): wall and CPU seconds, reports/s and the retrieval build's own phases
(BuildStats.timings: load, chunk = chunk + tokenise, rows, bm25). ``--search`` then adds the dense
part with pseudo passage vectors and times ``RetrievalIndex.search`` (bench/scale.py's ``_search``
child: 10 questions × 5, unfiltered and with a department filter), questions through the real query
encoder and through pseudo vectors (the lexical side alone, nearly). Every figure is printed with the
load average; run it with the same nice level before and after a change (``PYTHONPATH=<checkout>``
selects the code measured).
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import io
import pstats
import resource
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.store.build import BuildResult


def _make_env(base: Path):  # noqa: ANN202
    from assistant.config import load_settings

    (base / "config.toml").write_text('[paths]\ncorpus = ["corpus"]\nindex = "index"\n', encoding="utf-8")
    return load_settings(base / "config.toml")


def _wrapped_build(settings) -> tuple[BuildResult, dict[str, float]]:  # noqa: ANN001
    """The build of code without BuildResult.timings: phases by wrapping module functions."""
    from assistant.store import build as b

    times: dict[str, float] = defaultdict(float)
    saved = {}

    def timed(name: str, phase) -> None:  # noqa: ANN001
        fn = getattr(b, name)
        saved[name] = fn

        def wrapper(*a, **k):  # noqa: ANN002, ANN003, ANN202
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                times[phase(a) if callable(phase) else phase] += time.perf_counter() - t

        setattr(b, name, wrapper)

    index_dir = settings.index_dir
    timed("corpus_files", "scan")
    timed("sha256_file", lambda a: "fsync + store hash" if index_dir in Path(a[0]).parents else "hash")
    timed("_previous", "previous")
    timed("_previous_facts", "reuse copy")
    timed("write_report", "store write")
    timed("create_store", "store write")
    # The build module of an older checkout (this path serves checkouts before BuildResult.timings),
    # its private functions swapped for timed ones: typed Any, its names are not today's.
    patched: Any = b
    parse_all = patched._parse_all
    saved["_parse_all"] = parse_all

    def parse_wrapper(pending):  # noqa: ANN001, ANN202
        it = parse_all(pending)
        while True:
            t = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                times["parse"] += time.perf_counter() - t
                return
            times["parse"] += time.perf_counter() - t
            yield item

    patched._parse_all = parse_wrapper
    saved["_build_retrieval"] = patched._build_retrieval
    patched._build_retrieval = lambda *a, **k: False  # facts only
    try:
        t = time.perf_counter()
        res = b.build_index(settings, embed=False, log=lambda *a: None)
        total = time.perf_counter() - t
    finally:
        for name, fn in saved.items():
            setattr(b, name, fn)
    times["other (manifest, swap, logging …)"] = total - sum(times.values())
    return res, dict(times)


def _cpu() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its reaped children (the parse workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def run(settings, profile: int) -> tuple[float, object, dict[str, float]]:  # noqa: ANN001
    from assistant.store.build import build_index

    cpu0 = _cpu()
    prof = cProfile.Profile() if profile else None
    if prof:
        prof.enable()
    t = time.perf_counter()
    if "retrieval" in inspect.signature(build_index).parameters:
        res = build_index(settings, embed=False, retrieval=False, log=lambda *a: None)
        timings = dict(res.timings)
    else:
        res, timings = _wrapped_build(settings)
    secs = time.perf_counter() - t
    cpu1 = _cpu()
    timings["(CPU: this process)"] = cpu1[0] - cpu0[0]
    timings["(CPU: parse workers)"] = cpu1[1] - cpu0[1]
    if prof:
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(profile)
        print(out.getvalue())
    return secs, res, timings


def retrieval_run(settings, profile: int) -> None:  # noqa: ANN001
    """The BM25 retrieval index on the facts-only store (see the module doc), printed."""
    import os

    from assistant.retrieve.index import RetrievalIndex
    from assistant.store.build import build_index

    stats: list = []
    build = RetrievalIndex.build

    def kept(*a, **k):  # noqa: ANN002, ANN003, ANN202
        stats.append(build(*a, **k))
        return stats[-1]

    load = os.getloadavg()
    prof = cProfile.Profile() if profile else None
    RetrievalIndex.build = staticmethod(kept)  # type: ignore[method-assign]
    try:
        cpu, t = time.process_time(), time.perf_counter()
        if prof:
            prof.enable()
        build_index(settings, embed=False, log=lambda *a: None)
        if prof:
            prof.disable()
        secs, cpu = time.perf_counter() - t, time.process_time() - cpu
    finally:
        RetrievalIndex.build = staticmethod(build)  # type: ignore[method-assign]
    n = stats[-1].docs if stats else 0
    print(
        f"retrieval index (BM25): {secs:.2f} s wall, {cpu:.2f} s CPU, {n / secs:.1f} reports/s "
        f"({n / cpu:.1f} per CPU second), {stats[-1].chunks if stats else 0} chunks; "
        f"load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    for phase, v in (stats[-1].timings if stats else {}).items():
        print(f"    {phase:<36} {v:8.3f} s")
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(profile)
        print(out.getvalue())


def search_run(base: Path, n: int, seed: int) -> None:
    """RetrievalIndex.search latency on the index of ``base`` (see the module doc), printed."""
    import os

    from bench.scale import dense_pseudo_build, search_latency
    from bench.synth import generate

    settings = _make_env(base)
    dense = dense_pseudo_build(settings)
    print(f"dense part (pseudo vectors): {dense['seconds']:.1f} s, {dense['embedded']} texts")
    with tempfile.TemporaryDirectory(prefix="build-phases-reports-") as tmp:
        reports = generate(Path(tmp), n, seed=seed)  # the same reports (same seed): their departments
    for encoder in ("real", "pseudo"):
        load = os.getloadavg()
        r = search_latency(base, reports, encoder=encoder)
        for case, v in r["cases"].items():
            print(
                f"search, {encoder} query vectors, {case}: p50 {v['p50']:.1f} ms, p95 {v['p95']:.1f} ms "
                f"(n={v['n']}; load average {load[0]:.2f})"
            )
        print("    profile: " + ", ".join(f"{name} {share:.0%}" for name, share in r["profile"]))


def show(label: str, n: int, secs: float, res, timings: dict[str, float]) -> None:  # noqa: ANN001
    print(
        f"{label}: {secs:.2f} s, {n / secs:.1f} reports/s "
        f"({len(res.indexed)} parsed, {len(res.reused)} reused, {len(res.skipped)} skipped, {res.n_facts} facts)"
    )
    for phase, s in timings.items():
        print(f"    {phase:<36} {s:8.3f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="150,500")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", type=int, default=0, metavar="N")
    ap.add_argument("--retrieval", action="store_true", help="also the BM25 retrieval build (module doc)")
    ap.add_argument("--search", action="store_true", help="also search latency (implies --retrieval)")
    args = ap.parse_args(argv)
    from bench.synth import generate

    for n in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix=f"build-phases-{n}-") as tmp:
            base = Path(tmp)
            generate(base / "corpus", n, seed=args.seed)
            settings = _make_env(base)
            print(f"== N={n}")
            show("cold", n, *run(settings, args.profile))
            if args.retrieval or args.search:
                # instead of the facts-only incremental runs (which would drop the retrieval index)
                retrieval_run(settings, args.profile)
                if args.search:
                    search_run(base, n, args.seed)
                continue
            victim = sorted((base / "corpus").iterdir())[n // 2]
            with victim.open("a", encoding="utf-8") as fh:
                fh.write("\n附注：本行为基准测试追加。\n")
            show("incremental (1 changed)", n, *run(settings, args.profile))
            show("unchanged", n, *run(settings, args.profile))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
