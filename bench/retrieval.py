"""Retrieval benchmark: recall@1/@5 of BM25, dense and hybrid on the evidence of a QA file.

    python -m bench.retrieval [--qa tests/qa/dev.jsonl] [--corpus corpus] [--calibrate]

Every item of the QA file with a ``doc`` and an ``evidence`` passage is a query (a follow-up is
asked together with the last question of its context, as a conversation would resolve it). A hit
is a retrieved chunk of the right document that contains the evidence (whitespace ignored) or
overlaps the lines where the evidence is. Recall is reported without filters and with the
department filter the question parser would set. Also measured: model load time, index build time
for the corpus (into a temporary directory), warm retrieval latency p50/p95.

``--calibrate`` prints the scores behind the relevance gate of assistant/retrieve/fusion.py.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

from assistant.config import load_settings
from assistant.ingest.loaders import load_document
from assistant.ingest.metadata import detect_metadata
from assistant.models import Document, Report
from assistant.retrieve.dense import ModelEncoder
from assistant.retrieve.fusion import MIN_COVERAGE, MIN_DENSE
from assistant.retrieve.index import RetrievalIndex
from assistant.retrieve.tokenize import tokenize

JUNK_QUERIES = (
    "量子引力的弦论解释",
    "今天天气怎么样",
    "红烧肉的做法",
    "世界杯冠军是谁",
    "python列表推导式怎么写",
    "火星上有没有水",
    "推荐几部好看的电影",
    "如何训练一只小狗",
    "股票明天会涨吗",
    "李白最有名的诗是哪首",
)
_WS = re.compile(r"\s+")
_QUOTES = str.maketrans("", "", "“”‘’\"'")


def squash(text: str) -> str:
    """Whitespace removed and widths folded: how evidence is compared with chunk text."""
    return _WS.sub("", unicodedata.normalize("NFKC", text)).translate(_QUOTES)


def evidence_lines(doc: Document, evidence: str) -> tuple[int, int] | None:
    """First and last line of ``doc`` covering ``evidence`` (whitespace-insensitive), or None."""
    target = squash(evidence)
    for attr in ("raw", "text"):
        joined: list[str] = []
        owner: list[int] = []
        for sl in doc.lines:
            s = squash(getattr(sl, attr))
            joined.append(s)
            owner.extend([sl.line] * len(s))
        text = "".join(joined)
        pos = text.find(target)
        if pos >= 0 and target:
            return owner[pos], owner[pos + len(target) - 1]
    return None


def load_items(path: Path) -> list[dict]:
    """QA items with a document and an evidence passage."""
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if item.get("doc") and item.get("evidence"):
                items.append(item)
    return items


def query_text(item: dict) -> str:
    """The question, with the last earlier question prepended for a follow-up."""
    ctx = item.get("context") or []
    return f"{ctx[-1]} {item['question']}" if ctx else item["question"]


def is_hit(chunk, item: dict, span: tuple[int, int] | None) -> bool:  # noqa: ANN001
    if chunk.doc != item["doc"]:
        return False
    if squash(item["evidence"]) in squash(chunk.text):
        return True
    return span is not None and chunk.line_start <= span[1] and span[0] <= chunk.line_end


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qa", default="tests/qa/dev.jsonl")
    ap.add_argument("--corpus", default="corpus")
    ap.add_argument("--config", default=None)
    ap.add_argument("--calibrate", action="store_true", help="print the scores behind the relevance gate")
    ap.add_argument(
        "--index", default=None, help="index directory to build/reuse (default: a fresh temporary one)"
    )
    ap.add_argument("--repeat", type=int, default=5, help="timed passes over the questions")
    ap.add_argument(
        "--encoders",
        action="store_true",
        help="compare torch fp32 / ONNX fp32 / ONNX int8: passages/s and recall@5 (each embeds the corpus)",
    )
    ap.add_argument(
        "--table-text",
        action="store_true",
        help="table chunks' vectors from their full text / their labels / none: recall@5, texts to embed",
    )
    ap.add_argument("--sample", type=int, default=60, help="synthetic reports counted by --table-text")
    args = ap.parse_args(argv)
    settings = load_settings(args.config)
    if args.table_text:
        return compare_table_text(
            settings, Path(args.corpus), [Path(q) for q in args.qa.split(",")], args.sample
        )
    if args.encoders:
        return compare_encoders(settings, Path(args.corpus), [Path(q) for q in args.qa.split(",")])

    t0 = time.perf_counter()
    docs: list[tuple[Document, Report]] = []
    for p in sorted(Path(args.corpus).iterdir()):
        if p.is_file() and p.suffix.lower() in (".txt", ".md", ".pdf", ".docx"):
            d = load_document(p)
            docs.append((d, detect_metadata(d)))
    load_s = time.perf_counter() - t0
    by_name = {d.doc: (d, r) for d, r in docs}

    encoder = ModelEncoder(settings)
    encoder.model()
    model_s = encoder.load_seconds or 0.0

    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp_dir:
        tmp = args.index or tmp_dir
        stats = RetrievalIndex.build(Path(tmp), docs, settings, embed=True, encoder=encoder)
        t1 = time.perf_counter()
        stats_again = RetrievalIndex.build(Path(tmp), docs, settings, embed=True, encoder=encoder)
        noop_s = time.perf_counter() - t1
        index = RetrievalIndex.open(Path(tmp), settings, encoder=encoder)
        index.warmup()

        items = [i for i in load_items(Path(args.qa)) if i["doc"] in by_name]
        spans = {i["id"]: evidence_lines(by_name[i["doc"]][0], i["evidence"]) for i in items}
        missing = [i["id"] for i in items if spans[i["id"]] is None]

        print(f"corpus: {len(docs)} files, {stats.chunks} chunks; load+parse {load_s:.1f}s")
        print(f"model load: {model_s:.2f}s")
        print(
            f"index build (chunk + BM25 + embed {stats.chunks_embedded} texts): {stats.seconds:.1f}s; "
            f"no-op rebuild {noop_s:.2f}s (up_to_date={stats_again.up_to_date})"
        )
        from assistant.retrieve import index as ix

        r = settings.retrieval
        print(
            f"fusion weights: bm25 {r.bm25_weight}, dense {r.dense_weight}×{ix.DENSE_FACTOR}, "
            f"best line {ix.LINE_WEIGHT}, coverage {ix.COVERAGE_WEIGHT}; rrf_k {r.rrf_k}"
        )
        print(
            f"questions with evidence: {len(items)}"
            + (f" (evidence not located: {missing})" if missing else "")
        )
        print()
        print(f"{'mode':8} {'filter':6} {'R@1':>6} {'R@5':>6}")
        misses: dict[str, list[str]] = {}
        by_kind: dict[str, list[bool]] = {}
        for filtered in (False, True):
            for mode in ("bm25", "lexical", "dense", "hybrid"):
                r1 = r5 = 0
                for item in items:
                    dept = by_name[item["doc"]][1].department
                    assert (
                        not filtered or dept is not None
                    )  # the filtered run needs the gold document's department
                    deps = [dept] if filtered and dept is not None else None
                    hits = index.search(query_text(item), departments=deps, top_k=5, mode=mode)
                    ok = [is_hit(h.chunk, item, spans[item["id"]]) for h in hits]
                    r1 += bool(ok[:1] and ok[0])
                    r5 += any(ok)
                    if filtered and mode == "hybrid":
                        by_kind.setdefault(item["kind"], []).append(any(ok))
                    if not any(ok):
                        misses.setdefault(f"{mode}{'+filter' if filtered else ''}", []).append(item["id"])
                n = len(items)
                print(f"{mode:8} {'dept' if filtered else 'none':6} {r1 / n:6.3f} {r5 / n:6.3f}")
        print(
            "hybrid+dept R@5 by kind: "
            + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(by_kind.items()))
        )
        for key, ids in misses.items():
            if key.startswith("hybrid"):
                print(f"  misses {key}: {', '.join(ids)}")

        lat: list[float] = []
        for _ in range(args.repeat):
            for item in items:
                index._query_vectors.clear()  # measure the model, not the query-vector cache
                t = time.perf_counter()
                index.search(query_text(item))
                lat.append((time.perf_counter() - t) * 1000)
        print()
        print(
            f"warm hybrid latency over {len(lat)} searches: p50 {percentile(lat, 50):.1f} ms, "
            f"p95 {percentile(lat, 95):.1f} ms"
        )

        junk_hits = sum(bool(index.search(q)) for q in JUNK_QUERIES)
        print(f"junk queries returning hits: {junk_hits}/{len(JUNK_QUERIES)}")

        if args.calibrate:
            calibrate(index, items, spans, by_name)
    return 0


def load_corpus(corpus: Path) -> list[tuple[Document, Report]]:
    """The corpus's documents with their metadata, in file-name order."""
    return [
        (d, detect_metadata(d))
        for d in (
            load_document(p)
            for p in sorted(corpus.iterdir())
            if p.is_file() and p.suffix.lower() in (".txt", ".md", ".pdf", ".docx")
        )
    ]


def recall_at(
    index: RetrievalIndex,
    items: list[dict],
    spans: dict,
    by_name: dict,
    mode: str,
    filtered: bool,
    k: int = 5,
) -> float:
    """Share of ``items`` whose evidence is in the top ``k`` of ``mode`` (department filter if ``filtered``)."""
    found = 0
    for item in items:
        deps = [by_name[item["doc"]][1].department] if filtered else None
        hits = index.search(query_text(item), departments=deps, top_k=k, mode=mode)
        found += any(is_hit(h.chunk, item, spans[item["id"]]) for h in hits)
    return found / len(items)


# (runtime, passage precision, question precision, batch size): torch fp32 at 32 was the setting
# before issue 14; the last row is the default configuration
ENCODERS = (
    ("torch", "fp32", "fp32", 32),
    ("torch", "fp32", "fp32", 8),
    ("onnx", "fp32", "fp32", 8),
    ("onnx", "int8", "int8", 8),
    ("onnx", "int8", "fp32", 8),
)


def compare_encoders(settings, corpus: Path, qas: list[Path]) -> int:  # noqa: ANN001
    """Embed the corpus's chunks with each encoder (fresh index, no cache) and print passages/s, the
    query encoding time and recall@5 per QA file (dense alone and hybrid, with and without the
    department filter)."""
    import numpy as np

    docs = load_corpus(corpus)
    by_name = {d.doc: (d, r) for d, r in docs}
    sets = []
    for qa in qas:
        items = [i for i in load_items(qa) if i["doc"] in by_name]
        spans = {i["id"]: evidence_lines(by_name[i["doc"]][0], i["evidence"]) for i in items}
        sets.append((qa, items, spans))
        print(f"{qa}: {len(items)} questions with evidence")
    print(f"corpus: {len(docs)} files")
    print(
        "| encoder (passages / questions, batch) | model load (s) | passages | embed (s) | passages/s | "
        "query (ms, p50) | QA file | "
        "R@5 dense | R@5 dense+dept | R@5 hybrid | R@5 hybrid+dept |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for runtime, precision, query_precision, batch in ENCODERS:
        emb = settings.embedding.model_copy(
            update={
                "runtime": runtime,
                "precision": precision,
                "query_precision": query_precision,
                "batch_size": batch,
            }
        )
        s = settings.model_copy(update={"embedding": emb})
        enc = ModelEncoder(s)
        enc.model("passage")
        enc.model("query")
        # the passage tokenizer loads on first use (more than a few texts): passages/s is throughput, not load
        enc.encode_passages([f"预热{i}" for i in range(8)])
        with tempfile.TemporaryDirectory(prefix="bench-encoders-") as tmp:
            stats = RetrievalIndex.build(Path(tmp), docs, s, embed=True, encoder=enc)
            index = RetrievalIndex.open(Path(tmp), s, encoder=enc)
            lat = []
            for item in sets[0][1]:
                t = time.perf_counter()
                enc.encode_queries([query_text(item)])
                lat.append((time.perf_counter() - t) * 1000)
            dense_s = stats.timings.get("dense", 0.0)
            n = stats.chunks_embedded
            for qa, items, spans in sets:
                rec = [
                    recall_at(index, items, spans, by_name, mode, f)
                    for mode in ("dense", "hybrid")
                    for f in (False, True)
                ]
                print(
                    f"| {runtime} {precision} / {query_precision}, {batch} | {enc.load_seconds or 0:.2f} | {n} | {dense_s:.1f} | "
                    f"{n / dense_s:.2f} | {float(np.median(lat)):.1f} | {qa.name} | "
                    + " | ".join(f"{r:.3f}" for r in rec)
                    + " |",
                    flush=True,
                )
    return 0


def distinct_dense_texts(corpus: Path, table_text: str) -> tuple[int, int]:
    """(chunks, distinct texts to embed) of the .txt reports in ``corpus`` under a table text rule."""
    from assistant.config import Settings
    from assistant.retrieve.chunk_text import dense_text
    from assistant.retrieve.chunking import chunk_document_with_context

    s = Settings()
    total, seen = 0, set[str]()
    for p in sorted(corpus.glob("*.txt")):
        d = load_document(p)
        pairs = chunk_document_with_context(d, detect_metadata(d), s.chunking.size, s.chunking.overlap)
        total += len(pairs)
        seen.update(dense_text(c, x, table_text) for c, x, _ in pairs)
    return total, len(seen)


def compare_table_text(settings, corpus: Path, qas: list[Path], sample: int = 60) -> int:  # noqa: ANN001
    """What a table chunk's vector is computed from: its full text, its labels (no number cells:
    `[embedding] table_text`), or no vector at all. Prints recall@5 on the corpus
    (one index per rule, the configured encoder) and the distinct texts to embed per report, on the
    corpus and on ``sample`` synthetic reports (bench/synth.py)."""
    import numpy as np

    from assistant.retrieve.dense import DenseIndex
    from assistant.retrieve.index_files import CONTEXTS
    from bench.synth import generate

    docs = load_corpus(corpus)
    by_name = {d.doc: (d, r) for d, r in docs}
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        generate(Path(tmp), sample)
        counts = {rule: distinct_dense_texts(Path(tmp), rule) for rule in ("full", "labels", "title")}
    print("| table text | synthetic reports | chunks | distinct texts | texts per report |")
    print("|---|---|---|---|---|")
    for rule, (chunks, distinct) in counts.items():
        print(f"| {rule} | {sample} | {chunks} | {distinct} | {distinct / sample:.1f} |")
    print()
    print(
        "| table text | embedded (corpus) | QA file | R@5 dense | R@5 dense+dept | R@5 hybrid | R@5 hybrid+dept |"
    )
    print("|---|---|---|---|---|---|---|")
    for rule in ("full", "labels", "title", "none"):
        emb = settings.embedding.model_copy(update={"table_text": "full" if rule == "none" else rule})
        s = settings.model_copy(update={"embedding": emb})
        enc = ModelEncoder(s)
        with tempfile.TemporaryDirectory(prefix="bench-tables-") as tmp:
            stats = RetrievalIndex.build(Path(tmp), docs, s, embed=True, encoder=enc)
            index = RetrievalIndex.open(Path(tmp), s, encoder=enc)
            embedded = stats.chunks_embedded
            if rule == "none":  # table chunks keep no vector (zero: never a dense candidate)
                rows = (Path(tmp) / "retrieval" / CONTEXTS).read_text(encoding="utf-8").splitlines()
                table = np.asarray([bool(json.loads(r)) for r in rows])
                assert index.dense is not None
                vectors = index.dense.index.reconstruct_n(0, index.dense.size)
                vectors[table] = 0.0
                index.dense = DenseIndex.build(vectors, 10**9)
                embedded = int((~table).sum())
            for qa in qas:
                items = [i for i in load_items(qa) if i["doc"] in by_name]
                spans = {i["id"]: evidence_lines(by_name[i["doc"]][0], i["evidence"]) for i in items}
                rec = [
                    recall_at(index, items, spans, by_name, mode, f)
                    for mode in ("dense", "hybrid")
                    for f in (False, True)
                ]
                print(
                    f"| {rule} | {embedded} | {qa.name} | " + " | ".join(f"{r:.3f}" for r in rec) + " |",
                    flush=True,
                )
    return 0


def calibrate(index: RetrievalIndex, items: list[dict], spans: dict, by_name: dict) -> None:  # noqa: ANN001
    """Coverage / cosine of evidence chunks vs the best chunk of junk queries."""
    import numpy as np

    assert index.lexical is not None and index.dense is not None and index._encoder is not None
    print(f"\ncalibration (gate: coverage >= {MIN_COVERAGE} or dense >= {MIN_DENSE})")
    ev_cov: list[float] = []
    ev_dense: list[float] = []
    for item in items:
        # as search() sees it: department filter set, the department's names stripped from the query
        q = index._strip_filtered(query_text(item), [by_name[item["doc"]][1].department], None)
        _, cov = index.lexical.score(tokenize(q))
        qv = index._encoder.encode_queries([q])[0]
        idx = [i for i, c in enumerate(index.chunks) if is_hit(c, item, spans[item["id"]])]
        if not idx:
            continue
        dense = index.dense.scores_for(qv, np.array(idx))
        best = max(range(len(idx)), key=lambda j: (cov[idx[j]], dense[j]))
        ev_cov.append(float(cov[idx[best]]))
        ev_dense.append(float(dense.max()))
        print(f"  {item['id']:6} cov {cov[idx[best]]:.2f} dense {dense.max():.3f}  {item['question']}")
    print(
        f"evidence: coverage min {min(ev_cov):.2f} median {statistics.median(ev_cov):.2f}; "
        f"dense min {min(ev_dense):.3f} median {statistics.median(ev_dense):.3f}"
    )
    all_ids = np.arange(len(index.chunks))
    for q in JUNK_QUERIES:
        _, cov = index.lexical.score(tokenize(q))
        qv = index._encoder.encode_queries([q])[0]
        dense = index.dense.scores_for(qv, all_ids)
        print(f"  junk   cov {cov.max():.2f} dense {dense.max():.3f}  {q}")


if __name__ == "__main__":
    sys.exit(main())
