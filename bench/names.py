"""Department-name matching at scale: match_departments latency on a store naming N departments.

    python -m bench.names [--sizes 7,500,5000]

The store holds only names (aliases and the vocabulary's short-form keys, written by the build's own
write_vocabulary): N departments of a few kinds under invented places, so that many share a short
form (医保局, 财政局) as real corpora do. Prints p50/p95 per N; a flat line means the lookups do not
grow with the number of departments. Not a timed test.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from assistant.answer.names import match_departments
from assistant.naming import department_aliases
from assistant.store.sql import create_store
from assistant.store.vocabulary import StoreVocabulary, fold, write_vocabulary

KINDS = ("医疗保障局", "财政局", "商务委员会", "人民政府办公室", "规划和自然资源局", "文化和旅游局")
FIRST = "青白松云金石柳桃江河山水东西南北长安永乐"
SECOND = "川阳林溪平安宁丰源泉湖城口台坪州沙海岭门"
LEVELS = ("县", "区", "市")
QUESTIONS = (
    "青川县医保局2021年基本支出是多少？",
    "白阳区商务委2025年因公出国预算多少",
    "医保局2021年三公经费",
    "松林市规划资源局的项目支出",
    "峨山县卫健局21年的三公经费支出多少？",
    "那云溪区文旅局呢？",
    "这五个医保局里哪个2020年或2021年的公务接待费决算最高？",
)


def departments(n: int) -> list[str]:
    """``n`` distinct department names (place: two characters and a level, + a kind), the same
    ones for the same ``n`` (a seeded shuffle of every combination)."""
    places = [a + b + level for a in FIRST for b in SECOND for level in LEVELS]
    names = [place + kind for place in places for kind in KINDS]
    random.Random(7).shuffle(names)
    keep = names[:n]
    # the questions' own departments are always there
    return sorted(
        {*keep, "青川县医疗保障局", "白阳区商务委员会", "松林市规划和自然资源局", "云溪区文化和旅游局"}
    )


def measure(n: int, rounds: int = 20) -> tuple[float, float]:
    """(p50, p95) in ms of match_departments over QUESTIONS on a store of ``n`` departments."""
    with tempfile.TemporaryDirectory() as tmp:
        con = create_store(Path(tmp) / "facts.sqlite")
        rows = sorted({(a, d) for d in departments(n) for a in [d, *department_aliases(d)]})
        con.executemany("INSERT INTO aliases VALUES (?, ?)", rows)
        write_vocabulary(con)
        con.commit()
        vocab = StoreVocabulary(con)
        folded = [fold(q) for q in QUESTIONS]
        for q in folded:  # warm
            match_departments(q, vocab)
        times = []
        for _ in range(rounds):
            for q in folded:
                t = time.perf_counter()
                match_departments(q, vocab)
                times.append((time.perf_counter() - t) * 1000)
        con.close()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="7,500,5000")
    args = ap.parse_args()
    print("| departments | p50 ms | p95 ms |")
    print("|---|---|---|")
    for n in (int(x) for x in args.sizes.split(",")):
        p50, p95 = measure(n)
        print(f"| {n} | {p50:.2f} | {p95:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
