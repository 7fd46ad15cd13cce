"""Dense retrieval: a FAISS inner-product index over L2-normalised passage embeddings.

Below ``approximate_above`` vectors the index is exact (IndexFlatIP); above it, IVF (IndexIVFFlat
with METRIC_INNER_PRODUCT, ~4·sqrt(n) lists up to 512, 1/8 of them probed). Both are saved with
faiss.write_index. A filter leaving few chunks (one department) is searched exactly.

Embeddings are cached by the sha256 of the embedded text (``embeddings.npy`` + ``embeddings.json``
with the keys in row order): a text is embedded once however many chunks carry it, and a rebuild
embeds only texts the cache does not have. The model is loaded lazily, on the first encode.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from assistant.config import Settings
from assistant.retrieve.onnx_model import EXPORT_VERSION, OnnxEncoder

__all__ = ["Encoder", "ModelEncoder", "model_identity", "EmbeddingCache", "DenseIndex", "text_key"]

CACHE_VECTORS = "embeddings.npy"
CACHE_KEYS = "embeddings.json"
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128
IVF_SEED = 1234
# Up to this many allowed ids a filtered search scores them exactly instead of asking FAISS.
EXACT_FILTERED = 4096


def _nlist(n: int) -> int:
    """IVF lists for n vectors: ~4·sqrt(n), at least 39 training vectors per list (FAISS's minimum),
    at most 512: k-means time grows with lists² (1024 lists took 30 s to train on a busy 2-core
    machine); from ~20k vectors on it is 512, so incremental builds reuse the centroids."""
    return max(1, min(512, int(4 * n**0.5), n // 39))


def _nprobe(nlist: int) -> int:
    """Lists searched per query: 1/8 of them, at least 16 (all when fewer)."""
    return min(nlist, max(16, nlist // 8))


class Encoder(Protocol):
    """What the index needs from an embedding model (float32, L2-normalised rows)."""

    name: str

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...


def model_identity(settings: Settings) -> str:
    """The name an index records for its vectors: the model, plus the passages' precision when it is
    not fp32 (the ONNX fp32 graph and sentence-transformers give the same vectors, cosine >= 0.9999,
    and share a name; int8 vectors are other numbers and must not be mixed with them). Questions are
    not stored, so their precision is not part of it. The int8 numbers depend on how the export
    quantised (per-tensor before export version 3, per-channel since), so its version is named too.
    (Which text a vector is of is not part of it: the cache is keyed by the text.)"""
    emb = settings.embedding
    return emb.model if emb.precision == "fp32" else f"{emb.model}+{emb.precision}-export{EXPORT_VERSION}"


Kind = Literal["query", "passage"]


class ModelEncoder:
    """The configured model, loaded on first use: through its ONNX export (onnxruntime, no torch) when
    it is the prepared default and ``[embedding] runtime = "onnx"``, else through sentence-transformers.
    Passages go through the ``precision`` graph, questions through the ``query_precision`` one; each
    is loaded when first needed (answering loads only the question graph)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = model_identity(settings)
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.load_seconds: float | None = None

    def _uses_onnx(self) -> bool:
        from assistant.retrieve.model import DEFAULT_MODEL

        emb = self.settings.embedding
        onnx = (
            emb.runtime == "onnx"
            and emb.model == DEFAULT_MODEL
            and not self.settings.resolve(emb.model).is_dir()
        )
        if not onnx and emb.precision != "fp32":
            key, value = "precision", emb.precision
        elif not onnx and emb.query_precision != "fp32":
            key, value = "query_precision", emb.query_precision
        else:
            return onnx
        from assistant.retrieve.model import ModelError

        raise ModelError(
            f'[embedding] {key} = "{value}" needs runtime = "onnx" and the default model {DEFAULT_MODEL!r}'
        )

    def model(self, kind: Kind = "query") -> Any:
        """The loaded model for questions or passages: an OnnxEncoder or a SentenceTransformer (the
        first call loads it)."""
        emb = self.settings.embedding
        onnx = self._uses_onnx()
        precision = (emb.query_precision if kind == "query" else emb.precision) if onnx else "torch"
        if precision not in self._models:
            with self._lock:
                if precision not in self._models:
                    import time

                    t0 = time.perf_counter()
                    if onnx:
                        from assistant.retrieve.model import prepare_model

                        enc = OnnxEncoder.for_model(prepare_model(self.settings), precision)
                        enc.warm()
                        self._models[precision] = enc
                    else:
                        from assistant.retrieve.model import load_model

                        self._models[precision] = load_model(self.settings)
                    if self.load_seconds is None:
                        self.load_seconds = time.perf_counter() - t0
        return self._models[precision]

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Query embeddings (with the model's query prompt)."""
        model = self.model("query")
        if isinstance(model, OnnxEncoder):
            return model.encode(texts, model.prompts.get("query", "query: "))
        from assistant.retrieve.model import encode_queries

        return np.asarray(encode_queries(model, texts), dtype=np.float32)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        """Passage embeddings, in batches of settings.embedding.batch_size."""
        model, batch = self.model("passage"), self.settings.embedding.batch_size
        if isinstance(model, OnnxEncoder):
            return model.encode(texts, model.prompts.get("passage", "passage: "), batch)
        from assistant.retrieve.model import encode_passages

        return np.asarray(encode_passages(model, texts, batch), dtype=np.float32)


def text_key(text: str) -> str:
    """Cache key of an embedded text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Passage vectors by text hash, persisted as .npy + a JSON key list (no pickle)."""

    def __init__(self, keys: list[str] | None = None, vectors: np.ndarray | None = None) -> None:
        self.keys: list[str] = list(keys or [])
        self.vectors = vectors if vectors is not None else np.zeros((0, 0), dtype=np.float32)
        self._row = {k: i for i, k in enumerate(self.keys)}

    @property
    def dim(self) -> int | None:
        return int(self.vectors.shape[1]) if len(self.keys) else None

    def __contains__(self, key: str) -> bool:
        return key in self._row

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def load(cls, directory: Path) -> EmbeddingCache:
        """The cache in ``directory``, or an empty one when absent or unreadable."""
        kp, vp = directory / CACHE_KEYS, directory / CACHE_VECTORS
        if not (kp.exists() and vp.exists()):
            return cls()
        try:
            keys = json.loads(kp.read_text(encoding="utf-8"))
            vectors = np.load(vp, allow_pickle=False)
        except (OSError, ValueError):
            return cls()
        if vectors.ndim != 2 or len(keys) != vectors.shape[0]:
            return cls()  # torn or foreign files: start over rather than mis-assign vectors
        return cls(keys, vectors.astype(np.float32, copy=False))

    def save(self, directory: Path) -> None:
        """Write the cache files into ``directory``."""
        np.save(
            directory / CACHE_VECTORS,
            np.ascontiguousarray(self.vectors, dtype=np.float32),
            allow_pickle=False,
        )
        (directory / CACHE_KEYS).write_text(json.dumps(self.keys), encoding="utf-8")

    def fill(
        self,
        texts: Sequence[str],
        encode: Callable[[list[str]], np.ndarray],
        batch: int = 256,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Embed the texts the cache lacks (each distinct text once); return how many were embedded."""
        missing: dict[str, str] = {}
        for t in texts:
            k = text_key(t)
            if k not in self._row and k not in missing:
                missing[k] = t
        todo = list(missing.items())
        new_vecs: list[np.ndarray] = []
        for i in range(0, len(todo), batch):
            part = todo[i : i + batch]
            vecs = np.asarray(encode([t for _, t in part]), dtype=np.float32)
            if vecs.shape[0] != len(part):
                raise ValueError(f"encoder returned {vecs.shape[0]} vectors for {len(part)} texts")
            new_vecs.append(vecs)
            if progress is not None:
                progress(len(part))
        if new_vecs:
            added = np.concatenate(new_vecs)
            self.vectors = added if not len(self.keys) else np.concatenate([self.vectors, added])
            for k, _ in todo:
                self._row[k] = len(self.keys)
                self.keys.append(k)
        return len(todo)

    def get(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts`` (all must be cached), one row per text."""
        return self.vectors[[self._row[text_key(t)] for t in texts]]

    def subset(self, texts: Sequence[str]) -> EmbeddingCache:
        """A cache holding only the distinct ``texts`` (drops entries of removed chunks)."""
        return self.subset_keys([text_key(t) for t in texts])

    def subset_keys(self, keys: Sequence[str]) -> EmbeddingCache:
        """A cache holding only the distinct ``keys`` (all must be cached), in first-seen order."""
        distinct = list(dict.fromkeys(keys))
        if not distinct:
            return EmbeddingCache()
        return EmbeddingCache(distinct, self.vectors[[self._row[k] for k in distinct]])

    def get_keys(self, keys: Sequence[str]) -> np.ndarray:
        """Vectors of the texts with these ``keys`` (all must be cached), one row per key."""
        return self.vectors[[self._row[k] for k in keys]]

    @staticmethod
    def carry_over(src: Path, dst: Path) -> bool:
        """Link (or copy) the cache files of ``src`` into ``dst`` without reading them; True when
        there was a cache. Builds never write into an existing file, so a hard link is safe."""
        kp, vp = src / CACHE_KEYS, src / CACHE_VECTORS
        if not (kp.exists() and vp.exists()):
            return False
        for p in (kp, vp):
            try:
                os.link(p, dst / p.name)
            except OSError:
                shutil.copy2(p, dst / p.name)
        return True


class DenseIndex:
    """FAISS inner-product search over one vector per chunk (row i = chunk i)."""

    def __init__(self, index: Any) -> None:
        self.index = index
        import faiss

        if isinstance(index, faiss.IndexIVF):
            index.make_direct_map()  # reconstruct() by id, for scores_for and exact filtered search
            index.nprobe = _nprobe(index.nlist)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def approximate(self) -> bool:
        import faiss

        return isinstance(self.index, faiss.IndexIVF | faiss.IndexHNSWFlat)

    @classmethod
    def build(
        cls, vectors: np.ndarray, approximate_above: int, previous: DenseIndex | None = None
    ) -> DenseIndex:
        """Exact IndexFlatIP up to ``approximate_above`` vectors, IVF (inner product) above.

        IVF rather than HNSW: on 2 cores HNSW (M=32, efConstruction=200) took 247 s to build over
        30k random 384-d vectors, and a build cannot update it (rows follow the chunk order, which
        changes), so every incremental build paid it again; IVF trains in seconds and a build whose
        ``previous`` index was trained for a similar size reuses its centroids and only assigns the
        vectors (k-means is not run again).
        """
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = int(vectors.shape[0]), int(vectors.shape[1])
        if n <= approximate_above:
            flat = faiss.IndexFlatIP(dim)
            flat.add(vectors)
            return cls(flat)
        nlist = _nlist(n)
        old = previous.index if previous is not None else None
        if isinstance(old, faiss.IndexIVFFlat) and old.d == dim and old.nlist == nlist:
            centroids = old.quantizer.reconstruct_n(0, old.nlist)
            quantizer = faiss.IndexFlatIP(dim)
            quantizer.add(centroids)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.is_trained = True
        else:
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = IVF_SEED  # deterministic k-means (its sample and initial centroids)
            index.cp.niter = 10
            index.cp.max_points_per_centroid = 39  # a sample of 39 vectors per list trains it
            index.train(vectors)
        index.add(vectors)
        return cls(index)

    def save(self, path: Path) -> None:
        """Write the index with faiss.write_index."""
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path) -> DenseIndex:
        """Read an index written by ``save``."""
        import faiss

        index = faiss.read_index(str(path))
        if isinstance(index, faiss.IndexHNSWFlat):  # written by an earlier version
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index)

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (ids, inner products) for one query vector, restricted to ``allowed`` ids if given."""
        import faiss

        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        k = min(k, self.size if allowed is None else len(allowed))
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if allowed is not None and len(allowed) <= EXACT_FILTERED:
            # a filter leaving few vectors (one department: ~100 of 300k): score exactly those.
            # FAISS with a selector would scan every vector (flat) or walk a graph mostly filtered
            # out (HNSW: slow, and it may miss the allowed ones)
            ids = np.ascontiguousarray(allowed, dtype=np.int64)
            sims = self.scores_for(q[0], ids)
            top = np.lexsort((ids, -sims))[:k]
            return ids[top], sims[top].astype(np.float32)
        params: faiss.SearchParameters | None = None
        if allowed is not None:
            sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
            # faiss's SWIG stubs know neither the keyword constructors nor SearchParametersHNSW
            if isinstance(self.index, faiss.IndexIVF):
                params = faiss.SearchParametersIVF(sel=sel, nprobe=self.index.nprobe)  # type: ignore[call-arg]
            elif isinstance(self.index, faiss.IndexHNSWFlat):
                params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(HNSW_EF_SEARCH, k))  # type: ignore[attr-defined]
            else:
                params = faiss.SearchParameters(sel=sel)  # type: ignore[call-arg]
        # one query: FAISS's OpenMP threads only contend (2 threads took 68 ms where 1 took 26 ms
        # for a flat search over 30k vectors on a busy 2-core machine)
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, ids = self.index.search(q, k, params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), scores[0][keep]

    def scores_for(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Inner products of the query with the stored vectors of ``ids`` (exact, any index type)."""
        if len(ids) == 0:
            return np.zeros(0, dtype=np.float32)
        vecs = self.index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64))
        return vecs @ query.reshape(-1).astype(np.float32)
