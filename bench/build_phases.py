"""Facts-only build phases: cold build and incremental rebuild on synthetic corpora.

    python -m bench.build_phases [--sizes 150,500] [--seed 7] [--profile N]

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
    args = ap.parse_args(argv)
    from bench.synth import generate

    for n in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix=f"build-phases-{n}-") as tmp:
            base = Path(tmp)
            generate(base / "corpus", n, seed=args.seed)
            settings = _make_env(base)
            print(f"== N={n}")
            show("cold", n, *run(settings, args.profile))
            victim = sorted((base / "corpus").iterdir())[n // 2]
            with victim.open("a", encoding="utf-8") as fh:
                fh.write("\n附注：本行为基准测试追加。\n")
            show("incremental (1 changed)", n, *run(settings, args.profile))
            show("unchanged", n, *run(settings, args.profile))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
