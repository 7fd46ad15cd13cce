"""Retrieval room: chunking, tokens, BM25, dense index, fusion, incremental builds, real-model search.

Tests marked ``model`` use the real embedding model (offline, HF_HUB_OFFLINE=1); they run in the
normal suite. Their index is built once into pytest's cache directory and updated incrementally, so
only the first run pays for embedding the corpus.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.ingest.loaders import load_document
from assistant.ingest.metadata import detect_metadata
from assistant.models import Chunk, Document, Report
from assistant.retrieve.chunking import chunk_document, display_line, heading_level
from assistant.retrieve.dense import DenseIndex, EmbeddingCache, text_key
from assistant.retrieve.fusion import defines, definition_term, filter_mask, reciprocal_rank_fusion
from assistant.retrieve.index import SUBDIR, BuildStats, RetrievalIndex
from assistant.retrieve.lexical import LexicalIndex
from assistant.retrieve.tokenize import fold, tokenize

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
ZHAOHUA = "001_8ee0239607d3cbd9.txt"
RENHE = "003_d6208e3fa212963b.txt"
SHEGONG = "中共上海市普陀区委社会工作部 2024 年度部门决算.pdf"
SHEGONG_DEPT = "中共上海市普陀区委社会工作部"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def corpus_docs() -> dict[str, tuple[Document, Report]]:
    """Every corpus file, loaded and with its metadata."""
    out = {}
    for p in sorted(CORPUS.iterdir()):
        if p.is_file():
            doc = load_document(p)
            out[doc.doc] = (doc, detect_metadata(doc))
    return out


@pytest.fixture(scope="session")
def corpus_chunks(corpus_docs) -> dict[str, list[Chunk]]:  # noqa: ANN001
    return {name: chunk_document(d, r, 400, 60) for name, (d, r) in corpus_docs.items()}


class FakeEncoder:
    """Deterministic stand-in for the model: hashed character bigrams, L2-normalised; counts calls."""

    def __init__(self, name: str = "fake-bigram", dim: int = 64) -> None:
        self.name = name
        self.dim = dim
        self.passages_encoded = 0

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for a, b in zip(text, text[1:], strict=False):
            h = int(hashlib.md5((a + b).encode()).hexdigest()[:8], 16)
            v[h % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts])

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        self.passages_encoded += len(texts)
        return np.stack([self._vec(t) for t in texts])


def _settings(tmp: Path, **retrieval: object) -> Settings:
    s = Settings(base_dir=str(tmp))
    for k, v in retrieval.items():
        setattr(s.retrieval, k, v)
    return s


def _docs_from(dir_: Path) -> list[tuple[Document, Report]]:
    out = []
    for p in sorted(dir_.iterdir()):
        d = load_document(p)
        out.append((d, detect_metadata(d)))
    return out


# --------------------------------------------------------------------------- tokenize


def test_tokenize_keeps_domain_terms_whole() -> None:
    for term in ("三公经费", "公务接待费", "机关运行经费", "城乡医疗救助"):
        assert term in tokenize(f"2021年{term}支出情况"), term
    assert "三公经费" in tokenize("什么是“三公”经费？")  # quotes do not split the term


def test_tokenize_folds_numbers_widths_and_stopwords() -> None:
    assert "11598130.25" in tokenize("收入11,598,130.25元")
    assert "11598130.25" in tokenize("收入11，598，130.25元")
    assert "2021" in tokenize("２０２１年")
    assert fold("ＡＢＣ（一）") == "abc(一)"
    toks = tokenize("什么是机关运行经费？")
    assert "什么" not in toks and "是" not in toks and "？" not in toks
    assert tokenize("") == [] and tokenize("，。？") == []


# --------------------------------------------------------------------------- chunking


def test_heading_levels() -> None:
    assert heading_level("第三部分 名词解释") == 0
    assert heading_level("七、“三公”经费财政拨款支出决算情况说明") == 1
    assert heading_level("（二）机构设置") == 2
    assert heading_level("1.前期准备") == 3
    assert heading_level("(1)公务用车购置费") == 4
    assert heading_level("收入支出决算总表") == 5
    # table rows and sentences are not headings
    assert heading_level("二、机关运行经费 22 — 221,653.72") is None
    assert heading_level("五、事业收入 5 五、教育支出 35") is None
    assert heading_level("1.财政拨款收入：指单位从同级财政部门取得的财政预算资金。") is None
    # a numbered line filling a hard-wrapped line is the start of a list item, not a heading
    assert heading_level("4.组织实施全省、全市统一的药品、医用耗材、医疗服务项", wrap=28) is None


def test_chunks_keep_table_rows_whole(corpus_docs, corpus_chunks) -> None:  # noqa: ANN001
    for name, (doc, _) in corpus_docs.items():
        chunks = corpus_chunks[name]
        for sl in doc.lines:
            text = display_line(sl)
            if not text or "\t" not in sl.raw and not (len(text.split()) >= 3 and any(ch.isdigit() for ch in text)):
                continue
            if "，" in text or "。" in text or heading_level(text) is not None:
                continue
            holders = [c for c in chunks if c.line_start <= sl.line <= c.line_end and text in c.text]
            assert holders, f"{name}:{sl.line} row split or lost: {text!r}"


def test_chunk_sections_lines_and_metadata(corpus_docs, corpus_chunks) -> None:  # noqa: ANN001
    chunks = corpus_chunks[ZHAOHUA]
    assert [c.chunk_id for c in chunks] == list(range(len(chunks)))
    _, report = corpus_docs[ZHAOHUA]
    for c in chunks:
        assert c.line_start <= c.line_end
        assert (c.department, c.year, c.kind) == (report.department, report.year, report.kind)
        assert len(c.text) <= 2 * 400, "chunks stay near the target size"
        assert "[bookmark" not in c.text
    reception = next(c for c in chunks if "公务接待费支出0.45万元" in c.text)
    assert reception.section == (
        "第二部分 2021年度单位决算情况说明 > 七、“三公”经费财政拨款支出决算情况说明 > "
        "（二）“三公”经费财政拨款支出决算具体情况说明"
    )
    assert reception.line_start <= 87 <= reception.line_end  # "3、公务接待费支出0.45万元…" is line 87
    definition = next(c for c in chunks if "16.机关运行经费：" in c.text)
    assert definition.section == "第三部分 名词解释"
    assert "购买货物和服务" in definition.text


def test_wrapped_lines_are_joined_without_spaces(corpus_chunks) -> None:  # noqa: ANN001
    # 003 wraps "…其中：一般公共预算" / " 财政拨款收入 1392.73 万元…" over two lines
    text = "\n".join(c.text for c in corpus_chunks[RENHE])
    assert "其中：一般公共预算财政拨款收入 1392.73 万元" in text
    # the quadrupled-glyph heading is shown collapsed
    assert "七、“三公”经费财政拨款支出决算情况说明" in text


def test_pdf_chunks_have_pages(corpus_chunks) -> None:  # noqa: ANN001
    chunks = corpus_chunks[SHEGONG]
    assert all(c.page is not None for c in chunks)
    duties = next(c for c in chunks if "人民信访" in c.text)
    assert "主要职能" in duties.section


# --------------------------------------------------------------------------- BM25


def test_bm25_matches_longer_compound(corpus_chunks, tmp_path) -> None:  # noqa: ANN001
    chunks = corpus_chunks[ZHAOHUA]
    lex = LexicalIndex.build([tokenize(c.text) for c in chunks])
    lex.save(tmp_path / "bm25")
    lex = LexicalIndex.load(tmp_path / "bm25")
    scores, coverage = lex.score(tokenize("公务接待费"))
    best = int(np.argmax(scores))
    assert scores[best] > 0 and coverage[best] == pytest.approx(1.0)
    assert "公务接待费支出" in chunks[best].text
    none, cov = lex.score(tokenize("量子引力"))
    assert not none.any() and not cov.any()


def test_bm25_files_are_not_pickles(corpus_chunks, tmp_path) -> None:  # noqa: ANN001
    LexicalIndex.build([tokenize(c.text) for c in corpus_chunks[ZHAOHUA]]).save(tmp_path)
    for f in tmp_path.iterdir():
        assert f.suffix in (".npy", ".json"), f
        if f.suffix == ".npy":
            np.load(f, allow_pickle=False)


# --------------------------------------------------------------------------- dense + fusion units


def test_embedding_cache_dedupes_and_round_trips(tmp_path) -> None:  # noqa: ANN001
    enc = FakeEncoder()
    cache = EmbeddingCache()
    assert cache.fill(["甲乙丙", "甲乙丙", "丁戊"], enc.encode_passages) == 2
    assert cache.fill(["甲乙丙", "己庚"], enc.encode_passages) == 1
    cache.save(tmp_path)
    again = EmbeddingCache.load(tmp_path)
    assert again.keys == cache.keys and np.array_equal(again.vectors, cache.vectors)
    assert text_key("丁戊") in again
    assert again.subset(["己庚"]).keys == [text_key("己庚")]


def test_dense_index_exact_and_hnsw(tmp_path) -> None:  # noqa: ANN001
    enc = FakeEncoder()
    texts = [f"第{i}段 公务接待费{i}万元" for i in range(40)]
    vecs = enc.encode_passages(texts)
    for above, approximate in ((100, False), (10, True)):
        idx = DenseIndex.build(vecs, approximate_above=above)
        assert idx.approximate is approximate
        idx.save(tmp_path / "d.faiss")
        idx = DenseIndex.load(tmp_path / "d.faiss")
        ids, sims = idx.search(vecs[7], 3)
        assert ids[0] == 7 and sims[0] == pytest.approx(1.0, abs=1e-4)
        ids, _ = idx.search(vecs[7], 3, allowed=np.array([1, 2, 3]))
        assert set(ids) <= {1, 2, 3}
        assert idx.scores_for(vecs[7], np.array([7]))[0] == pytest.approx(1.0, abs=1e-4)


def test_rrf_filters_and_definitions() -> None:
    fused = reciprocal_rank_fusion([([1, 2, 3], 1.0), ([3, 1], 1.0)], k=60)
    assert max(fused, key=fused.get) == 1 and fused[3] > fused[2]
    chunks = [
        Chunk(doc="a", chunk_id=0, text="x", line_start=1, line_end=1, department="甲", year=2021, kind="决算"),
        Chunk(doc="b", chunk_id=0, text="x", line_start=1, line_end=1, department="乙", year=2020, kind="预算"),
        Chunk(doc="c", chunk_id=0, text="x", line_start=1, line_end=1),
    ]
    assert filter_mask(chunks) is None
    assert filter_mask(chunks, departments=["甲"]).tolist() == [True, False, False]
    assert filter_mask(chunks, year=2020, kind="预算").tolist() == [False, True, False]
    assert definition_term("什么是“三公”经费？") == "三公经费"
    assert definition_term("机关运行经费是什么") == "机关运行经费"
    assert definition_term("峨山县医保局2021年三公经费是多少") is None
    assert defines("15.“三公”经费：指部门用财政拨款安排的…", "", "三公经费")
    assert not defines("2021年“三公”经费支出0.45万元", "第二部分", "三公经费")


# --------------------------------------------------------------------------- build / open (fake model)


@pytest.fixture()
def small_corpus(tmp_path) -> Path:  # noqa: ANN001
    d = tmp_path / "corpus"
    d.mkdir()
    for name in (ZHAOHUA, RENHE, "004_a15be56197084065.txt"):
        shutil.copy(CORPUS / name, d / name)
    return d


def test_incremental_build_reembeds_only_changed_doc(small_corpus, tmp_path) -> None:  # noqa: ANN001
    settings = _settings(tmp_path)
    index_dir = tmp_path / "index"
    enc = FakeEncoder()
    first = RetrievalIndex.build(index_dir, _docs_from(small_corpus), settings, progress=False, encoder=enc)
    assert isinstance(first, BuildStats)
    assert first.docs == 3 and first.docs_changed == 3 and first.embedded
    assert 0 < first.chunks_embedded <= first.chunks
    assert enc.passages_encoded == first.chunks_embedded

    again = RetrievalIndex.build(index_dir, _docs_from(small_corpus), settings, progress=False, encoder=enc)
    assert again.up_to_date and again.chunks_embedded == 0

    # touch one document: append a paragraph
    target = small_corpus / ZHAOHUA
    target.write_text(target.read_text(encoding="utf-8") + "\n第六部分 补充说明\n本局设立医保政策宣传长廊和信息公开栏。\n", encoding="utf-8")
    docs = _docs_from(small_corpus)
    own = len(chunk_document(*next((d, r) for d, r in docs if d.doc == ZHAOHUA), 400, 60))
    before = enc.passages_encoded
    third = RetrievalIndex.build(index_dir, docs, settings, progress=False, encoder=enc)
    assert third.docs_changed == 1 and not third.up_to_date
    assert 0 < third.chunks_embedded <= own
    assert enc.passages_encoded - before == third.chunks_embedded
    manifest = json.loads((index_dir / SUBDIR / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["docs"][ZHAOHUA]["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()
    assert manifest["model"] == "fake-bigram" and manifest["dim"] == 64
    # swapped in atomically: no temp or old directories left behind
    assert sorted(p.name for p in index_dir.iterdir()) == [SUBDIR]
    for f in (index_dir / SUBDIR).rglob("*"):
        assert f.is_dir() or f.suffix in (".json", ".jsonl", ".npy", ".faiss"), f

    idx = RetrievalIndex.open(index_dir, settings, encoder=enc)
    hits = idx.search("医保政策宣传长廊")  # the new passage is searchable (the fake model is noisy)
    new = [h for h in hits if h.chunk.doc == ZHAOHUA and "宣传长廊" in h.chunk.text]
    assert new and new[0].dense_score is not None and new[0].coverage == pytest.approx(1.0)


def test_settings_change_triggers_full_rebuild(small_corpus, tmp_path) -> None:  # noqa: ANN001
    settings = _settings(tmp_path)
    index_dir = tmp_path / "index"
    docs = _docs_from(small_corpus)
    RetrievalIndex.build(index_dir, docs, settings, progress=False, encoder=FakeEncoder())
    other = FakeEncoder(name="another-model")
    stats = RetrievalIndex.build(index_dir, docs, settings, progress=False, encoder=other)
    assert stats.full_rebuild_reason and "another-model" in stats.full_rebuild_reason
    assert stats.chunks_embedded == other.passages_encoded > 0
    settings.chunking.size = 300
    stats = RetrievalIndex.build(index_dir, docs, settings, progress=False, encoder=other)
    assert stats.full_rebuild_reason and "chunking" in stats.full_rebuild_reason


def test_bm25_only_index_and_filters(small_corpus, tmp_path) -> None:  # noqa: ANN001
    settings = _settings(tmp_path)
    index_dir = tmp_path / "index"
    stats = RetrievalIndex.build(index_dir, _docs_from(small_corpus), settings, embed=False, progress=False)
    assert not stats.embedded and stats.chunks_embedded == 0
    assert not (index_dir / SUBDIR / "dense.faiss").exists()
    idx = RetrievalIndex.open(index_dir, settings)
    assert not idx.has_dense
    hits = idx.search("公务接待费")
    assert hits and all(h.dense_score is None and h.bm25_score > 0 for h in hits)
    assert any("公务接待费" in s for s in hits[0].highlights)
    renhe = idx.search("公务接待费", departments=["攀枝花市仁和区医疗保障局"], top_k=3)
    assert renhe and {h.chunk.doc for h in renhe} == {RENHE}
    assert idx.search("公务接待费", year=2019) == []
    assert idx.search("量子引力的弦论解释") == []


def test_hnsw_above_threshold(small_corpus, tmp_path) -> None:  # noqa: ANN001
    settings = _settings(tmp_path, approximate_above=50)
    index_dir = tmp_path / "index"
    RetrievalIndex.build(index_dir, _docs_from(small_corpus), settings, progress=False, encoder=FakeEncoder())
    idx = RetrievalIndex.open(index_dir, settings, encoder=FakeEncoder())
    assert idx.dense is not None and idx.dense.approximate
    assert idx.search("公务接待费", departments=["广元市昭化区医疗保障局"])[0].chunk.doc == ZHAOHUA


# --------------------------------------------------------------------------- real model


@pytest.fixture(scope="session")
def real_index(corpus_docs, request) -> RetrievalIndex:  # noqa: ANN001
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = Settings(base_dir=str(ROOT))
    # persistent across runs (incremental): only the first run embeds the corpus
    index_dir = Path(request.config.cache.mkdir("retrieval-index"))
    RetrievalIndex.build(index_dir, list(corpus_docs.values()), settings, progress=False)
    idx = RetrievalIndex.open(index_dir, settings)
    assert idx.has_dense
    return idx


@pytest.mark.model
def test_real_what_is_operating_expenses(real_index) -> None:  # noqa: ANN001
    hits = real_index.search("什么是机关运行经费")
    assert any(
        h.chunk.doc == ZHAOHUA and "名词解释" in h.chunk.section and "购买货物和服务" in h.chunk.text for h in hits
    ), [(h.chunk.doc, h.chunk.section) for h in hits]


@pytest.mark.model
def test_real_what_is_three_public_expenses(real_index) -> None:  # noqa: ANN001
    hits = real_index.search("什么是“三公”经费")
    assert hits
    for word in ("因公出国", "公务用车", "公务接待费"):
        assert word in hits[0].chunk.text
        assert all(word in h.chunk.text for h in hits[:3])


@pytest.mark.model
def test_real_department_duties(real_index) -> None:  # noqa: ANN001
    hits = real_index.search("区社工部的主要职能是什么", departments=[SHEGONG_DEPT])
    assert hits and all(h.chunk.department == SHEGONG_DEPT for h in hits)
    assert any("人民信访" in h.chunk.text for h in hits[:3])


@pytest.mark.model
def test_real_junk_query_returns_nothing(real_index) -> None:  # noqa: ANN001
    for junk in ("量子引力的弦论解释", "今天天气怎么样", "红烧肉的做法"):
        assert real_index.search(junk) == [], junk


def test_build_is_deterministic(small_corpus, tmp_path) -> None:  # noqa: ANN001
    settings = _settings(tmp_path)
    docs = _docs_from(small_corpus)
    a, b = tmp_path / "a", tmp_path / "b"
    RetrievalIndex.build(a, docs, settings, progress=False, encoder=FakeEncoder())
    RetrievalIndex.build(b, docs, settings, progress=False, encoder=FakeEncoder())
    files = sorted(p.relative_to(a) for p in (a / SUBDIR).rglob("*") if p.is_file())
    assert files
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
