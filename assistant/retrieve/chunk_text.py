"""The texts a chunk is indexed under: its BM25 text (embed_text) and the text its vector is computed
from (dense_text)."""

from __future__ import annotations

import re

from assistant.models import Chunk

__all__ = ["TABLE_TEXT_BEFORE_RULE", "dense_text", "embed_text"]

# what the vectors of an index made before `[embedding] table_text` existed are of
TABLE_TEXT_BEFORE_RULE = "full"


def embed_text(chunk: Chunk, context: str = "") -> str:
    """The text a chunk is indexed under: section path, table context (title + column header of the
    table the chunk is part of) and passage — headings and headers carry the topic."""
    head = "\n".join(p for p in (chunk.section, context) if p)
    return f"{head}\n{chunk.text}" if head else chunk.text


# a cell that is only a number (amount, code, 行次, percentage): bounded by the line or spaces, so
# numbers inside words ("公开01表", "2024年") stay
_NUMBER_CELL = re.compile(r"(?<!\S)[-−+]?\d[\d,，]*(?:\.\d+)?%?(?!\S)")
_SPACES = re.compile(r"[ \t]{2,}")


def dense_text(chunk: Chunk, context: str, table_text: str = "title") -> str:
    """The text a chunk's vector is computed from. Prose: its indexed text (embed_text). A table chunk
    (one with a table context), by ``[embedding] table_text``: "title" — its section path and table
    context (title + column header) only, the same for every chunk of the table, so a table is
    embedded once; its rows are answered by the facts and found by BM25 (chunk and line level).
    "labels" — its text without the number cells. "full" — its indexed text.
    bench/RESULTS.md ("Embed less"): "title" embeds 44 % fewer texts per synthetic report and the
    answers to dev, dev2 and the held-back set are the same as with "full"; chunk recall@5 of table
    evidence is lower (the row is found by the line index instead)."""
    text = embed_text(chunk, context)
    if not context or table_text == "full":
        return text
    if table_text == "title":
        return "\n".join(p for p in (chunk.section, context) if p)
    # "labels"
    lines = (_SPACES.sub(" ", _NUMBER_CELL.sub("", line)).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
