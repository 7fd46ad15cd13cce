"""The embedding model as ONNX: exported once next to the prepared model, run without torch.

``assistant model prepare`` exports the transformer of the sentence-transformers model (with its mean
pooling and L2 normalisation) to ``<model>/onnx/model.onnx``, fused into onnxruntime's transformer
kernels (Attention, SkipLayerNormalization, BiasGelu), a dynamically quantised int8 copy of that
(per-channel weights) to ``model_int8.onnx``, and the word-embedding table to ``word_embeddings.npy``
(float16, the dtype the converted weights are stored in, so the lookup is exact); onnx_export.py does it. At run time questions and passages are
tokenised with the ``tokenizers`` library from the same ``tokenizer.json``, their word embeddings
are looked up in the memory-mapped table (only the rows used are read: the 250k × 384 table is most
of the model and would otherwise be most of a cold process's memory) and the graph runs in
onnxruntime. Nothing here imports torch, transformers or sentence-transformers.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.atomic_files import remove_stale

if TYPE_CHECKING:  # only for type hints: importing it pulls in torch
    pass

__all__ = ["EXPORT_VERSION", "ONNX_SUBDIR", "PRECISIONS", "OnnxEncoder", "is_exported", "onnx_dir"]

ONNX_SUBDIR = "onnx"
# Bump when the exported files change in any way, so stale exports are redone.
EXPORT_VERSION = 3
MANIFEST = "manifest.json"
WORD_EMBEDDINGS = "word_embeddings.npy"
# the tokenizer's vocabulary as arrays, for FewTextsTokenizer
VOCAB_SPEC = "tokenizer_spec.json"
VOCAB_PIECES = "vocab_pieces.npy"
VOCAB_SCORES = "vocab_scores.npy"
VOCAB_SORTED = "vocab_sorted.npy"  # the pieces in sorted order (for binary search) …
VOCAB_SORTED_IDS = "vocab_sorted_ids.npy"  # … and their ids
# the optimised graph saved by the first session (_optimized_session) and its weights
OPTIMIZED_GRAPH = "model.onnx"
OPTIMIZED_WEIGHTS = "weights.bin"
# up to this many texts an encode call tokenises with FewTextsTokenizer (questions), more with the full one
FEW_TEXTS = 4
GRAPHS = {"fp32": "model.onnx", "int8": "model_int8.onnx"}
EXPORT_FILES = (
    WORD_EMBEDDINGS,
    VOCAB_SPEC,
    VOCAB_PIECES,
    VOCAB_SCORES,
    VOCAB_SORTED,
    VOCAB_SORTED_IDS,
    *GRAPHS.values(),
)
PRECISIONS = tuple(GRAPHS)
# fp32 ONNX must reproduce sentence-transformers (same weights, same arithmetic up to kernel order).
MIN_COSINE_FP32 = 0.9999
# int8 moves vectors measurably (per-channel weights: lowest cosine 0.994 over the corpus's 448
# chunks; bench/retrieval.py measures what that costs in recall). Per-tensor weights gave 0.98.
MIN_COSINE_INT8 = 0.99
OPSET = 17
PAD_ID = 1  # XLM-R's <pad>; padded positions are masked out of attention and pooling
log = logging.getLogger(__name__)


def onnx_dir(model_dir: Path) -> Path:
    """Where the ONNX export of the model in ``model_dir`` lives."""
    return Path(model_dir) / ONNX_SUBDIR


def _source_id(model_dir: Path) -> Any:
    """What identifies the exported weights: the prepared model's own manifest (its source file)."""
    try:
        man = json.loads((Path(model_dir) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {"converter_version": man.get("converter_version"), "source": man.get("source")}


def is_exported(model_dir: Path) -> bool:
    """True if ``model_dir/onnx`` holds a complete, verified export of the model in ``model_dir``."""
    d = onnx_dir(model_dir)
    try:
        man = json.loads((d / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if man.get("export_version") != EXPORT_VERSION or man.get("source") != _source_id(model_dir):
        return False
    if not man.get("verification", {}).get("passed"):
        return False
    return all((d / f).is_file() for f in EXPORT_FILES) and (Path(model_dir) / "tokenizer.json").is_file()


# --------------------------------------------------------------------------- run time


class FewTextsTokenizer:
    """``tokenizer.json``'s ids for a few short texts (questions), without building the whole model.

    `tokenizers` builds a trie of all 250k Unigram pieces when it loads the file: 0.6-1.7 s and ~265 MB,
    more than the rest of a cold text question together. A Unigram segmentation only ever uses pieces
    that are substrings of the normalised, pre-tokenised text, so a tokenizer made of the same file
    with only those pieces (and the special tokens and the lowest-scoring piece, which sets the unknown
    penalty), numbered back to the full vocabulary, gives the same ids. The normaliser, pre-tokeniser,
    post-processor and added tokens are the file's own. The vocabulary is read from arrays the export
    wrote (``onnx_export.export_vocabulary``), memory-mapped: a lookup touches a few pages. tests/test_onnx_model.py
    compares the ids with the full tokenizer's.
    """

    def __init__(self, directory: Path, max_length: int) -> None:
        d = Path(directory)
        self._spec = json.loads((d / VOCAB_SPEC).read_text(encoding="utf-8"))
        self._pieces = np.load(d / VOCAB_PIECES, mmap_mode="r", allow_pickle=False)  # by id
        self._scores = np.load(d / VOCAB_SCORES, mmap_mode="r", allow_pickle=False)
        self._sorted = np.load(d / VOCAB_SORTED, mmap_mode="r", allow_pickle=False)
        self._sorted_ids = np.load(d / VOCAB_SORTED_IDS, mmap_mode="r", allow_pickle=False)
        self._longest = int(self._spec["longest_piece"])
        self._unk = int(self._spec["model"]["unk_id"])
        self._always = {
            self._unk,
            int(self._spec["lowest_score_id"]),
            *(int(t["id"]) for t in self._spec.get("added_tokens", [])),
        }
        self._added = [t["content"] for t in self._spec.get("added_tokens", [])]
        self.max_length = max_length
        self._front = self._tokenizer(sorted(self._always))  # normaliser + pre-tokeniser

    def _tokenizer(self, ids: list[int]) -> Any:
        from tokenizers import Tokenizer

        new = {old: i for i, old in enumerate(ids)}
        spec = {k: v for k, v in self._spec.items() if k not in ("longest_piece", "lowest_score_id")}
        vocab = [[str(self._pieces[i]), float(self._scores[i])] for i in ids]
        spec["model"] = dict(self._spec["model"], vocab=vocab, unk_id=new[self._unk])
        spec["added_tokens"] = [dict(t, id=new[int(t["id"])]) for t in self._spec.get("added_tokens", [])]
        spec["post_processor"] = _renumber(self._spec.get("post_processor"), new)
        tok = Tokenizer.from_str(json.dumps(spec))
        tok.no_padding()
        tok.enable_truncation(self.max_length)
        return tok

    def _candidates(self, text: str) -> set[int]:
        """Ids of every vocabulary piece that is a substring of a pre-token of ``text`` (also of the
        parts between added tokens, which are pre-tokenised apart)."""
        parts = [text]
        for token in self._added:
            parts = [q for p in parts for q in p.split(token)]
        subs: set[str] = set()
        for part in {text, *parts}:
            norm = self._front.normalizer.normalize_str(part)
            for word, _ in self._front.pre_tokenizer.pre_tokenize_str(norm):
                for i in range(len(word)):
                    subs.update(word[i:j] for j in range(i + 1, min(len(word), i + self._longest) + 1))
        if not subs:
            return set()
        keys = np.asarray(sorted(subs))
        pos = np.clip(np.searchsorted(self._sorted, keys), 0, len(self._sorted) - 1)
        hit = self._sorted[pos] == keys
        return {int(i) for i in self._sorted_ids[pos[hit]]}

    def ids(self, text: str) -> list[int]:
        """The ids the full tokenizer gives ``text`` (special tokens added, truncated)."""
        order = sorted(self._always | self._candidates(text))
        return [order[i] for i in self._tokenizer(order).encode(text).ids]


def _optimized_session(ort: Any, graph: Path, options: Callable[[], Any]) -> Any:
    """An onnxruntime session of ``graph`` (``options()``: fresh SessionOptions) whose graph is
    optimised once per machine.

    A cold text question paid ~0.25 s of CPU and ~250 MB for the session: parsing the 86 MB graph,
    optimising it, copying its weights. The first session saves its optimised graph with the
    weights in a separate file, which later sessions memory-map, with optimisations off (~0.1 s,
    ~190 MB; the same vectors, bit for bit). Saved in a directory next to ``graph`` named by the
    onnxruntime version and the graph's size and mtime (a new export or runtime makes a new one),
    written under a temporary name and renamed into place, so a reader never sees half of it.
    Optimised at the extended level, not "all": for this model (transformer ops only) the same
    graph, without the layout changes "all" may make for one CPU. A directory that cannot be
    written means a session as before, without the cache.
    """
    st = graph.stat()
    cached = graph.with_name(f"{graph.stem}.optimized-{ort.__version__}-{st.st_size}-{st.st_mtime_ns}")
    providers = ["CPUExecutionProvider"]
    if (cached / OPTIMIZED_GRAPH).is_file():
        opts = options()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(cached / OPTIMIZED_GRAPH), opts, providers=providers)
        except Exception:  # noqa: BLE001 - damaged or foreign: optimise the graph again
            log.warning("cannot load %s: optimising %s again", cached, graph.name)
            shutil.rmtree(cached, ignore_errors=True)
    tmp = graph.with_name(f".{cached.name}.{os.getpid()}.tmp")
    opts = options()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    opts.optimized_model_filepath = str(tmp / OPTIMIZED_GRAPH)  # .onnx: saved as ONNX, not ORT format
    opts.add_session_config_entry(
        "session.optimized_model_external_initializers_file_name", OPTIMIZED_WEIGHTS
    )
    opts.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    try:
        tmp.mkdir()
        session = ort.InferenceSession(str(graph), opts, providers=providers)
    except Exception:  # noqa: BLE001 - unwritable or full (a bad graph fails again just below)
        shutil.rmtree(tmp, ignore_errors=True)
        return ort.InferenceSession(str(graph), options(), providers=providers)
    try:
        tmp.rename(cached)
    except OSError:  # another process put its copy there first: keep that one
        shutil.rmtree(tmp, ignore_errors=True)
        return session
    for old in graph.parent.glob(f"{graph.stem}.optimized-*"):
        if old != cached:  # an earlier runtime's or export's
            shutil.rmtree(old, ignore_errors=True)
    remove_stale(graph.parent, f".{graph.stem}.optimized-*.tmp")  # of processes ended while saving
    return session


def _renumber(node: Any, new: dict[int, int]) -> Any:
    """A post-processor spec with its special tokens' ids renumbered (TemplateProcessing's ``ids``)."""
    if isinstance(node, dict):
        return {k: ([new[int(i)] for i in v] if k == "ids" else _renumber(v, new)) for k, v in node.items()}
    if isinstance(node, list):
        return [_renumber(v, new) for v in node]
    return node


class OnnxEncoder:
    """Sentence embeddings (mean-pooled, L2-normalised, float32) from an export, loaded on first use."""

    def __init__(
        self, export_dir: Path, tokenizer_json: Path, precision: str = "fp32", threads: int | None = None
    ) -> None:
        if precision not in GRAPHS:
            raise ValueError(f"precision must be one of {', '.join(GRAPHS)}, not {precision!r}")
        self.export_dir = Path(export_dir)
        self.tokenizer_json = Path(tokenizer_json)
        self.precision = precision
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._few: FewTextsTokenizer | None = None
        self._table: np.ndarray | None = None
        self._lock = threading.Lock()
        man = json.loads((self.export_dir / MANIFEST).read_text(encoding="utf-8"))
        self.max_length = int(man["max_seq_length"])
        self.dimension = int(man["dimension"])
        self.prompts: dict[str, str] = dict(man.get("prompts") or {})

    @classmethod
    def for_model(cls, model_dir: Path, precision: str = "fp32", threads: int | None = None) -> OnnxEncoder:
        """The encoder of the export of the model in ``model_dir`` (see is_exported)."""
        return cls(onnx_dir(model_dir), Path(model_dir) / "tokenizer.json", precision, threads)

    def _load(self) -> None:
        """The graph, the embedding table and the few-texts tokenizer (what a question needs)."""
        with self._lock:
            if self._session is not None:
                return
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # avoid fork warnings in the REPL
            import onnxruntime as ort

            def options() -> Any:  # noqa: ANN401
                opts = ort.SessionOptions()
                opts.log_severity_level = 3
                # no spin-waiting between kernels: on a shared 2-core machine it burns the other jobs'
                # CPU (measured: 10-20% more CPU time per passage, no faster)
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                if self.threads:
                    opts.intra_op_num_threads = self.threads
                return opts

            d = self.export_dir
            self._table = np.load(d / WORD_EMBEDDINGS, mmap_mode="r", allow_pickle=False)
            self._few = FewTextsTokenizer(d, self.max_length)
            self._session = _optimized_session(ort, d / GRAPHS[self.precision], options)

    def _full_tokenizer(self) -> Any:
        """The whole tokenizer.json tokenizer, for many texts (passages): loaded on first need."""
        with self._lock:
            if self._tokenizer is None:
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(self.tokenizer_json))
                tok.no_padding()
                tok.enable_truncation(self.max_length)  # counts the <s> </s> the post-processor adds
                self._tokenizer = tok
        return self._tokenizer

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """The tokenizer's ids of ``texts`` (special tokens added, truncated to max_length)."""
        self._load()
        if len(texts) <= FEW_TEXTS and self._tokenizer is None:
            assert self._few is not None  # set by _load()
            return [self._few.ids(t) for t in texts]
        return [e.ids for e in self._full_tokenizer().encode_batch(list(texts), add_special_tokens=True)]

    def warm(self) -> None:
        """Load the graph, the table and the question tokenizer now (the REPL does it in the background)."""
        self._load()

    def encode(self, texts: Sequence[str], prompt: str = "", batch_size: int = 32) -> np.ndarray:
        """Embeddings of ``prompt + text`` for each text: float32 [n, dim], L2-normalised.

        Texts are batched by length (as sentence-transformers does), so a batch pads little; each
        distinct text is encoded once.
        """
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        ids = [np.asarray(x, dtype=np.int64) for x in self.token_ids([prompt + t for t in unique])]
        assert self._table is not None
        order = sorted(range(len(ids)), key=lambda i: (-len(ids[i]), i))
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        for lo in range(0, len(order), max(1, batch_size)):
            part = order[lo : lo + batch_size]
            width = max(len(ids[i]) for i in part)
            batch = np.full((len(part), width), PAD_ID, dtype=np.int64)
            mask = np.zeros((len(part), width), dtype=np.int64)
            for row, i in enumerate(part):
                batch[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            embeds = np.asarray(self._table[batch], dtype=np.float32)
            out[part] = self._session.run(None, {"inputs_embeds": embeds, "attention_mask": mask})[0]
        where = {t: i for i, t in enumerate(unique)}
        return out[[where[t] for t in texts]] if len(unique) < len(texts) else out
