"""The files of a retrieval index folder (index/retrieval/): their names, the manifest, and the row
files (.jsonl with an offsets array) read through mmap, one row at a time."""

from __future__ import annotations

import mmap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from assistant.atomic_files import read_json_object
from assistant.models import Chunk

FORMAT_VERSION = 4


SUBDIR = "retrieval"


MANIFEST = "manifest.json"


CHUNKS = "chunks.jsonl"


CONTEXTS = "contexts.jsonl"


SPANS = "spans.jsonl"


TEXT_KEYS = "text_keys.json"


BM25_DIR = "bm25"


LINES_DIR = "bm25_lines"


LINE_OWNER = "line_owner.npy"


FAISS_FILE = "dense.faiss"


def read_index_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest of the retrieval index in ``path`` (None: absent or unreadable)."""
    return read_json_object(path / MANIFEST)


def offsets_name(name: str) -> str:
    return name.rsplit(".", 1)[0] + ".offsets.npy"


class Lines:
    """A .jsonl file read through mmap with its offsets array: row i is bytes off[i]:off[i+1]
    (its trailing newline included). Opening costs nothing per row; a row is read when used."""

    def __init__(self, path: Path) -> None:
        offsets_path = path.with_name(offsets_name(path.name))
        self.offsets = np.load(offsets_path, allow_pickle=False).astype(np.int64)
        size = path.stat().st_size
        if self.offsets.ndim != 1 or not len(self.offsets) or int(self.offsets[-1]) != size:
            raise ValueError(f"{path.name} does not match its offsets")
        self._data: mmap.mmap | bytes = b""
        if size:
            with path.open("rb") as fh:  # the mapping outlives the descriptor (and a swap of the file)
                self._data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row(self, i: int) -> bytes:
        return self._data[int(self.offsets[i]) : int(self.offsets[i + 1])]

    def block(self, lo: int, hi: int) -> bytes:
        """Rows lo:hi as one byte string."""
        return self._data[int(self.offsets[lo]) : int(self.offsets[hi])]


def write_lines(path: Path, blocks: list[tuple[bytes, np.ndarray]]) -> None:
    """Write a .jsonl file from (bytes, row lengths) blocks, and its offsets array."""
    with path.open("wb") as fh:
        for data, _ in blocks:
            fh.write(data)
    lengths = np.concatenate([np.zeros(1, np.int64), *(np.asarray(n, np.int64) for _, n in blocks)])
    np.save(path.with_name(offsets_name(path.name)), np.cumsum(lengths), allow_pickle=False)


def row_block(values: list[bytes]) -> tuple[bytes, np.ndarray]:
    """One block from encoded rows (each ending with a newline)."""
    return b"".join(values), np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))


class ChunkList(Sequence[Chunk]):
    """The index's chunks, parsed from chunks.jsonl on first access (an index of 300k chunks opens
    in milliseconds, and a search parses only the chunks it returns)."""

    def __init__(self, lines: Lines | None) -> None:
        self._lines = lines
        self._parsed: dict[int, Chunk] = {}

    def __len__(self) -> int:
        return len(self._lines) if self._lines is not None else 0

    @overload
    def __getitem__(self, i: int) -> Chunk: ...
    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...
    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        found = self._parsed.get(i)
        if found is None:
            assert self._lines is not None
            found = Chunk.model_validate_json(self._lines.row(i))
            self._parsed[i] = found
        return found

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(len(self)))
