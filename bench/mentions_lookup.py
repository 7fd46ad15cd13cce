"""Numeric-mention lookups (store.db.query_mentions) as the store grows.

    python -m bench.mentions_lookup [--reports 5000] [--per-report 80] [--lookups 300]

Writes a store with ``--reports`` reports of ``--per-report`` mentions each (the corpus averages ~60),
then times the answer side's call: the mentions of one report in the units a question expects.
Prints p50/p95 in milliseconds and the store size.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

UNITS = ("万元", "元", "人", "人次", "个", "%", "辆", "次")


def main(argv: list[str] | None = None) -> int:
    from assistant.models import Mention, Report
    from assistant.store.db import query_mentions
    from assistant.store.sql import create_indexes, create_store, write_report

    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=5000)
    ap.add_argument("--per-report", type=int, default=80)
    ap.add_argument("--lookups", type=int, default=300)
    args = ap.parse_args(argv)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "facts.sqlite"
        con = create_store(path, indexes=False)
        docs = [f"{i:05d}.txt" for i in range(args.reports)]
        t0 = time.perf_counter()
        for doc in docs:
            report = Report(
                doc=doc, path=doc, sha256="0" * 64, department=f"部门{doc}", year=2024, kind="决算"
            )
            mentions = [
                Mention(
                    doc=doc,
                    line=k + 1,
                    value=Decimal(rng.randint(0, 99999)) / 100,
                    unit=rng.choice(UNITS),
                    phrase=f"短语{k}",
                    snippet=f"句子{k}，数字",
                )
                for k in range(args.per_report)
            ]
            write_report(con, report, [], 0, [], [], mentions)
        con.commit()
        create_indexes(con)
        build = time.perf_counter() - t0
        times = []
        for _ in range(args.lookups):
            doc = rng.choice(docs)
            t = time.perf_counter()
            query_mentions(con, [doc], units=["人", "人次"])
            times.append((time.perf_counter() - t) * 1000)
        con.close()
        times.sort()
        print(
            f"{args.reports} reports × {args.per_report} mentions: store written in {build:.1f} s, "
            f"{path.stat().st_size / 1e6:.1f} MB"
        )
        print(
            f"query_mentions(one report, units 人/人次): p50 {statistics.median(times):.3f} ms, "
            f"p95 {times[int(len(times) * 0.95)]:.3f} ms over {args.lookups} lookups"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
