"""Exporting the embedding model to ONNX (build time, at ``assistant model prepare``): the graphs
onnx_model.OnnxEncoder runs, the word-embedding table and the tokenizer's vocabulary as arrays.
This is the only place that needs torch and sentence-transformers for ONNX."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.retrieve.onnx_model import (
    EXPORT_VERSION,
    GRAPHS,
    MANIFEST,
    MIN_COSINE_FP32,
    MIN_COSINE_INT8,
    ONNX_SUBDIR,
    OPSET,
    VOCAB_PIECES,
    VOCAB_SCORES,
    VOCAB_SORTED,
    VOCAB_SORTED_IDS,
    VOCAB_SPEC,
    WORD_EMBEDDINGS,
    OnnxEncoder,
    _source_id,
    onnx_dir,
)

if TYPE_CHECKING:  # only for type hints: importing it pulls in torch
    from sentence_transformers import SentenceTransformer

__all__ = ["export", "export_vocabulary"]


def export_vocabulary(tokenizer_json: Path, directory: Path) -> None:
    """Write the arrays FewTextsTokenizer reads: pieces and scores by id, ids in piece order, and the
    file's spec without its vocabulary."""
    spec = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))
    model = spec["model"]
    if model.get("type") != "Unigram":
        raise ValueError(f"{tokenizer_json}: a {model.get('type')} model, not Unigram")
    vocab = model.pop("vocab")
    pieces = np.asarray([p for p, _ in vocab])
    np.save(directory / VOCAB_PIECES, pieces, allow_pickle=False)
    np.save(directory / VOCAB_SCORES, np.asarray([s for _, s in vocab], dtype=np.float64), allow_pickle=False)
    order = np.argsort(pieces, kind="stable")
    np.save(directory / VOCAB_SORTED, pieces[order], allow_pickle=False)
    np.save(directory / VOCAB_SORTED_IDS, order.astype(np.int32), allow_pickle=False)
    spec["longest_piece"] = max(len(p) for p, _ in vocab)
    spec["lowest_score_id"] = min(range(len(vocab)), key=lambda i: vocab[i][1])
    (directory / VOCAB_SPEC).write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")


def _graph_module(model: SentenceTransformer) -> Any:
    """The transformer + mean pooling + normalisation as one torch module taking word embeddings."""
    import torch

    # a transformers model: torch's Module.__getattr__ would type it Tensor | Module
    auto: Any = model[0].auto_model

    class Embed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.auto = auto

        def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            # with inputs_embeds XLM-R numbers positions 2, 3, … for every row: for right padding
            # the real tokens get the positions input_ids would give them
            out = self.auto(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(out.dtype)
            emb = (out * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(emb, p=2, dim=1)

    return Embed().eval()


@contextmanager
def _eager_attention(auto: Any) -> Iterator[None]:
    """Trace the plain (eager) attention, not torch's fused SDPA: SDPA exports as a masked pattern
    (Where/IsNaN over every attention matrix, ~15 % of the run time) that onnxruntime cannot fuse,
    while the eager pattern fuses into its Attention kernel."""
    before = auto.config._attn_implementation
    auto.set_attn_implementation("eager")
    try:
        yield
    finally:
        auto.set_attn_implementation(before)


def _fuse(src: Path, dst: Path, config: Any) -> None:
    """Fuse the exported graph into onnxruntime's transformer kernels (Attention, SkipLayerNormalization,
    BiasGelu): the same arithmetic in fewer, faster kernels (bench/RESULTS.md: 1.2× passages/s in fp32,
    and the int8 copy quantises the fused Attention's projections too)."""
    from onnxruntime.transformers import optimizer

    fused = optimizer.optimize_model(
        str(src),
        model_type="bert",
        num_heads=int(config.num_attention_heads),
        hidden_size=int(config.hidden_size),
        opt_level=1,
    )
    if fused.get_fused_operator_statistics().get("Attention", 0) != int(config.num_hidden_layers):
        raise ValueError("onnxruntime's optimiser did not fuse every attention layer of the exported graph")
    fused.save_model_to_file(str(dst))


def export(model_dir: Path, model: SentenceTransformer, verify_texts: Sequence[str]) -> dict[str, Any]:
    """Export ``model`` (loaded from ``model_dir``) into ``model_dir/onnx`` and verify it.

    Written to a temporary directory and renamed into place. Raises ValueError when an exported graph
    disagrees with sentence-transformers on ``verify_texts`` (fp32 below MIN_COSINE_FP32, int8 below
    MIN_COSINE_INT8). Returns the export's manifest.
    """
    import contextlib
    import io
    import warnings

    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model_dir = Path(model_dir)
    final = onnx_dir(model_dir)
    tmp = model_dir / f".{ONNX_SUBDIR}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        auto: Any = model[0].auto_model  # a transformers model (torch types the attribute Tensor | Module)
        table = auto.embeddings.word_embeddings.weight.detach()
        # the converted weights are float16 on disk (model.WEIGHT_DTYPE): the fp16 table is exact
        np.save(tmp / WORD_EMBEDDINGS, table.to(torch.float16).numpy(), allow_pickle=False)
        export_vocabulary(model_dir / "tokenizer.json", tmp)
        feats = model.tokenizer(
            ["query: 示例", "passage: 较长的示例文本，带填充"], padding=True, return_tensors="pt"
        )
        sample = (table[feats["input_ids"]].float(), feats["attention_mask"])
        axes = {
            "inputs_embeds": {0: "batch", 1: "tokens"},
            "attention_mask": {0: "batch", 1: "tokens"},
            "embedding": {0: "batch"},
        }
        raw = tmp / "raw.onnx"
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            torch.inference_mode(False),
            _eager_attention(auto),
        ):
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
            torch.onnx.export(
                _graph_module(model),
                sample,
                str(raw),
                input_names=["inputs_embeds", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
                do_constant_folding=True,
            )
        logging.disable(logging.WARNING)  # the optimiser and quantiser log advice on the root logger
        try:
            _fuse(raw, tmp / GRAPHS["fp32"], auto.config)
            raw.unlink()
            quantize_dynamic(
                str(tmp / GRAPHS["fp32"]),
                str(tmp / GRAPHS["int8"]),
                op_types_to_quantize=["MatMul", "Attention"],
                weight_type=QuantType.QInt8,
                per_channel=True,
                # the fused contrib ops have no ONNX type inference: their outputs are float
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            logging.disable(logging.NOTSET)
        prompts = dict(getattr(model, "prompts", None) or {})
        assert model.max_seq_length is not None  # the E5 models' sentence_bert_config sets it
        manifest: dict[str, Any] = {
            "export_version": EXPORT_VERSION,
            "source": _source_id(model_dir),
            "opset": OPSET,
            "dimension": int(table.shape[1]),
            "max_seq_length": int(model.max_seq_length),
            "prompts": prompts,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        manifest["verification"] = _verify(tmp, model, verify_texts)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        old = model_dir / f".{ONNX_SUBDIR}.old-{os.getpid()}"
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def _verify(export_dir: Path, model: SentenceTransformer, texts: Sequence[str]) -> dict[str, Any]:
    """Lowest cosine of each exported graph against sentence-transformers on ``texts`` (query and
    passage prompts, one batch with padding); raises ValueError below the thresholds."""
    from assistant.retrieve.model import encode_passages, encode_queries

    ref = np.concatenate([encode_queries(model, texts), encode_passages(model, texts)])
    prompts = getattr(model, "prompts", None) or {}
    qp, pp = prompts.get("query", "query: "), prompts.get("passage", "passage: ")
    found: dict[str, Any] = {}
    for precision, threshold in (("fp32", MIN_COSINE_FP32), ("int8", MIN_COSINE_INT8)):
        enc = OnnxEncoder(export_dir, Path(export_dir).parent / "tokenizer.json", precision)
        got = np.concatenate([enc.encode(texts, qp), enc.encode(texts, pp)])
        worst = float((got * ref).sum(1).min())
        if not worst >= threshold:  # also catches NaN
            raise ValueError(
                f"ONNX {precision} export disagrees with sentence-transformers "
                f"(lowest cosine {worst:.6f} < {threshold})"
            )
        found[f"min_cosine_{precision}"] = round(worst, 6)
    found.update(texts=len(texts), passed=True)
    return found
