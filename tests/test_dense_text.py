"""What a chunk's vector is computed from (index_build.dense_text, `[embedding] table_text`)."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.config import Settings
from assistant.ingest.loaders import load_document
from assistant.ingest.metadata import detect_metadata
from assistant.retrieve.chunk_text import dense_text, embed_text
from assistant.retrieve.chunking import chunk_document_with_context
from tests.conftest import CORPUS


def _pairs() -> list[tuple]:
    doc = load_document(CORPUS / "000_db59d6f0fba66678.txt")
    s = Settings()
    return chunk_document_with_context(doc, detect_metadata(doc), s.chunking.size, s.chunking.overlap)


def test_table_labels_drop_number_cells_only() -> None:
    pairs = _pairs()
    table = next(c for c, x, _ in pairs if x and "住房保障支出" in c.text)
    ctx = next(x for c, x, _ in pairs if c is table)
    assert dense_text(table, ctx, "full") == embed_text(table, ctx)
    title = dense_text(table, ctx)  # the default: the table's title and header, one text per table
    assert title == f"{table.section}\n{ctx}" and "住房保障支出" not in title
    same_table = [c for c, x, _ in pairs if x == ctx and c.section == table.section]
    assert len(same_table) > 1 and {dense_text(c, ctx) for c in same_table} == {title}
    labels = dense_text(table, ctx, "labels")
    assert "309,100.40" in table.text and "309,100.40" not in labels
    assert "十九、住房保障支出" in labels.split("\n")  # "19 十九、住房保障支出 49 309,100.40"
    assert "公开01表" in labels  # digits inside a word stay
    prose = next(c for c, x, _ in pairs if not x)
    for rule in ("title", "labels"):
        assert dense_text(prose, "", rule) == embed_text(prose, "")  # prose is never changed


def test_changing_the_table_text_rule_rebuilds_the_rows(tmp_path: Path) -> None:
    """The rows of an index hold the keys of the texts embedded: switching the rule re-chunks every
    report and embeds only the table chunks' new texts (the cache is by text: prose keeps its
    vectors; no stale key), and switching back is the first index again, byte for byte."""
    import shutil

    from assistant.retrieve.index import RetrievalIndex
    from assistant.retrieve.index_files import SUBDIR, TEXT_KEYS
    from tests.test_retrieve import FakeEncoder

    (tmp_path / "corpus").mkdir()
    shutil.copy(CORPUS / "000_db59d6f0fba66678.txt", tmp_path / "corpus")
    doc = load_document(tmp_path / "corpus" / "000_db59d6f0fba66678.txt")
    docs = [(doc, detect_metadata(doc))]

    def build(rule: str) -> tuple[list[str], int, dict[str, bytes]]:
        s = Settings(base_dir=str(tmp_path))
        s.embedding.table_text = rule  # type: ignore[assignment]
        enc = FakeEncoder()
        RetrievalIndex.build(tmp_path / "index", docs, s, encoder=enc)
        d = tmp_path / "index" / SUBDIR
        keys = json.loads((d / TEXT_KEYS).read_text(encoding="utf-8"))
        return (
            keys,
            enc.passages_encoded,
            {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()},
        )

    full, n_full, files = build("full")
    labels, n_labels, _ = build("labels")
    tables = {i for i, (_, x, _) in enumerate(_pairs()) if x}
    assert n_full == len(set(full)) and n_labels == len(set(labels) - set(full))
    changed = {i for i, (a, b) in enumerate(zip(full, labels, strict=True)) if a != b}
    assert changed <= tables and len(changed) > len(tables) / 2  # table chunks with a number cell
    again, _, files_again = build("full")
    assert again == full and files_again == files
