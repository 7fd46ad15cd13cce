"""What a chunk's vector is computed from (index_build.dense_text, `[embedding] table_text`)."""

from __future__ import annotations

from assistant.config import Settings
from assistant.ingest.loaders import load_document
from assistant.ingest.metadata import detect_metadata
from assistant.retrieve.chunking import chunk_document_with_context
from assistant.retrieve.dense import model_identity
from assistant.retrieve.index_build import dense_text, embed_text
from tests.conftest import CORPUS


def _pairs() -> list[tuple]:
    doc = load_document(CORPUS / "000_db59d6f0fba66678.txt")
    s = Settings()
    return chunk_document_with_context(doc, detect_metadata(doc), s.chunking.size, s.chunking.overlap)


def test_table_labels_drop_number_cells_only() -> None:
    pairs = _pairs()
    table = next(c for c, x, _ in pairs if x and "住房保障支出" in c.text)
    ctx = next(x for c, x, _ in pairs if c is table)
    assert dense_text(table, ctx) == embed_text(table, ctx)  # the default: the full text
    labels = dense_text(table, ctx, "labels")
    assert "309,100.40" in table.text and "309,100.40" not in labels
    assert "十九、住房保障支出" in labels.split("\n")  # "19 十九、住房保障支出 49 309,100.40"
    assert "公开01表" in labels  # digits inside a word stay
    prose = next(c for c, x, _ in pairs if not x)
    assert dense_text(prose, "", "labels") == embed_text(prose, "")  # prose is never changed


def test_table_text_rule_names_the_vectors() -> None:
    s = Settings()
    labels = s.model_copy(update={"embedding": s.embedding.model_copy(update={"table_text": "labels"})})
    assert model_identity(labels) == model_identity(s) + "+tables-labels"
