"""Rankings check: what RetrievalIndex.search returns for the QA questions, to compare two checkouts.

    PYTHONPATH=<checkout> python -m bench.rankings dump OUT.json [--qa tests/qa/dev.jsonl,tests/qa/dev2.jsonl]
    python -m bench.rankings compare A.json B.json

``dump`` builds the BM25 retrieval index of corpus/ (no embeddings) with the checkout's code into a
temporary directory and searches every question of the QA files in the lexical modes ("bm25": chunk
BM25 alone; "lexical": BM25 + best line + coverage + definitions), without a filter and filtered to
the department of the question's report: per search the top 10 (report, chunk, fused score, BM25
score, coverage, highlights). ``compare`` prints the searches whose results differ and exits 1 if
any does. The dense side is not exercised (it needs the model; a change to the lexical side leaves
it as it is). Before commit 31ae0b1 highlights followed the string hash seed: compare such a
checkout with PYTHONHASHSEED set to the same value for both dumps.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def dump(out: Path, qa_files: list[Path]) -> int:
    from assistant.config import Settings
    from assistant.ingest.loaders import load_document
    from assistant.ingest.metadata import detect_metadata
    from assistant.retrieve.index import RetrievalIndex

    docs = []
    for p in sorted((ROOT / "corpus").iterdir()):
        if p.is_file():
            d = load_document(p)
            docs.append((d, detect_metadata(d)))
    departments = {d.doc: r.department for d, r in docs}
    items = [json.loads(x) for f in qa_files for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
    results: dict[str, list] = {}
    with tempfile.TemporaryDirectory(prefix="bench-rankings-") as tmp:
        settings = Settings(base_dir=tmp)
        RetrievalIndex.build(Path(tmp), docs, settings, embed=False)
        idx = RetrievalIndex.open(Path(tmp), settings)
        for item in items:
            dept = departments.get(item.get("doc") or "")
            for filt in (None, [dept] if dept else None):
                for mode in ("bm25", "lexical"):
                    hits = idx.search(item["question"], departments=filt, top_k=10, mode=mode)
                    results[f"{item['id']}|{filt}|{mode}"] = [
                        [h.chunk.doc, h.chunk.chunk_id, h.score, h.bm25_score, h.coverage, h.highlights]
                        for h in hits
                    ]
    out.write_text(json.dumps(results, ensure_ascii=False, indent=0, sort_keys=True), encoding="utf-8")
    print(f"{len(results)} searches, {sum(len(v) for v in results.values())} hits → {out}")
    return 0


def compare(a: Path, b: Path) -> int:
    left, right = (json.loads(p.read_text(encoding="utf-8")) for p in (a, b))
    differ = sorted(k for k in left.keys() | right.keys() if left.get(k) != right.get(k))
    for key in differ:
        print(f"{key}:\n  {left.get(key)}\n  {right.get(key)}")
    print(f"{len(differ)} of {len(left.keys() | right.keys())} searches differ")
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out", type=Path)
    d.add_argument("--qa", default="tests/qa/dev.jsonl,tests/qa/dev2.jsonl")
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "dump":
        return dump(args.out, [ROOT / f for f in args.qa.split(",")])
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())
