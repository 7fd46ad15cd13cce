"""Incremental retrieval builds: touching one report re-loads, re-chunks and re-tokenises only that
report; the others' rows are carried over from the previous index, and the result is the same index
a full build writes."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import write_config

import assistant.ingest.loaders as loaders
import assistant.retrieve.index_build as retrieval_index_build
from assistant.config import Settings, load_settings
from assistant.ingest.loaders import load_document
from assistant.ingest.metadata import detect_metadata
from assistant.models import Document, Report
from assistant.retrieve.index import SUBDIR, RetrievalIndex
from assistant.retrieve.lexical import LexicalIndex, TermCounts
from assistant.retrieve.tokenize import tokenize
from assistant.store.build import build_index

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
FILES = (
    "000_db59d6f0fba66678.txt",
    "001_8ee0239607d3cbd9.txt",
    "003_d6208e3fa212963b.txt",
    "004_a15be56197084065.txt",
)
TOUCHED = "001_8ee0239607d3cbd9.txt"
ADDED = "\n第六部分 补充说明\n本局设立医保政策宣传长廊和信息公开栏。\n"


class Counting:
    """Counts the calls of a function (by the ``doc`` name of its first argument) and forwards them."""

    def __init__(self, fn) -> None:  # noqa: ANN001
        self.fn = fn
        self.calls: list[str] = []

    def __call__(self, first, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN204
        self.calls.append(getattr(first, "doc", None) or Path(first).name)
        return self.fn(first, *a, **k)


class FakeEncoder:
    """Deterministic unit vectors from the text hash; counts what it embeds."""

    name = "fake-hash"

    def __init__(self) -> None:
        self.passages: list[str] = []

    def _vec(self, text: str) -> np.ndarray:
        v = np.random.default_rng(int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)).standard_normal(16)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts])

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        self.passages += texts
        return np.stack([self._vec(t) for t in texts])


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    for name in FILES:
        shutil.copy(CORPUS / name, d / name)
    return d


def _docs(corpus: Path) -> list[tuple[Document, Report]]:
    out = []
    for p in sorted(corpus.iterdir()):
        doc = load_document(p)
        out.append((doc, detect_metadata(doc)))
    return out


def _files(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_build_index_touching_one_report_chunks_only_that_report(corpus, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    settings = load_settings(write_config(tmp_path, [corpus], tmp_path / "index"))
    logged: list[str] = []
    build_index(settings, embed=False, log=logged.append)
    assert any("docs_chunked=4" in line for line in logged)

    target = corpus / TOUCHED
    target.write_text(target.read_text(encoding="utf-8") + ADDED, encoding="utf-8")
    loads = Counting(loaders.load_document)
    chunked = Counting(retrieval_index_build.chunk_document_with_context)
    monkeypatch.setattr(loaders, "load_document", loads)
    monkeypatch.setattr(retrieval_index_build, "chunk_document_with_context", chunked)
    logged.clear()
    build_index(settings, embed=False, log=logged.append)
    # the touched report is loaded once (to parse it) and chunked once; the three others neither
    assert loads.calls == [TOUCHED]
    assert chunked.calls == [TOUCHED]
    stats = next(line for line in logged if line.startswith("retrieval: "))
    assert "docs_chunked=1 " in stats and "docs_changed=1 " in stats

    # the incremental index is byte for byte the index a full build of the same corpus writes
    monkeypatch.undo()
    (tmp_path / "fresh").mkdir()
    fresh = load_settings(write_config(tmp_path / "fresh", [corpus], tmp_path / "fresh" / "index"))
    build_index(fresh, embed=False, log=lambda *a: None)
    assert _files(settings.index_dir / SUBDIR) == _files(fresh.index_dir / SUBDIR)

    idx = RetrievalIndex.open(settings.index_dir, settings)
    hits = idx.search("医保政策宣传长廊")
    assert hits and hits[0].chunk.doc == TOUCHED and "宣传长廊" in hits[0].chunk.text
    assert idx.chunks_of(TOUCHED) and all(idx.chunks[i].doc == TOUCHED for i in idx.chunks_of(TOUCHED))


def test_cached_reports_are_not_loaded_and_only_new_texts_embedded(corpus, tmp_path) -> None:  # noqa: ANN001
    settings = Settings(base_dir=str(tmp_path))
    index_dir = tmp_path / "index"
    docs = _docs(corpus)
    reports = [r for _, r in docs]
    for d, r in docs:
        r.sha256 = d.sha256  # what the fact store keeps for a report

    def no_load(report: Report) -> Document:
        raise AssertionError(f"{report.doc} loaded")

    # BM25 only first; then embeddings for the carried-over rows, without loading any report
    first = RetrievalIndex.build(index_dir, docs, settings, embed=False)
    assert first.docs_chunked == 4 and not first.embedded
    enc = FakeEncoder()
    second = RetrievalIndex.build(index_dir, [], settings, encoder=enc, cached=reports, load=no_load)
    assert second.docs_chunked == 0 and second.embedded
    assert second.chunks_embedded == len(enc.passages) == len(set(enc.passages)) > 0

    # one report changed: only it is chunked, only its new texts are embedded
    target = corpus / TOUCHED
    target.write_text(target.read_text(encoding="utf-8") + ADDED, encoding="utf-8")
    changed = next(d for d in _docs(corpus) if d[0].doc == TOUCHED)
    others = [r for r in reports if r.doc != TOUCHED]
    before = len(enc.passages)
    third = RetrievalIndex.build(index_dir, [changed], settings, encoder=enc, cached=others, load=no_load)
    assert third.docs_chunked == 1 and third.docs_changed == 1
    new = enc.passages[before:]
    assert 0 < third.chunks_embedded == len(new) and all("宣传长廊" in t or "补充说明" in t for t in new)
    manifest = json.loads((index_dir / SUBDIR / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedded"] and manifest["chunks"] == sum(manifest["chunks_per_doc"].values())

    # a removed report disappears without anything being re-chunked
    fourth = RetrievalIndex.build(index_dir, [], settings, encoder=enc, cached=others[1:], load=no_load)
    assert fourth.docs_removed == 2 and fourth.docs_chunked == 0 and fourth.chunks_embedded == 0
    idx = RetrievalIndex.open(index_dir, settings, encoder=enc)
    assert {c.doc for c in idx.chunks} == {r.doc for r in others[1:]}
    assert idx.dense is not None and idx.dense.size == len(idx.chunks)


def test_term_counts_concat_equals_counting_all() -> None:
    texts = ["公务接待费支出决算", "三公经费 公务用车", "一般公共预算财政拨款", "公务接待费", ""]
    tokens = [tokenize(t) for t in texts]
    whole = TermCounts.from_tokens(tokens)
    parts = [whole.slice(0, 2), TermCounts.from_tokens(tokens[2:4]), whole.slice(4, 5)]
    joined = TermCounts.concat(parts)
    assert joined.vocab == whole.vocab
    for a, b in ((joined.indptr, whole.indptr), (joined.ids, whole.ids), (joined.counts, whole.counts)):
        assert np.array_equal(a, b)
    # the vectorised BM25 equals bm25s's Lucene scores
    bm25s = pytest.importorskip("bm25s")
    from bm25s.tokenization import Tokenized

    vocab = {t: i for i, t in enumerate(whole.vocab)}
    ref = bm25s.BM25()
    ref.index(Tokenized(ids=[[vocab[t] for t in ts] for ts in tokens], vocab=vocab), show_progress=False)
    mine = LexicalIndex.from_counts(joined)
    for q in (["公务接待费"], ["三公经费", "财政拨款"], ["量子"]):
        got, _ = mine.score(q)
        want = np.zeros(len(texts), dtype=np.float32)
        for t in q:
            if t in vocab:
                lo, hi = ref.scores["indptr"][vocab[t]], ref.scores["indptr"][vocab[t] + 1]
                want[ref.scores["indices"][lo:hi]] += ref.scores["data"][lo:hi]
        assert np.allclose(got, want, atol=1e-6), q


def test_term_counts_are_each_passages_token_counter_over_a_sorted_vocabulary() -> None:
    from collections import Counter

    from assistant.retrieve.index_build import chunk_report, report_key

    doc = load_document(CORPUS / "000_db59d6f0fba66678.txt")
    report = detect_metadata(doc)
    rows = chunk_report(doc, report, report_key(doc.sha256, report), Settings())
    for token_lists in (rows["tokens"], rows["line_tokens"], [[], *rows["tokens"][:3], []]):
        tc = TermCounts.from_tokens(token_lists)
        assert tc.vocab == sorted({t for toks in token_lists for t in toks})
        assert tc.rows == len(token_lists)
        for i, toks in enumerate(token_lists):
            ids = tc.ids[tc.indptr[i] : tc.indptr[i + 1]]
            assert np.all(np.diff(ids) > 0)  # each token once per row, in vocabulary order
            got = {
                tc.vocab[j]: int(c)
                for j, c in zip(ids, tc.counts[tc.indptr[i] : tc.indptr[i + 1]], strict=True)
            }
            assert got == Counter(toks)
    empty = TermCounts.from_tokens([])
    assert empty.rows == 0 and empty.vocab == [] and len(empty.ids) == 0
