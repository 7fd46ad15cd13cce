"""rjieba on the part of its dictionary that the texts cut so far use: a cold question's tokens
without building the 349k-word dictionary.

``import rjieba`` builds jieba-rs's prefix dictionary: ~0.12 s of CPU (holding the GIL) and ~35 MB
that a cold text question paid to cut the question and the sentences of a few passages. A cut only
looks up words that are substrings of the text it cuts, weighed by their frequency against the
dictionary's total (jieba-rs: the sum of its words' frequencies; add_word moves it by the change),
and its HMM model is built in. So an empty jieba-rs that holds the dictionary words inside every
text before it cuts it, with their frequencies, plus one word no text can contain (a private-use
character) carrying the rest of the total, cuts exactly as the full one, and suggests the same
frequencies for the domain terms. The dictionary is jieba's ``dict.txt`` — the one jieba-rs
embeds — kept as sorted arrays in the tokenizer's cache directory and memory-mapped. After
FEW_CHARS characters the full dictionary is built and the words added so far are added to it in
the same order: bulk tokenising (an index build) is faster there. tests/test_cold_start.py compares
the tokens with the full dictionary's on every corpus line.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from assistant.atomic_files import remove_stale
from assistant.retrieve.tokenize import RustJieba

__all__ = ["FewTextsJieba", "few_texts_jieba"]

# Characters cut before the full dictionary pays for itself (covering costs ~3 µs a character, the
# full dictionary ~0.12 s): a cold question cuts ~2-5k.
FEW_CHARS = 20_000
# The word that holds the rest of the total: a private-use character, never in a text jieba-rs looks up.
REST = "\ue000"


def few_texts_jieba(cache_dir: Path) -> FewTextsJieba | None:
    """The few-texts segmenter, or None when rjieba, jieba's dictionary or a writable cache is missing."""
    try:
        empty = _empty_rjieba()
        words, freqs, total = _dictionary(cache_dir)
    except (ImportError, OSError, ValueError, StopIteration):
        return None
    return FewTextsJieba(empty, words, freqs, total)


def _empty_rjieba() -> Any:  # noqa: ANN401
    """An empty jieba-rs, from rjieba's extension module loaded alone: ``import rjieba`` would run
    its package ``__init__``, which builds the full dictionary."""
    if "rjieba" in sys.modules:  # imported already (the full dictionary is built): its own class
        return sys.modules["rjieba"].Jieba.empty()
    spec = importlib.util.find_spec("rjieba")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("rjieba is not installed")
    so = next(Path(spec.submodule_search_locations[0]).glob("rjieba*.so"))
    loader = importlib.machinery.ExtensionFileLoader("rjieba.rjieba", str(so))
    module_spec = importlib.util.spec_from_file_location("rjieba.rjieba", str(so), loader=loader)
    if module_spec is None:
        raise ImportError(f"cannot load {so}")
    module = importlib.util.module_from_spec(module_spec)
    loader.exec_module(module)
    return module.Jieba.empty()


def _dictionary(cache_dir: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """jieba's dict.txt as (words sorted, their frequencies, the total), memory-mapped from the
    cache directory; written there on first use (named by the file's size and mtime)."""
    spec = importlib.util.find_spec("jieba")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("jieba is not installed")
    source = Path(spec.submodule_search_locations[0]) / "dict.txt"
    st = source.stat()
    base = Path(cache_dir) / f"dict-{st.st_size}-{st.st_mtime_ns}"
    words_path, freqs_path, meta_path = (base.with_suffix(s) for s in (".words.npy", ".freqs.npy", ".json"))
    if not meta_path.exists():
        freq: dict[str, int] = {}
        for line in source.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if parts:
                freq[parts[0]] = int(parts[1]) if len(parts) > 1 else 0  # a repeated word: the last one
        words = sorted(freq)
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        pid = os.getpid()
        for path, array in (
            (words_path, np.asarray(words)),
            (freqs_path, np.asarray([freq[w] for w in words], dtype=np.int64)),
        ):
            tmp = path.with_name(f".{path.name}.{pid}.tmp.npy")
            np.save(tmp, array, allow_pickle=False)
            os.replace(tmp, path)
        tmp = meta_path.with_name(f".{meta_path.name}.{pid}.tmp")
        tmp.write_text(json.dumps({"total": sum(freq.values()), "words": len(words)}), encoding="utf-8")
        os.replace(tmp, meta_path)  # last: the arrays are complete once it exists
        remove_stale(Path(cache_dir), ".dict-*.tmp*")  # of processes ended while writing
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    words_a = np.load(words_path, mmap_mode="r", allow_pickle=False)
    freqs_a = np.load(freqs_path, mmap_mode="r", allow_pickle=False)
    if len(words_a) != meta["words"] or len(freqs_a) != meta["words"]:
        raise ValueError(f"{base}: dictionary arrays do not match")
    return words_a, freqs_a, int(meta["total"])


class FewTextsJieba(RustJieba):
    """RustJieba (same tokens, same run cutting) on an empty jieba-rs filled as texts come."""

    def __init__(self, empty: Any, words: np.ndarray, freqs: np.ndarray, total: int) -> None:  # noqa: ANN401
        self._jieba = empty
        self._words = words
        self._freqs = freqs
        self._longest = int(words.dtype.itemsize // 4)  # numpy's unicode arrays: 4 bytes a character
        self._present: set[str] = set()  # the dictionary words and added words the instance holds
        self._rest = total  # the dictionary's total less the frequencies of its words held
        self._added: list[tuple[str, int]] = []  # add_word calls, replayed on the full dictionary
        self._chars = 0
        self._full: RustJieba | None = None
        self._lock = threading.Lock()  # jieba-rs' add_word needs the instance to itself
        self._jieba.add_word(REST, self._rest, None)

    def _cover(self, text: str) -> None:
        """Add the dictionary words inside ``text`` that the instance does not hold yet."""
        n, longest = len(text), self._longest
        subs = {text[i:j] for i in range(n) for j in range(i + 1, min(n, i + longest) + 1)} - self._present
        if not subs:
            return
        keys = np.asarray(sorted(subs))
        pos = np.minimum(np.searchsorted(self._words, keys), len(self._words) - 1)
        found = np.flatnonzero(self._words[pos] == keys)
        for k in found.tolist():
            word, freq = str(keys[k]), int(self._freqs[pos[k]])
            self._jieba.add_word(word, freq, None)
            self._present.add(word)
            self._rest -= freq
        if len(found):
            self._jieba.add_word(REST, self._rest, None)

    def suggest_freq(self, word: str) -> int:
        if self._full is not None:
            return self._full.suggest_freq(word)
        with self._lock:
            self._cover(word)
            return int(self._jieba.suggest_freq(word))

    def add_word(self, word: str, freq: int) -> None:
        if self._full is not None:
            self._full.add_word(word, freq)
            return
        with self._lock:
            self._cover(word)  # a dictionary word is held first: the total then moves as the full one's
            self._jieba.add_word(word, freq, None)
            self._present.add(word)
            self._added.append((word, freq))

    def cut_for_search(self, text: str, HMM: bool = True) -> list[str]:  # noqa: N803 - jieba's name
        if self._full is None:
            with self._lock:
                self._chars += len(text)
                if self._chars <= FEW_CHARS:
                    self._cover(text)
                    return super().cut_for_search(text, HMM)
                full = RustJieba()
                for word, freq in self._added:
                    full.add_word(word, freq)
                self._full = full
        return self._full.cut_for_search(text, HMM)
