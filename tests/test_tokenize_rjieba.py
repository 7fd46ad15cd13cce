"""rjieba (jieba-rs) segments the corpus exactly as jieba does: every line, every indexed chunk text."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.retrieve import tokenize as T

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@pytest.fixture(scope="module")
def corpus_texts() -> list[str]:
    from assistant.ingest.loaders import load_document
    from assistant.ingest.metadata import detect_metadata
    from assistant.retrieve.chunk_text import embed_text
    from assistant.retrieve.chunking import chunk_document_with_context
    from assistant.retrieve.index_build import line_units

    texts: list[str] = []
    for p in sorted(CORPUS.iterdir()):
        doc = load_document(p)
        texts += [ln.text for ln in doc.lines] + [ln.raw for ln in doc.lines]
        pairs = chunk_document_with_context(doc, detect_metadata(doc), 400, 60)
        chunks, contexts = [c for c, _, _ in pairs], [x for _, x, _ in pairs]
        texts += [embed_text(c, x) for c, x in zip(chunks, contexts, strict=True)]
        texts += line_units(chunks, contexts)[0]  # the line-level BM25 units
    return list(dict.fromkeys(texts))


def test_rjieba_tokens_equal_jieba_on_every_corpus_text(corpus_texts: list[str]) -> None:
    rust = T._get_tokenizer()  # the process's segmenter, as the index and questions use it
    ref = T._add_domain_terms(T._python_jieba())
    T._add_domain_terms(T.RustJieba())  # adding the terms again (a second instance) changes nothing
    assert len(corpus_texts) > 5000
    differ = [
        t
        for t in corpus_texts
        if rust.cut_for_search(T.fold(t)) != list(ref.cut_for_search(T.fold(t), HMM=True))
    ]
    assert differ == []


def test_runs_of_digits_are_cut_as_jieba_cuts_them() -> None:
    rust = T._get_tokenizer()
    assert rust.cut_for_search("843.11843.11833.11") == ["843.11843", ".", "11833.11"]
    assert rust.cut_for_search("2021年三公经费5.6%") == list(
        T._add_domain_terms(T._python_jieba()).cut_for_search("2021年三公经费5.6%", HMM=True)
    )


def test_the_process_segmenter_is_rjieba() -> None:
    assert isinstance(T._get_tokenizer(), T.RustJieba)


def _whole_text_tokens(tk: object, text: str) -> list[str]:
    """The tokens of ``text`` segmented in one call (what tokenize gave before it cut texts into pieces)."""
    folded = T.fold(text)
    if not folded.strip():
        return []
    return [x for tok in tk.cut_for_search(folded, HMM=True) for x in T._kept(tok)]  # type: ignore[attr-defined]


def test_tokens_by_piece_equal_the_whole_text_segmented_on_every_corpus_text(corpus_texts: list[str]) -> None:
    # tokenize segments each piece between punctuation / whitespace once and concatenates: the same
    # tokens as segmenting the whole text, with rjieba and with jieba (the fallback)
    rust = T._get_tokenizer()
    ref = T._add_domain_terms(T._python_jieba())
    assert [t for t in corpus_texts if T.tokenize(t) != _whole_text_tokens(rust, t)] == []
    by_piece = [
        [x for p in T._BOUNDARY.split(T.fold(t)) if p for tok in ref.cut_for_search(p) for x in T._kept(tok)]
        for t in corpus_texts
    ]
    assert [
        t for t, toks in zip(corpus_texts, by_piece, strict=True) if toks != _whole_text_tokens(ref, t)
    ] == []


def test_a_chunk_reuses_the_folding_and_segmentation_of_its_lines() -> None:
    # a chunk's sentences and rows are segments of their own: once its line units are tokenised,
    # nothing of the chunk is folded or segmented again, but its first segment (section and context)
    ctx = "一般公共预算财政拨款基本支出决算表 | 科目名称 人员经费 公用经费"
    rows = ["合计 24,606,775.35 22,473,997.81", "（一）基本支出 5,406.00"]
    prose = [
        "一、部门主要职能：负责全县医疗保障工作。二、机构设置情况。",
        "三、2021年三公经费支出5,406.00元。",
    ]
    T._segment_tokens.cache_clear()
    T._piece_tokens.cache_clear()
    for unit in [*(f"{ctx} | {r}" for r in rows), *prose]:
        T.tokenize(unit)
    folded = T._segment_tokens.cache_info().misses
    segmented = T._piece_tokens.cache_info().misses
    T.tokenize("\n".join(prose))
    assert (T._segment_tokens.cache_info().misses, T._piece_tokens.cache_info().misses) == (folded, segmented)
    chunk = "\n".join(["第三部分 决算表 > 基本支出决算表", ctx.replace(" | ", "\n"), *rows])
    T.tokenize(chunk)
    assert T._segment_tokens.cache_info().misses == folded + 1  # "…决算表\n…公用经费\n合计 …"
    assert T.tokenize(chunk) == _whole_text_tokens(T._get_tokenizer(), chunk)


def test_fold_drops_bookmarks_then_quotes_as_before(corpus_texts: list[str]) -> None:
    import re
    import unicodedata

    quotes = str.maketrans("", "", "“”‘’\"'「」『』")

    def before(text: str) -> str:  # fold as it was written with str.translate
        text = re.sub(r"\[bookmark:[^\]]*\]", "", text).translate(quotes)
        text = T._THOUSANDS.sub("", unicodedata.normalize("NFKC", text).lower())
        return T._SPACE_BETWEEN_CJK.sub("", text)

    samples = [*corpus_texts, "[bookmark: _Toc1]“三公”经费", "[bookmark:a'b]‘x’"]
    assert [t for t in samples if T.fold(t) != before(t)] == []
    assert T.fold("[bookmark: _Toc1]“三公”经费") == "三公经费"


def test_segments_never_change_tokens_where_folding_joins_across_them() -> None:
    # fold joins a line break between CJK characters (also once a quote is dropped), removes a
    # thousands separator, drops bookmarks: the segments must not split those
    rust = T._get_tokenizer()
    tricky = [
        '公用经费"\n合计',
        "公用经费”\n合计",
        "一般公共\n预算",
        "12,\n345元",
        "１２，３４５\n６７８元",
        "合计 1,234\n,567元",
        "（一）\n基本支出",
        "〸\n二",
        "表 | \n二",
        "[bookmark: a。\nb]三公经费。\n经费",
        "三公经费！\n\n  公务接待费；公务用车|运行维护费?\n执行率",
    ]
    assert [t for t in tricky if T.tokenize(t) != _whole_text_tokens(rust, t)] == []
