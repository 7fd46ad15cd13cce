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
    from assistant.retrieve.chunking import chunk_document_with_context
    from assistant.retrieve.index_build import embed_text, line_units

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
