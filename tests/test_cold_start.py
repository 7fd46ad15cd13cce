"""What a cold `assistant ask` does ahead of need: the query encoder loads in the background once a
search is certain, and only then (bench/cold_start.py measures the gain; no timed tests here)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.ingest.loaders import load_document
from assistant.ingest.metadata import detect_metadata
from assistant.retrieve import model as M
from assistant.retrieve import onnx_model as O
from assistant.retrieve.dense import ModelEncoder, model_identity
from assistant.retrieve.index import RetrievalIndex

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "corpus" / "001_8ee0239607d3cbd9.txt"


class NamedFakeEncoder:
    """Builds an index recorded as embedded with the configured model's name (deterministic vectors)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _vecs(self, texts: list[str]) -> np.ndarray:
        rng = np.random.default_rng(7)
        v = rng.standard_normal((len(texts), 384)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._vecs(texts)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._vecs(texts)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Settings]:
    settings = Settings()
    if not (M.is_prepared(M.prepared_dir(settings)) and O.is_exported(M.prepared_dir(settings))):
        pytest.skip("the default model is not prepared (`assistant model prepare`)")
    index_dir = tmp_path_factory.mktemp("cold") / "index"
    doc = load_document(DOC)
    RetrievalIndex.build(
        index_dir, [(doc, detect_metadata(doc))], settings, encoder=NamedFakeEncoder(model_identity(settings))
    )
    return index_dir, settings


def _join_loader() -> None:
    for t in threading.enumerate():
        if t.name == "encoder-load":
            t.join(120)


def test_open_for_a_search_loads_the_encoder_in_the_background(embedded: tuple[Path, Settings]) -> None:
    index_dir, settings = embedded
    _join_loader()
    plain = RetrievalIndex.open(index_dir, settings)
    assert isinstance(plain._encoder, ModelEncoder) and plain._encoder._model is None
    assert not any(t.name == "encoder-load" for t in threading.enumerate())
    ahead = RetrievalIndex.open(index_dir, settings, prefetch=True)
    assert isinstance(ahead._encoder, ModelEncoder)
    _join_loader()
    assert isinstance(ahead._encoder._model, O.OnnxEncoder)  # loaded without a search
    assert plain._encoder._model is None
    # the search waits for the same model either way: same hits
    q = "城乡医疗救助的主要职责"
    assert [(h.chunk.line_start, h.score) for h in ahead.search(q)] == [
        (h.chunk.line_start, h.score) for h in plain.search(q)
    ]


def test_an_index_of_another_model_loads_nothing(embedded: tuple[Path, Settings]) -> None:
    index_dir, settings = embedded
    other = settings.model_copy(
        update={"embedding": settings.embedding.model_copy(update={"precision": "int8"})}
    )
    _join_loader()
    idx = RetrievalIndex.open(index_dir, other, prefetch=True)
    assert idx.dense is None and not any(t.name == "encoder-load" for t in threading.enumerate())
