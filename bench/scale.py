"""Scale benchmark: index build, memory, query latency and incremental re-index on synthetic corpora.

    python -m bench.scale [--sizes 5,500,5000] [--out bench/RESULTS.md]
    python -m bench.scale _engine INDEX_PARENT QUESTIONS.json   (internal: warm latency + RSS in a fresh process)
    python -m bench.scale _search INDEX_PARENT SEARCH.json      (internal: RetrievalIndex.search latency)

Corpora come from bench/synth.py and live in temporary directories (config.toml written there with
[paths] corpus/index; embedding settings default). Nothing here is a timed test: it prints figures
and writes bench/RESULTS.md.

What is measured how (also stated in RESULTS.md):
- build (N ≤ 1000): the facts-only build (build_index(retrieval=False) when it exists, else the
  retrieval step stubbed out), then build_index(embed=False) on that store: the BM25 retrieval index
  over every report. Then one report's content is changed and the incremental build timed (3 runs),
  the dense part is built with pseudo vectors and an incremental build with embeddings timed.
- N = 5000: the full build is far over the 10-minute budget on 2 cores, so its figure is
  extrapolated from the measured rate, and the 5,000-report *fact store* is composed: the five source
  reports are parsed once by the real pipeline and their facts transformed exactly as bench/synth.py
  transforms the text (names, years, amounts × factor), then written with write_report. A sample is
  checked against the real pipeline. The retrieval index at 5,000 is composed too (compose_retrieval:
  the sources' chunks and BM25 term counts per synthetic report, pseudo vectors), written with the
  index's own writers, so searching it runs the production code.
- embeddings: e5 is timed on a sample of chunk texts at N=5 and extrapolated; at N ≥ 100 the dense
  part holds pseudo-random vectors (pseudo_model): the same code paths, no dense quality.
- warm latency: one fresh process opens Engine(settings) and asks every question several times;
  peak RSS of that process is the engine/REPL memory figure. RetrievalIndex.search is also timed
  alone (`_search`), with a cProfile of where its time goes.
- cold latency: `python -m assistant.interfaces.cli ask "…"` in the corpus directory (new interpreter each time,
  this checkout first on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import inspect
import json
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from assistant.config import Settings

ROOT = Path(__file__).resolve().parent.parent


KEPT_MARK = "<!-- sections below are not written by bench.scale -->"


def _log(msg: str) -> None:
    print(msg, flush=True)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def maxrss_mb() -> float:
    """Peak RSS of this process image: VmHWM (ru_maxrss survives fork+exec on Linux, so a child
    started by a process that had loaded the embedding model would report the parent's peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_env(base: Path) -> Settings:
    from assistant.config import load_settings

    (base / "config.toml").write_text('[paths]\ncorpus = ["corpus"]\nindex = "index"\n', encoding="utf-8")
    return load_settings(base / "config.toml")


def retrieval_chunks(index_dir: Path) -> int:
    try:
        return int(json.loads((index_dir / "retrieval" / "manifest.json").read_text())["chunks"])
    except (OSError, ValueError, KeyError):
        return 0


# ----------------------------------------------------------------------------------------- build


def facts_only_supported() -> bool:
    """True when build_index takes ``retrieval`` (False = facts only, no retrieval index)."""
    from assistant.store.build import build_index

    return "retrieval" in inspect.signature(build_index).parameters


@contextlib.contextmanager
def timed_retrieval(spent: dict):  # noqa: ANN201
    """Record in ``spent['retrieval']`` the seconds build_index spends in build_retrieval."""
    from assistant.store import build as store_build

    orig = store_build.build_retrieval

    def wrapper(*a, **k):  # noqa: ANN002, ANN003, ANN202
        t = time.perf_counter()
        try:
            return orig(*a, **k)
        finally:
            spent["retrieval"] = time.perf_counter() - t

    store_build.build_retrieval = wrapper
    try:
        yield
    finally:
        store_build.build_retrieval = orig


def bench_build(base: Path, n: int, seed: int) -> dict:
    """Facts-only build of n generated reports, then the retrieval (BM25) index on top of it."""
    from assistant.store import build as store_build
    from bench.synth import generate

    reports = generate(base / "corpus", n, seed=seed)
    settings = make_env(base)
    facts_only = facts_only_supported()
    t = time.perf_counter()
    if facts_only:
        res = store_build.build_index(settings, embed=False, retrieval=False, log=lambda *a: None)  # type: ignore[call-arg]
    else:  # until build_index(retrieval=False) exists: the retrieval step stubbed out
        orig = store_build.build_retrieval
        store_build.build_retrieval = lambda *a, **k: False
        try:
            res = store_build.build_index(settings, embed=False, log=lambda *a: None)
        finally:
            store_build.build_retrieval = orig
    secs = time.perf_counter() - t
    spent: dict = {}
    logged: list[str] = []
    t = time.perf_counter()
    with timed_retrieval(spent):
        store_build.build_index(settings, embed=False, log=logged.append)
    bm25_total = time.perf_counter() - t
    chunks = retrieval_chunks(settings.index_dir)
    return {
        "n": n,
        "embed": False,
        "seconds": secs,
        "reports_per_s": n / secs,
        "chunks": chunks,
        "facts": res.n_facts,
        "skipped": len(res.skipped),
        "facts_only_api": facts_only,
        "bm25_s": spent.get("retrieval", bm25_total),
        "bm25_build_index_s": bm25_total,
        "index_bytes": dir_size(settings.index_dir),
        "settings": settings,
        "reports": reports,
    }


def dense_pseudo_build(settings) -> dict:  # noqa: ANN001
    """build_index(embed=True) with pseudo vectors for every chunk (exact FAISS, see NOTES)."""
    from assistant.store.build import build_index

    counter: dict = {}
    t = time.perf_counter()
    with pseudo_model(counter):
        build_index(settings, embed=True, log=lambda *a: None)
    return {"seconds": time.perf_counter() - t, "embedded": counter.get("passages", 0)}


def distinct_texts(corpus: Path, k: int) -> tuple[int, int]:
    """(chunks, distinct embedded texts) of the first k files of a synthetic corpus."""
    from assistant.config import Settings
    from assistant.ingest.loaders import load_document
    from assistant.ingest.metadata import detect_metadata
    from assistant.retrieve.chunk_text import embed_text
    from assistant.retrieve.chunking import chunk_document

    s = Settings()
    total, seen = 0, set[str]()
    for p in sorted(corpus.glob("*.txt"))[:k]:
        d = load_document(p)
        cs = chunk_document(d, detect_metadata(d), s.chunking.size, s.chunking.overlap)
        total += len(cs)
        seen.update(embed_text(c) for c in cs)
    return total, len(seen)


def embed_sample(corpus: Path, k: int = 32) -> dict:
    """Seconds to load the embedding model and per embedded passage (batch of k distinct chunk texts)."""
    from assistant.config import Settings
    from assistant.ingest.loaders import load_document
    from assistant.ingest.metadata import detect_metadata
    from assistant.retrieve.chunk_text import embed_text
    from assistant.retrieve.chunking import chunk_document
    from assistant.retrieve.dense import ModelEncoder

    s = Settings()
    texts: list[str] = []
    for p in sorted(corpus.glob("*.txt")):
        d = load_document(p)
        texts += [
            embed_text(c) for c in chunk_document(d, detect_metadata(d), s.chunking.size, s.chunking.overlap)
        ]
    texts = list(dict.fromkeys(texts))[:k]
    enc = ModelEncoder(s)
    t = time.perf_counter()
    enc.model()
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    enc.encode_passages(texts)
    per = (time.perf_counter() - t) / len(texts)
    return {"model_load_s": load_s, "s_per_text": per, "texts": len(texts)}


def incremental(settings, reports, embed: bool = False, repeats: int = 3) -> dict:  # noqa: ANN001
    """Change one report's content (a new paragraph), re-index; ``repeats`` times, other reports.

    embed=True runs with the pseudo model: the figure excludes the model's ~0.28 s per new text
    (counted in ``embedded``)."""
    from assistant.store.build import build_index

    before = retrieval_chunks(settings.index_dir)
    runs = []
    for k in range(repeats):
        victim = reports[(len(reports) // 2 + k) % len(reports)].path
        with victim.open("a", encoding="utf-8") as fh:
            # new text every run (also across calls), so its chunk is new to the embedding cache
            tag = f"{'甲乙'[embed]}{k}号{time.time_ns() % 100000}"
            fh.write(f"\n第九部分 补充说明\n本单位设立政策宣传长廊{tag}和信息公开栏，便于群众查询。\n")
        spent: dict = {}
        counter: dict = {}
        logged: list[str] = []
        ctx = pseudo_model(counter) if embed else contextlib.nullcontext()
        t = time.perf_counter()
        with ctx, timed_retrieval(spent):
            res = build_index(settings, embed=embed, log=logged.append)
        secs = time.perf_counter() - t
        stats = next((ln for ln in logged if ln.startswith("retrieval: ")), "")
        chunked = int(m.group(1)) if (m := re.search(r"docs_chunked=(\d+)", stats)) else None
        runs.append(
            {
                "seconds": secs,
                "retrieval_s": spent.get("retrieval", 0.0),
                "parsed": len(res.indexed),
                "reused": len(res.reused),
                "docs_chunked": chunked,
                "embedded": counter.get("passages", 0),
            }
        )
    best = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]  # the median run
    return {
        **best,
        "runs": [round(r["seconds"], 2) for r in runs],
        "embed": embed,
        "chunks_before": before,
        "chunks_after": retrieval_chunks(settings.index_dir),
    }


# ------------------------------------------------------------------------------ composed store


def compose_store(base: Path, n: int, seed: int, check: int = 10) -> tuple[object, list, dict]:
    """A fact store of n synthetic reports made from the sources' parsed facts (see module doc)."""
    from assistant.ingest.metadata import department_aliases
    from assistant.models import Report
    from assistant.store.corpus import parser_version
    from assistant.store.manifest import DB_NAME
    from assistant.store.sql import create_store, write_report
    from assistant.store.vocabulary import write_vocabulary
    from bench.synth import generate, load_source, text_transform

    settings = make_env(base)
    reports = generate(base / "corpus", n, seed=seed, write=False)
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    tmp = settings.index_dir / f".{DB_NAME}.tmp"
    tmp.unlink(missing_ok=True)
    con = create_store(tmp)
    con.execute("INSERT INTO meta VALUES ('parser_version', ?)", (parser_version(),))
    t = time.perf_counter()
    n_facts = 0
    composed: dict[str, list] = {}
    models: list = []
    for r in reports:
        src = load_source(r.source)
        tf = text_transform(src, r.place, r.org, r.year, r.factor)
        delta = r.year - src.year
        names_years = text_transform(src, r.place, r.org, r.year, 1)
        facts = []
        for f in src.facts:
            money = f.value_yuan is not None
            value = f.value * r.factor if money else f.value
            facts.append(
                f.model_copy(
                    update={
                        "doc": r.doc,
                        "department": r.department,
                        "year": None if f.year is None else f.year + delta,
                        "metric": names_years(f.metric),
                        "label": tf(f.label),
                        "snippet": tf(f.snippet),
                        "value": value,
                        "value_yuan": None if not money else f.value_yuan * r.factor,
                    }
                )
            )
        rep = Report(
            doc=r.doc,
            path=str(r.path),
            sha256=f"synthetic-{r.doc}",
            department=r.department,
            aliases=department_aliases(r.department),
            year=r.year,
            kind=r.kind,
            title=f"{r.department}{r.year}年度部门{r.kind}",
        )
        models.append(rep)
        write_report(con, rep, facts, 0, [], [])
        n_facts += len(facts)
        if len(composed) < check:
            composed[r.doc] = facts
    write_vocabulary(con)  # as the build does: questions look names up instead of loading them
    con.commit()
    con.close()
    os.replace(tmp, settings.index_dir / DB_NAME)
    secs = time.perf_counter() - t
    # check a sample against the real pipeline
    from assistant.ingest.loaders import load_document
    from assistant.parse.facts import parse_document
    from bench.synth import transform

    same = total = 0
    chk = base / "check"
    chk.mkdir(exist_ok=True)
    for r in reports[:check]:
        src = load_source(r.source)
        p = chk / r.doc
        p.write_text(transform(src, r.place, r.org, r.year, r.factor), encoding="utf-8")
        real = {
            (f.metric, f.qualifier, f.value, f.unit, f.line) for f in parse_document(load_document(p)).facts
        }
        mine = {(f.metric, f.qualifier, f.value, f.unit, f.line) for f in composed[r.doc]}
        same += len(real & mine)
        total += len(real | mine)
    return (
        settings,
        reports,
        {
            "seconds": secs,
            "facts": n_facts,
            "index_bytes": dir_size(settings.index_dir),
            "check_agreement": same / total if total else 1.0,
            "check_n": check,
            "models": models,
        },
    )


# ------------------------------------------------------------------------- pseudo embeddings

PSEUDO_DIM = 384  # multilingual-e5-small's dimension


def pseudo_vectors(seeds: list[int], dim: int = PSEUDO_DIM) -> np.ndarray:
    """Deterministic pseudo-random unit vectors, one per seed (dense *quality* is meaningless)."""
    out = np.empty((len(seeds), dim), dtype=np.float32)
    for i, s in enumerate(seeds):
        out[i] = np.random.default_rng(s).standard_normal(dim)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def _text_seed(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:16], 16)


@contextlib.contextmanager
def pseudo_model(counter: dict | None = None):  # noqa: ANN201
    """Within the block, the configured model (ModelEncoder) returns pseudo-random unit vectors
    seeded by the text's hash instead of loading e5: the same RetrievalIndex / DenseIndex code paths,
    at the speed of a hash. ``counter['passages']`` counts the texts it was asked to embed."""
    from assistant.retrieve.dense import ModelEncoder

    saved = ModelEncoder.encode_passages, ModelEncoder.encode_queries, ModelEncoder.model

    def passages(self, texts: list[str]) -> np.ndarray:  # noqa: ANN001
        if counter is not None:
            counter["passages"] = counter.get("passages", 0) + len(texts)
        return pseudo_vectors([_text_seed(t) for t in texts])

    def queries(self, texts: list[str]) -> np.ndarray:  # noqa: ANN001
        return pseudo_vectors([_text_seed("query: " + t) for t in texts])

    patched: Any = ModelEncoder  # its methods swapped for the pseudo ones
    patched.encode_passages, patched.encode_queries = passages, queries
    patched.model = lambda self: None  # never load the real model  # noqa: ARG005
    try:
        yield
    finally:
        patched.encode_passages, patched.encode_queries, patched.model = saved


# -------------------------------------------------------------------- composed retrieval index


def seal(settings) -> None:  # noqa: ANN001
    """The index manifest a build writes (checksums and file stamps), for a composed index: readers
    then verify it the way they verify a built one, by stamps, instead of hashing hundreds of MB."""
    from assistant.atomic_files import write_json_atomic
    from assistant.store.corpus import parser_version
    from assistant.store.manifest import (
        DB_NAME,
        MANIFEST_FORMAT,
        MANIFEST_NAME,
        RETRIEVAL_SUBDIR,
        file_stamp,
        sha256_file,
        tree_checksums,
        tree_stamps,
    )
    from assistant.store.sql import FORMAT_VERSION

    index_dir = settings.index_dir
    facts, retrieval = index_dir / DB_NAME, index_dir / RETRIEVAL_SUBDIR
    write_json_atomic(
        index_dir / MANIFEST_NAME,
        {
            "manifest_format": MANIFEST_FORMAT,
            "format_version": FORMAT_VERSION,
            "parser_version": parser_version(),
            "reports": {},
            "duplicates": {},
            "facts": {
                "file": DB_NAME,
                "sha256": sha256_file(facts),
                "size": facts.stat().st_size,
                "stamp": file_stamp(facts),
            },
            "retrieval_stamps": tree_stamps(retrieval) if retrieval.is_dir() else None,
            "retrieval": tree_checksums(retrieval) if retrieval.is_dir() else None,
            "built": "composed by bench/scale.py",
        },
    )


def compose_retrieval(settings, reports: list, report_models: list, dense: str = "flat") -> dict:  # noqa: ANN001
    """A retrieval index of the synthetic reports composed from the five sources' chunks (see NOTES).

    Every synthetic report gets its source's chunk rows (doc, department, year, kind replaced; text
    as in the source), its source's BM25 term counts plus the tokens naming the report (as a real
    build adds them), the source's line-level counts, and one pseudo-random unit vector per chunk
    (seeded by report and chunk, so no two rows are equal). Written in the index's own format with
    its own writers (lexical.TermCounts / LexicalIndex.from_counts, DenseIndex), so search runs the
    production code; only chunking and tokenising are done once per *source* instead of per report.
    ``dense``: "flat" (exact), "approximate" (settings' approximate index: IVF above
    retrieval.approximate_above) or "none".
    """
    from scipy.sparse import csr_matrix, vstack

    from assistant.ingest.loaders import load_document
    from assistant.ingest.metadata import detect_metadata
    from assistant.retrieve import index_build as ri
    from assistant.retrieve import index_files as rf
    from assistant.retrieve.dense import DenseIndex, text_key
    from assistant.retrieve.lexical import LexicalIndex, TermCounts
    from assistant.retrieve.tokenize import tokenize, tokenizer_signature
    from bench.synth import CORPUS

    t0 = time.perf_counter()
    src: dict[str, dict] = {}
    for name in sorted({r.source for r in reports}):
        doc = load_document(CORPUS / name)
        rep = detect_metadata(doc)
        pairs = ri.chunk_document_with_context(doc, rep, settings.chunking.size, settings.chunking.overlap)
        chunks = [c for c, _, _ in pairs]
        contexts = [x for _, x, _ in pairs]
        units, owner = ri.line_units(chunks, contexts)
        templates = []
        for c in chunks:
            rest = c.model_dump(mode="json", exclude={"doc", "department", "year", "kind"})
            body = json.dumps(rest, ensure_ascii=False, separators=(",", ":"))
            templates.append(("{\x00FIELDS\x00," + body[1:] + "\n").encode())
        src[name] = {
            "chunks": chunks,
            "row_templates": templates,
            "counts": TermCounts.from_tokens(
                [tokenize(ri.embed_text(c, x)) for c, x in zip(chunks, contexts, strict=True)]
            ),
            "lines": TermCounts.from_tokens([tokenize(u) for u in units]),
            "owner": np.asarray(owner, dtype=np.int64),
            "contexts": rf.row_block([(json.dumps(x, ensure_ascii=False) + "\n").encode() for x in contexts]),
            "spans": rf.row_block(
                [
                    (json.dumps([list(u) for u in us], ensure_ascii=False) + "\n").encode()
                    for _, _, us in pairs
                ]
            ),
        }
    models = {m.doc: m for m in report_models}
    keys = {r.doc: ri.report_key(models[r.doc].sha256, models[r.doc]) for r in reports}
    names = {doc: ri.report_tokens(k) for doc, k in keys.items()}
    words = sorted(
        {w for s in src.values() for w in s["counts"].vocab} | {w for ts in names.values() for w in ts}
    )
    wid = {w: i for i, w in enumerate(words)}
    lwords = sorted({w for s in src.values() for w in s["lines"].vocab})
    lwid = {w: i for i, w in enumerate(lwords)}
    for s in src.values():  # each source's counts as sparse matrices over the global vocabularies
        for part, vocab_ids, width, key in (
            ("counts", wid, len(words), "m"),
            ("lines", lwid, len(lwords), "lm"),
        ):
            tc = s[part]
            remap = np.asarray([vocab_ids[w] for w in tc.vocab], dtype=np.int32)
            s[key] = csr_matrix(
                (tc.counts, remap[tc.ids] if len(tc.ids) else tc.ids, tc.indptr),
                shape=(tc.rows, width),
                dtype=np.int32,
            )
    out_dir = settings.index_dir / rf.SUBDIR
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    chunk_blocks, ctx_blocks, span_blocks, mats, lmats, owners, text_keys = [], [], [], [], [], [], []
    per_doc: dict[str, int] = {}
    pos = 0
    for r in sorted(reports, key=lambda r: r.doc):
        s = src[r.source]
        n = len(s["chunks"])
        # the source's rows with this report's doc/department/year/kind (JSON equivalent to a
        # model_copy(update=…).model_dump_json() of each chunk, ~10x faster)
        fields = {"doc": r.doc, "department": r.department, "year": r.year, "kind": r.kind}
        rows = [
            row.replace(b"\x00FIELDS\x00", json.dumps(fields, ensure_ascii=False)[1:-1].encode())
            for row in s["row_templates"]
        ]
        chunk_blocks.append(rf.row_block(rows))
        ctx_blocks.append(s["contexts"])
        span_blocks.append(s["spans"])
        ids = np.asarray([wid[w] for w in names[r.doc]], dtype=np.int32)
        extra = csr_matrix(
            (np.ones(n * len(ids), np.int32), np.tile(ids, n), np.arange(n + 1) * len(ids)),
            shape=(n, len(words)),
            dtype=np.int32,
        )
        mats.append(s["m"] + extra)
        lmats.append(s["lm"])
        owners.append(s["owner"] + pos)
        text_keys += [text_key(f"{r.doc}\x00{i}") for i in range(n)]
        per_doc[r.doc] = n
        pos += n
    for name, blocks in ((rf.CHUNKS, chunk_blocks), (rf.CONTEXTS, ctx_blocks), (rf.SPANS, span_blocks)):
        rf.write_lines(out_dir / name, blocks)
    (out_dir / rf.TEXT_KEYS).write_text(json.dumps(text_keys), encoding="utf-8")
    for mlist, vocab, sub in ((mats, words, rf.BM25_DIR), (lmats, lwords, rf.LINES_DIR)):
        m = vstack(mlist, format="csr")
        m.sort_indices()
        LexicalIndex.from_counts(TermCounts(vocab, m.indptr, m.indices, m.data)).save(out_dir / sub)
    np.save(out_dir / rf.LINE_OWNER, np.concatenate(owners).astype(np.int32), allow_pickle=False)
    lexical_s = time.perf_counter() - t0
    dense_s = 0.0
    if dense != "none":
        t = time.perf_counter()
        vecs = np.random.default_rng(5000).standard_normal((pos, PSEUDO_DIM)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        above = settings.retrieval.approximate_above if dense == "approximate" else pos + 1
        DenseIndex.build(vecs, above).save(out_dir / rf.FAISS_FILE)
        del vecs
        dense_s = time.perf_counter() - t
    manifest = {
        "format": rf.FORMAT_VERSION,
        "model": settings.embedding.model if dense != "none" else None,
        "dim": PSEUDO_DIM if dense != "none" else None,
        "embedded": dense != "none",
        "chunking": {"size": settings.chunking.size, "overlap": settings.chunking.overlap},
        "tokenizer": tokenizer_signature(),
        "docs": keys,
        "chunks_per_doc": per_doc,
        "chunks": pos,
    }
    (out_dir / rf.MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8"
    )
    return {
        "chunks": pos,
        "lexical_s": lexical_s,
        "dense_s": dense_s,
        "dense": dense,
        "bytes": dir_size(out_dir),
    }


# --------------------------------------------------------------------------- search latency


def search_child(index_parent: str, qfile: str) -> None:
    """Internal: RetrievalIndex.search latency (pseudo query vectors), and where the time goes."""
    import cProfile
    import pstats

    from assistant.config import load_settings
    from assistant.retrieve.index import RetrievalIndex

    spec = json.loads(Path(qfile).read_text(encoding="utf-8"))
    settings = load_settings(Path(index_parent) / "config.toml")
    # "real": questions through the real e5 model (passage vectors stay pseudo): the latency a user sees
    with pseudo_model() if spec.get("encoder", "pseudo") == "pseudo" else contextlib.nullcontext():
        t = time.perf_counter()
        idx = RetrievalIndex.open(settings.index_dir, settings)
        open_s = time.perf_counter() - t
        idx.warmup()
        out: dict = {
            "open_s": open_s,
            "chunks": len(idx.chunks),
            "dense": idx.has_dense,
            "approximate": bool(idx.dense is not None and idx.dense.approximate),
            "cases": {},
        }
        cases: dict[str, list[tuple[str, list[str] | None]]] = {
            "unfiltered": [(q, None) for q in spec["queries"]],
            "department filter": [
                (q, [d]) for q, d in zip(spec["queries"], spec["departments"], strict=False)
            ],
        }
        prof = cProfile.Profile()
        for name, items in cases.items():
            for q, d in items:
                idx.search(q, departments=d)  # first: parses the hit chunks
            lat = []
            for _ in range(spec.get("reps", 5)):
                for q, d in items:
                    idx._query_vectors.clear()  # every timed search encodes its question (no cache hit)
                    t = time.perf_counter()
                    prof.enable()
                    idx.search(q, departments=d)
                    prof.disable()
                    lat.append((time.perf_counter() - t) * 1000)
            out["cases"][name] = {"n": len(lat), "p50": pct(lat, 50), "p95": pct(lat, 95)}
        st = pstats.Stats(prof)
        total = sum(v[2] for v in st.stats.values())  # type: ignore[attr-defined]
        top = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:6]  # type: ignore[attr-defined]
        out["profile"] = [(f"{Path(k[0]).name}:{k[2]}", v[2] / total) for k, v in top]
    out["rss_mb"] = maxrss_mb()
    print(json.dumps(out))


def search_latency(base: Path, reports: list, reps: int = 5, encoder: str = "pseudo") -> dict:
    rng = random.Random(3)
    queries = [
        "什么是机关运行经费",
        "三公经费增减变化的主要原因",
        "一般公共预算财政拨款是什么",
        "什么是项目支出",
        "部门的主要职能是什么",
        "公务接待费支出决算",
        "政府采购情况",
        "国有资产占有使用情况",
        "绩效目标管理",
        "会议费和培训费",
    ]
    depts = [r.department for r in rng.sample(reports, min(len(queries), len(reports)))]
    qf = base / "search.json"
    qf.write_text(
        json.dumps(
            {"queries": queries, "departments": depts, "reps": reps, "encoder": encoder}, ensure_ascii=False
        ),
        encoding="utf-8",
    )
    p = subprocess.run(
        [sys.executable, "-m", "bench.scale", "_search", str(base), str(qf)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=child_env(),
    )
    if p.returncode:
        raise RuntimeError(p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def child_env() -> dict[str, str]:
    """The environment for child processes: this checkout first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


# ---------------------------------------------------------------------------------------- queries


def questions(reports: list, n_lookup: int = 30, n_other: int = 10, seed: int = 1) -> dict[str, list[str]]:
    rng = random.Random(seed)
    with_truth = [r for r in reports if r.truths]
    look = [t.question for r in rng.sample(with_truth, min(n_lookup, len(with_truth))) for t in r.truths[:1]]
    # 执行率 of 三公经费 (source 000 states 预算数 and 决算数) and a share (基本工资 / 本年支出合计)
    r000 = [r for r in with_truth if r.source.startswith("000")]
    r_share = [r for r in with_truth if r.source.startswith(("000", "004"))]
    comp = [
        f"{r.department}{r.year}年三公经费执行率是多少"
        for r in rng.sample(r000, min(n_other // 2, len(r000)))
    ]
    comp += [
        f"{r.department}{r.year}年基本工资占本年支出合计的比重是多少"
        for r in rng.sample(r_share, min(n_other // 2, len(r_share)))
    ]
    years = sorted({r.year for r in reports})
    compare = [f"哪个局{y}年本年支出合计最多" for y in years[:3]] + [f"{years[0]}年哪个部门三公经费最少"]
    retr = [
        "什么是机关运行经费",
        "什么是三公经费",
        "一般公共预算财政拨款是什么",
        "什么是项目支出",
        f"{reports[0].department}的主要职能是什么",
    ]
    return {"lookup": look, "computed": comp, "compare": compare, "retrieval": retr}


def engine_child(index_parent: str, qfile: str) -> None:
    """Internal: open the engine, ask every question (1 untimed + repeats), print JSON figures."""
    qs = json.loads(Path(qfile).read_text(encoding="utf-8"))
    budget = qs.pop("_budget_s", 60.0)
    with pseudo_model() if qs.pop("_pseudo", False) else contextlib.nullcontext():
        # the dense part holds pseudo vectors: so do the queries (the real model is never loaded)
        _engine_run(index_parent, qs, budget)


def _engine_run(index_parent: str, qs: dict, budget: float) -> None:
    from assistant.answer.engine import Engine
    from assistant.config import load_settings

    settings = load_settings(Path(index_parent) / "config.toml")
    t = time.perf_counter()
    engine = Engine(settings)
    open_s = time.perf_counter() - t
    out: dict = {"open_s": open_s, "kinds": {}, "rss_mb_open": maxrss_mb()}
    for kind, items in qs.items():
        lat: list[float] = []
        answers: dict[str, int] = {}
        first: list[float] = []
        start = time.perf_counter()
        for q in items:
            t = time.perf_counter()
            a = engine.ask(q)  # first ask: loads lazily (retrieval index / model) — reported apart
            first.append((time.perf_counter() - t) * 1000)
            answers[a.kind] = answers.get(a.kind, 0) + 1
            if time.perf_counter() - start > budget:
                break
        reps = 5 if kind in ("lookup", "computed") else 2
        for _ in range(reps):
            for q in items:
                if time.perf_counter() - start > budget and lat:
                    break
                t = time.perf_counter()
                engine.ask(q)
                lat.append((time.perf_counter() - t) * 1000)
        out["kinds"][kind] = {
            "n": len(lat),
            "p50": pct(lat, 50),
            "p95": pct(lat, 95),
            "p99": pct(lat, 99),
            "first_max": max(first) if first else None,
            "answers": answers,
            "rss_mb_after": maxrss_mb(),
        }
    out["rss_mb"] = maxrss_mb()
    print(json.dumps(out))


def warm(base: Path, qs: dict[str, list[str]], budget_s: float = 60.0, pseudo: bool = False) -> dict:
    qf = base / "questions.json"
    qf.write_text(
        json.dumps({**qs, "_budget_s": budget_s, "_pseudo": pseudo}, ensure_ascii=False), encoding="utf-8"
    )
    p = subprocess.run(
        [sys.executable, "-m", "bench.scale", "_engine", str(base), str(qf)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=child_env(),
    )
    if p.returncode:
        raise RuntimeError(p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def cold(base: Path, question: str, n: int = 5) -> dict:
    runs = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "assistant.interfaces.cli", "ask", question],
            cwd=base,
            env=child_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        runs.append(time.perf_counter() - t)
    return {"median_s": statistics.median(runs), "max_s": max(runs)}


# ------------------------------------------------------------------------------------------ main


def machine() -> dict:
    mem = 0
    try:
        mem = int(next(ln for ln in open("/proc/meminfo") if ln.startswith("MemTotal")).split()[1]) // 1024
    except (OSError, StopIteration):
        pass
    return {
        "nproc": os.cpu_count(),
        "ram_mb": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def run(sizes: list[int], seed: int = 7) -> dict:
    res: dict = {
        "machine": machine(),
        "sizes": sizes,
        "builds": {},
        "warm": {},
        "cold": {},
        "search": {},
        "search_real": {},
        "dense": {},
        "compose": {},
        "load_start": os.getloadavg(),
    }
    root = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        for n in sizes:
            base = root / f"n{n}"
            base.mkdir()
            pseudo = False
            if n <= 1000:
                _log(f"[N={n}] facts-only build, then the BM25 retrieval index …")
                b = bench_build(base, n, seed)
                settings, reports = b.pop("settings"), b.pop("reports")
                res["builds"][n] = b
                _log(
                    f"  facts-only {b['seconds']:.1f} s ({b['reports_per_s']:.2f} reports/s); retrieval (BM25) "
                    f"{b['bm25_s']:.1f} s for {b['chunks']} chunks; {b['index_bytes'] / n / 1024:.0f} KiB/report"
                )
                if n <= 10:
                    _log("[embeddings] model load + encode a sample of chunk texts …")
                    res["embed"] = embed_sample(base / "corpus")
                    _log(f"  {res['embed']}")
                if n >= 100:
                    t, d = distinct_texts(base / "corpus", 60)
                    res["distinct"] = {"sample": 60, "chunks": t, "distinct": d}
                    _log(f"[N={n}] incremental re-index (BM25) after changing one report …")
                    res["incremental"] = {"n": n, **incremental(settings, reports)}
                    _log(f"  {res['incremental']}")
                    _log(f"[N={n}] dense part from pseudo vectors (build_index(embed=True), pseudo model) …")
                    res["dense"][n] = dense_pseudo_build(settings)
                    _log(f"  {res['dense'][n]}")
                    _log(f"[N={n}] incremental re-index with embeddings (pseudo model) …")
                    res["incremental_embed"] = {
                        "n": n,
                        **incremental(settings, reports, embed=True, repeats=1),
                    }
                    _log(f"  {res['incremental_embed']}")
                    pseudo = True
            else:
                _log(f"[N={n}] composed fact store …")
                settings, reports, c = compose_store(base, n, seed)
                models = c.pop("models")
                res["builds"][n] = {"composed": True, **c}
                _log(
                    f"  {c['seconds']:.1f} s, {c['facts']} facts, agreement with real pipeline on "
                    f"{c['check_n']} reports {c['check_agreement']:.3f}"
                )
                _log(f"[N={n}] composed retrieval index (pseudo vectors, settings' approximate index) …")
                res["compose"][n] = compose_retrieval(settings, reports, models, dense="approximate")
                seal(settings)
                _log(f"  {res['compose'][n]}")
                pseudo = True
            qs = questions(reports)
            _log(f"[N={n}] warm queries …")
            res["warm"][n] = warm(base, qs, budget_s=90.0 if n > 1000 else 40.0, pseudo=pseudo)
            for k, v in res["warm"][n]["kinds"].items():
                _log(
                    f"  {k:9} p50 {v['p50']:.1f} ms p95 {v['p95']:.1f} p99 {v['p99']:.1f} (n={v['n']}) {v['answers']}"
                )
            _log(f"  engine RSS {res['warm'][n]['rss_mb']:.0f} MB, open {res['warm'][n]['open_s']:.2f} s")
            if (settings.index_dir / "retrieval" / "manifest.json").exists():
                _log(f"[N={n}] RetrievalIndex.search latency …")
                res["search"][n] = search_latency(base, reports)
                _log(f"  {res['search'][n]}")
                if n >= 100 and res["search"][n]["dense"]:
                    _log(f"[N={n}] RetrievalIndex.search latency, questions through the real e5 model …")
                    res["search_real"][n] = search_latency(base, reports, encoder="real")
                    _log(f"  {res['search_real'][n]['cases']}")
            _log(f"[N={n}] cold ask …")
            res["cold"][n] = {"lookup": cold(base, qs["lookup"][0])}
            _log(f"  cold lookup median {res['cold'][n]['lookup']['median_s'] * 1000:.0f} ms")
        res["peak_rss_mb_bench_process"] = maxrss_mb()
        res["load_end"] = os.getloadavg()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return res


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}"


def write_results(res: dict, path: Path) -> None:
    m = res["machine"]
    L = [
        "# Scale benchmark results",
        "",
        f"Generated by `.venv/bin/python -m bench` on {m['date']}.",
        "",
        f"Machine: {m['nproc']} CPUs, {m['ram_mb'] / 1024:.1f} GiB RAM, Python {m['python']}, {m['platform']}.",
        "",
        "Corpora: `bench/synth.py` (N reports made from corpus/000–004: other departments of invented "
        "counties/cities, years 2019–2024, amounts × an integer factor 1–3 so table identities hold). "
        "Temporary directories; embedding settings default.",
        "",
        "## Index build",
        "",
        "| N | mode | seconds | reports/s | chunks | facts | index size / report |",
        "|---|---|---|---|---|---|---|",
    ]
    b = res["builds"]
    for key, v in b.items():
        if v.get("composed"):
            L.append(
                f"| {key} | composed fact store (see notes; {v['check_agreement']:.1%} of facts identical to a "
                f"real parse of {v['check_n']} generated files) | {v['seconds']:.1f} | — | — | {v['facts']} | "
                f"{v['index_bytes'] / int(key) / 1024:.0f} KiB (facts only) |"
            )
            c = res["compose"].get(key) or res["compose"].get(int(key))
            if c:
                L.append(
                    f"| {key} | composed retrieval index (see notes): BM25 {c['lexical_s']:.1f} s, dense "
                    f"({c['dense']}, pseudo vectors) {c['dense_s']:.1f} s | {c['lexical_s'] + c['dense_s']:.1f} | — | "
                    f"{c['chunks']} | — | {c['bytes'] / int(key) / 1024:.0f} KiB (retrieval) |"
                )
            continue
        n = v["n"]
        api = (
            "`build_index(embed=False, retrieval=False)`"
            if v.get("facts_only_api")
            else "`build_index(embed=False)` with the retrieval step stubbed out"
        )
        L.append(
            f"| {n} | facts only ({api}) | {v['seconds']:.1f} | {v['reports_per_s']:.2f} | — | {v['facts']} | — |"
        )
        L.append(
            f"| {n} | + retrieval index, BM25 (`build_index(embed=False)` on that store: every report loaded, "
            f"chunked, tokenised) | {v['bm25_s']:.1f} | {n / v['bm25_s']:.2f} | {v['chunks']} | — | "
            f"{v['index_bytes'] / n / 1024:.0f} KiB (all) |"
        )
        d = res["dense"].get(n) or res["dense"].get(str(n))
        if d:
            L.append(
                f"| {n} | + dense part, pseudo vectors (`build_index(embed=True)`, see notes) | {d['seconds']:.1f} | — | "
                f"{d['embedded']} texts | — | — |"
            )
    real = [v for v in b.values() if not v.get("composed") and v["n"] >= 100]
    rate = real[-1]["reports_per_s"] if real else None
    L.append("")
    if rate:
        L.append(
            f"Extrapolated facts-only build at N=5000: {5000 / rate / 60:.0f} min "
            f"(measured {rate:.2f} reports/s at N={real[-1]['n']}); not run, it does not fit the 10-minute budget."
        )
    if res.get("embed") and res.get("distinct"):
        e, d = res["embed"], res["distinct"]
        per_doc = d["distinct"] / d["sample"]
        per_text = e["s_per_text"]
        L.append(
            f"Embeddings with the real model (sampled and extrapolated): model load {e['model_load_s']:.1f} s; "
            f"{per_text * 1000:.0f} ms per passage (batch of {e['texts']} distinct chunk texts). A sample of "
            f"{d['sample']} synthetic reports has {d['chunks']} chunks but only {d['distinct']} distinct texts "
            f"(the retrieval index embeds each distinct text once via its embedding cache; synthetic reports "
            f"share boilerplate — real ones share less), i.e. {per_doc:.1f} new texts per report → "
            f"≈{500 * per_doc * per_text / 60:.0f} min at N=500, ≈{5000 * per_doc * per_text / 60:.0f} min at "
            f"N=5000 on top of the facts-only build."
        )
    L += [
        "",
        "## Query latency (warm: in-process Engine, ms)",
        "",
        "| N | kind | p50 | p95 | p99 | first ask (max) | n | answer kinds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, w in res["warm"].items():
        for k, v in w["kinds"].items():
            L.append(
                f"| {n} | {k} | {_ms(v['p50'])} | {_ms(v['p95'])} | {_ms(v['p99'])} | {_ms(v['first_max'])} | "
                f"{v['n']} | {', '.join(f'{a}:{c}' for a, c in v['answers'].items())} |"
            )
    L += [
        "",
        "| N | Engine open (s) | RSS after open (MB) | RSS after numeric questions (MB) | peak RSS incl. retrieval (MB) | cold `assistant ask` lookup median (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for n, w in res["warm"].items():
        num = max(w["kinds"][k]["rss_mb_after"] for k in ("lookup", "computed", "compare") if k in w["kinds"])
        L.append(
            f"| {n} | {w['open_s']:.2f} | {w['rss_mb_open']:.0f} | {num:.0f} | {w['rss_mb']:.0f} | "
            f"{res['cold'][n]['lookup']['median_s'] * 1000:.0f} |"
        )
    if res["search"]:
        L += [
            "",
            "## Retrieval search (`RetrievalIndex.search`, warm, ms; pseudo query vectors)",
            "",
            "| N | chunks | dense index | open (s) | case | p50 | p95 | n | top functions (share of search time) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for n, sr in res["search"].items():
            dense = ("approximate (IVF)" if sr["approximate"] else "exact (flat)") if sr["dense"] else "none"
            top = "; ".join(f"{f} {share:.0%}" for f, share in sr.get("profile", [])[:4])
            for i, (case, v) in enumerate(sr["cases"].items()):
                L.append(
                    f"| {n} | {sr['chunks']} | {dense} | {sr['open_s']:.2f} | {case} | {_ms(v['p50'])} | "
                    f"{_ms(v['p95'])} | {v['n']} | {top if i == 0 else ''} |"
                )
    if res.get("search_real"):
        L += [
            "",
            "Questions through the real e5 model (passage vectors pseudo; the query is encoded in a worker "
            "thread while the lexical side runs):",
            "",
            "| N | case | p50 | p95 | n |",
            "|---|---|---|---|---|",
        ]
        for n, sr in res["search_real"].items():
            for case, v in sr["cases"].items():
                L.append(f"| {n} | {case} | {_ms(v['p50'])} | {_ms(v['p95'])} | {v['n']} |")
    inc = res.get("incremental")
    if inc:
        L += [
            "",
            "## Incremental re-index",
            "",
            f"N={inc['n']}, one report's content changed (a paragraph appended), `build_index(embed=False)`: "
            f"{inc['seconds']:.2f} s (median of {len(inc['runs'])} runs {inc['runs']}, each on another report): "
            f"{inc['retrieval_s']:.2f} s in the retrieval index, {inc['seconds'] - inc['retrieval_s']:.2f} s facts "
            f"and manifest; {inc['parsed']} parsed, {inc['reused']} reused, {inc['docs_chunked']} report(s) "
            f"chunked/tokenised for retrieval. Retrieval chunks before {inc['chunks_before']}, after "
            f"{inc['chunks_after']}.",
        ]
        ie = res.get("incremental_embed")
        if ie:
            per = (res.get("embed") or {}).get("s_per_text")
            model = f" + ≈{ie['embedded'] * per:.0f} s of real-model time" if per else ""
            L.append("")
            L.append(
                f"The same with embeddings (`build_index(embed=True)`, pseudo model): {ie['seconds']:.2f} s, "
                f"{ie['embedded']} new chunk texts embedded{model}."
            )
    # targets
    big = max(res["warm"])
    wb = res["warm"][big]["kinds"]
    t = []

    def row(name: str, ok: bool | None, got: str) -> None:
        t.append(f"| {name} | {got} | {'met' if ok else 'n/a' if ok is None else '**missed**'} |")

    lk = wb.get("lookup", {})
    cp = wb.get("computed", {})
    row(
        f"lookup p50 ≤ 5 ms, p95 ≤ 20 ms warm at N={big}",
        lk and lk["p50"] <= 5 and lk["p95"] <= 20,
        f"p50 {_ms(lk.get('p50'))}, p95 {_ms(lk.get('p95'))}",
    )
    row(
        f"computed p50 ≤ 5 ms, p95 ≤ 20 ms warm at N={big}",
        cp and cp["p50"] <= 5 and cp["p95"] <= 20,
        f"p50 {_ms(cp.get('p50'))}, p95 {_ms(cp.get('p95'))}",
    )
    cmax = max(v["lookup"]["median_s"] for v in res["cold"].values())
    row(
        "cold `assistant ask` lookup ≤ 0.3 s (all N)",
        cmax <= 0.3,
        ", ".join(f"N={n}: {v['lookup']['median_s'] * 1000:.0f} ms" for n, v in res["cold"].items()),
    )
    for n, limit in ((500, 50), (5000, 150)):
        w = res["warm"].get(n, {}).get("kinds", {}).get("retrieval")
        sr = res["search"].get(n, {}).get("cases", {}).get("unfiltered")
        if w is None:
            row(f"retrieval p50 ≤ {limit} ms warm at N={n}", None, "not measured")
            continue
        real = res.get("search_real", {}).get(n, {}).get("cases", {}).get("unfiltered")
        if real is not None:  # what a user waits for: the real model encodes the question
            row(
                f"retrieval p50 ≤ {limit} ms warm at N={n} (search, real query encoder)",
                real["p50"] <= limit,
                f"p50 {_ms(real['p50'])} (pseudo query vectors: search {_ms(sr['p50']) if sr else '—'}, "
                f"Engine {_ms(w['p50'])})",
            )
            continue
        row(
            f"retrieval p50 ≤ {limit} ms warm at N={n} (Engine; pseudo query vectors)",
            w["p50"] <= limit,
            f"p50 {_ms(w['p50'])}" + (f" (search alone {_ms(sr['p50'])})" if sr else ""),
        )
    row(
        "facts-only indexing ≥ 20 reports/s",
        rate is not None and rate >= 20,
        f"{rate:.2f} reports/s" if rate else "—",
    )
    if inc:
        row(
            f"incremental ≤ 2 s at N={inc['n']} (facts + BM25)",
            inc["seconds"] <= 2 and inc["chunks_after"] >= inc["chunks_before"],
            f"{inc['seconds']:.2f} s",
        )
    row(
        f"engine RSS at N={big} < 2 GB",
        res["warm"][big]["rss_mb"] < 2048,
        f"{res['warm'][big]['rss_mb']:.0f} MB",
    )
    L += ["", "## Targets", "", "| target | measured | |", "|---|---|---|", *t]
    load = (
        f"load average {res['load_start'][0]:.1f} at the start, {res.get('load_end', (0,))[0]:.1f} at the end"
    )
    L += [
        "",
        "## Notes",
        "",
        f"- Measured with {load} (2 CPUs); the figures are this run's, not the best of several.",
        *NOTES,
        "",
    ]
    # sections measured by other benchmarks (bench/retrieval.py, bench/cold_start.py) follow KEPT_MARK
    # and survive a rerun of this one
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    kept = old[old.index(KEPT_MARK) :] if KEPT_MARK in old else ""
    path.write_text("\n".join(L) + ("\n" + kept if kept else ""), encoding="utf-8")


DEFAULT_SIZES = "5,500,5000"
NOTES: list[str] = [
    "- Cold `assistant ask`: a new interpreter that imports pydantic (≈160 ms here), creates the record "
    "classes (≈55 ms) and validates the settings (≈45 ms) has spent ≈280 ms before it opens the index "
    "(`python bench/cold_start.py` prints this floor); the 0.3 s target cannot be met while the records are "
    "pydantic models. Engine open itself is O(1) in N (names are looked up in the store, not loaded).",
    "- Build figures are end-to-end `build_index`; the first row (N=5) is dominated by fixed costs "
    "(imports, jieba dictionary load ≈3 s).",
    "- The retrieval index is incremental per report: an unchanged report is not loaded, chunked or "
    "tokenised; its chunk rows and BM25 term counts are carried over from the previous index, the BM25 "
    "scores recomputed from the counts (numpy), FAISS rebuilt from cached vectors (IVF reuses its centroids).",
    "- Dense part: embedding thousands of reports with e5 is impossible here (~0.13–0.28 s per passage), so "
    "the dense vectors at N ≥ 100 are deterministic pseudo-random unit vectors (seeded by the text's hash; by "
    "report and chunk in the composed index) that go through the same RetrievalIndex / DenseIndex code "
    "(exact flat index up to `retrieval.approximate_above` chunks, IVF above). Dense *quality* is not "
    "measured here (recall is measured on the real corpus by bench/retrieval.py). The Engine rows and the "
    "first search table use pseudo query vectors too; the 'real e5 model' table encodes each question with "
    "the real model (≈45 ms, in a worker thread alongside BM25), which is the latency a user sees and what "
    "the retrieval targets are judged on.",
    "- N=5000 uses a composed fact store (module doc of bench/scale.py): the sources' real-pipeline facts "
    "transformed like the text. 'agreement' above is the share of (metric, qualifier, value, unit, line) "
    "facts that are identical to parsing the generated file for real.",
    "- N=5000 also uses a composed retrieval index (`compose_retrieval`): each synthetic report has its "
    "source's chunks (text as in the source; doc, department, year, kind its own), the source's BM25 "
    "term counts plus its own name tokens, written with the index's own writers. Loading, chunking and "
    "tokenising 5000 reports for real would take 1–2 s per report on this machine (jieba dominates: "
    "594 of 940 s of a profiled N=500 retrieval build), far over the budget. Posting-list "
    "lengths (what search time depends on) are as in the real build; the vocabulary is smaller (amounts "
    "and names in the text are the sources').",
    "- Warm latency: each question is asked once untimed (first ask; the retrieval kind opens the retrieval "
    "index then), then timed over 5 (numeric) or 2 (compare, retrieval) passes in the same Engine.",
    "- RSS is VmHWM of the engine process (`python -m bench.scale _engine`).",
    "- tests/test_scale.py checks correctness at 180 reports (lookups = generated numbers; an "
    "ungenerated department is not_found); it skips the BM25 step to stay near a minute.",
]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_engine":
        engine_child(argv[1], argv[2])
        return 0
    if argv and argv[0] == "_search":
        search_child(argv[1], argv[2])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=DEFAULT_SIZES)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    ap.add_argument("--json", default=None, help="also write the raw figures as JSON")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    res = run([int(s) for s in args.sizes.split(",")], args.seed)
    res["total_s"] = time.perf_counter() - t0
    if args.json:
        Path(args.json).write_text(
            json.dumps(res, default=str, ensure_ascii=False, indent=1), encoding="utf-8"
        )
    write_results(res, Path(args.out))
    _log(f"total {res['total_s']:.0f} s → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
