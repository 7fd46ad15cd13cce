"""The ONNX export of the embedding model: same vectors as sentence-transformers, no torch at run time.

Uses the prepared default model (``assistant model prepare`` exports it; the ``settings`` fixture of
test_model prepares it into a temporary cache when the default cache has no build).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.retrieve import model as M
from assistant.retrieve import onnx_model as O
from assistant.retrieve.dense import ModelEncoder, model_identity

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "sentence_transformers")


def _questions(n: int = 50) -> list[str]:
    """The first ``n`` questions of the gold set: a fixed set of Chinese questions of every kind."""
    rows = [
        json.loads(line)
        for line in (REPO / "tests/qa/dev2.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    qs = list(dict.fromkeys(r["question"] for r in rows))[:n]
    assert len(qs) == n
    return qs


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    default = Settings()
    if M.is_prepared(M.prepared_dir(default)) and O.is_exported(M.prepared_dir(default)):
        return default
    s = Settings.model_validate(
        {"embedding": {"cache_dir": str(tmp_path_factory.mktemp("models"))}, "base_dir": str(REPO)}
    )
    M.prepare_model(s)
    return s


@pytest.fixture(scope="module")
def st_model(settings: Settings):
    return M.load_model(settings)


def _onnx(settings: Settings, precision: str = "fp32") -> O.OnnxEncoder:
    return O.OnnxEncoder.for_model(M.prepared_dir(settings), precision)


def test_prepare_exports_onnx_next_to_the_model(settings: Settings) -> None:
    path = M.prepared_dir(settings)
    assert O.is_exported(path)
    d = O.onnx_dir(path)
    man = json.loads((d / O.MANIFEST).read_text(encoding="utf-8"))
    assert man["verification"]["passed"] and man["verification"]["min_cosine_fp32"] >= O.MIN_COSINE_FP32
    assert man["dimension"] == 384 and man["max_seq_length"] == 512
    table = np.load(d / O.WORD_EMBEDDINGS, mmap_mode="r", allow_pickle=False)
    assert (
        table.shape[1] == 384 and table.shape[0] >= 250002 and table.dtype == np.float16
    )  # XLM-R vocabulary


def test_fifty_questions_match_sentence_transformers(settings: Settings, st_model) -> None:
    qs = _questions()
    ref = M.encode_queries(st_model, qs)  # a batch: through sentence-transformers' own encode
    enc = _onnx(settings)
    batched = enc.encode(qs, "query: ")
    one_by_one = np.concatenate([enc.encode([q], "query: ") for q in qs])  # the retrieval hot path
    for got in (batched, one_by_one):
        assert got.dtype == np.float32 and got.shape == (50, 384)
        cos = (got * ref).sum(1)
        assert cos.min() >= 0.9999, (cos.argmin(), qs[int(cos.argmin())], cos.min())
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)


def test_passages_of_the_corpus_match_sentence_transformers(settings: Settings, st_model) -> None:
    """Passages of very different lengths in one batch (padding), a long one truncated at 512 tokens."""
    lines = [
        ln
        for ln in (REPO / "corpus/000_db59d6f0fba66678.txt").read_text(encoding="utf-8").splitlines()
        if ln.strip()
    ][:40]
    texts = [*lines, "\n".join(lines * 20)]  # the last is far beyond 512 tokens
    ref = M.encode_passages(st_model, texts)
    got = _onnx(settings).encode(texts, "passage: ", batch_size=16)
    assert (got * ref).sum(1).min() >= 0.9999
    # the same text twice is encoded once and returned twice (padded otherwise than in the batch above)
    twice = _onnx(settings).encode([lines[0], lines[0]], "passage: ")
    np.testing.assert_array_equal(twice[0], twice[1])
    np.testing.assert_allclose(twice[0], got[0], atol=1e-6)


def test_tokenizers_library_gives_the_transformers_ids(settings: Settings, st_model) -> None:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(M.prepared_dir(settings) / "tokenizer.json"))
    for q in [*_questions(), "Hello  world\tand\r\nlines", "ＡＢＣ１２３，全角\u3000空格", "émigré café"]:
        assert tok.encode("query: " + q).ids == st_model.tokenizer("query: " + q)["input_ids"], q


def test_few_texts_tokenizer_gives_the_full_tokenizers_ids(settings: Settings) -> None:
    from tokenizers import Tokenizer

    path = M.prepared_dir(settings)
    full = Tokenizer.from_file(str(path / "tokenizer.json"))
    full.enable_truncation(512)
    few = O.FewTextsTokenizer(O.onnx_dir(path), 512)
    lines = [
        ln
        for p in sorted((REPO / "corpus").glob("*.txt"))
        for ln in p.read_text(encoding="utf-8").splitlines()[:150]
        if ln.strip()
    ]
    odd = [
        "Hello  world\tand\r\nlines",
        "ＡＢＣ１２３，全角\u3000空格",
        "émigré café <mask> x<s>y",
        "㐀𠀀 ☃ \x00",
        "",
        "   ",
        "a" * 3000,
    ]  # rare characters (unknown pieces), added tokens, truncation
    for text in [*("query: " + q for q in _questions()), *lines, *odd]:
        assert few.ids(text) == full.encode(text).ids, text


def test_int8_graph_is_close_and_keeps_the_ranking(settings: Settings, st_model) -> None:
    qs = _questions()
    fp32, int8 = st_model and M.encode_queries(st_model, qs), _onnx(settings, "int8").encode(qs, "query: ")
    assert (fp32 * int8).sum(1).min() >= O.MIN_COSINE_INT8
    np.testing.assert_array_equal(int8, _onnx(settings, "int8").encode(qs, "query: "))  # deterministic
    passages = _onnx(settings, "int8").encode(
        [
            "“三公”经费：指部门用财政拨款安排的因公出国（境）费、公务用车购置及运行费和公务接待费",
            "机关运行经费：为保障行政单位运行用于购买货物和服务的各项资金",
            "30201 办公费 18,786.97",
        ],
        "passage: ",
    )
    s_sangong, s_jiguan, s_row = passages @ _onnx(settings, "int8").encode(["什么是“三公”经费"], "query: ")[0]
    assert s_sangong > s_jiguan and s_sangong > s_row


def test_model_encoder_uses_onnx_and_names_the_precision(settings: Settings) -> None:
    def with_(base: Settings, **update: str) -> Settings:
        return base.model_copy(update={"embedding": base.embedding.model_copy(update=update)})

    fp32 = with_(settings, precision="fp32", query_precision="fp32")
    enc = ModelEncoder(fp32)
    assert isinstance(enc.model("query"), O.OnnxEncoder) and enc.name == settings.embedding.model
    assert enc.model("query") is enc.model("passage")  # one graph for both
    int8 = with_(settings, precision="int8", query_precision="fp32")
    enc = ModelEncoder(int8)
    # passages through int8, questions through fp32; the index is named after its passages' vectors
    assert (enc.model("passage").precision, enc.model("query").precision) == ("int8", "fp32")
    assert model_identity(int8) == enc.name == f"{settings.embedding.model}+int8-export{O.EXPORT_VERSION}"
    assert model_identity(with_(int8, query_precision="int8")) == enc.name  # questions are not stored
    for bad, key in (
        (with_(int8, runtime="torch"), "precision"),
        (with_(fp32, runtime="torch", query_precision="int8"), "query_precision"),
    ):
        with pytest.raises(M.ModelError, match=f"{key} = "):
            ModelEncoder(bad).model()


def test_export_fuses_attention_and_quantises_per_channel(settings: Settings) -> None:
    """The exported graphs use onnxruntime's fused kernels (no SDPA Where/IsNaN pattern left) and the
    int8 copy quantises the fused Attention's projections with one scale per output channel."""
    import onnx

    d = O.onnx_dir(M.prepared_dir(settings))
    fp32 = onnx.load(str(d / O.GRAPHS["fp32"]), load_external_data=False)
    ops = [n.op_type for n in fp32.graph.node]
    assert ops.count("Attention") == 12 and "IsNaN" not in ops and ops.count("SkipLayerNormalization") == 24
    int8 = onnx.load(str(d / O.GRAPHS["int8"]), load_external_data=False)
    assert [n.op_type for n in int8.graph.node].count("QAttention") == 12
    scales = {i.name: i for i in int8.graph.initializer if i.name.endswith("_scale")}
    weight_scales = [s for s in scales.values() if len(s.dims) == 1 and s.dims[0] > 1]
    assert len(weight_scales) >= 48  # per-channel: a vector of scales per quantised weight


def test_onnx_encoding_imports_no_torch(settings: Settings) -> None:
    code = (
        "import sys; from assistant.config import Settings; from assistant.retrieve.dense import ModelEncoder\n"
        f"s = Settings.model_validate({{'embedding': {{'cache_dir': {str(settings.model_cache)!r}}}}})\n"
        "v = ModelEncoder(s).encode_queries(['普陀区政府办的主要职责是什么？'])\n"
        f"print(v.shape, [m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(1, 384) []", out.stderr


def test_stale_export_is_not_exported(settings: Settings, tmp_path: Path) -> None:
    src = M.prepared_dir(settings)
    fake = tmp_path / "m"
    (fake / O.ONNX_SUBDIR).mkdir(parents=True)
    for f in ("manifest.json", "tokenizer.json"):
        (fake / f).write_bytes((src / f).read_bytes())
    man = json.loads((O.onnx_dir(src) / O.MANIFEST).read_text(encoding="utf-8"))
    for f in O.EXPORT_FILES:
        (fake / O.ONNX_SUBDIR / f).write_bytes(b"")
    (fake / O.ONNX_SUBDIR / O.MANIFEST).write_text(json.dumps(man), encoding="utf-8")
    assert O.is_exported(fake)
    man["export_version"] = -1
    (fake / O.ONNX_SUBDIR / O.MANIFEST).write_text(json.dumps(man), encoding="utf-8")
    assert not O.is_exported(fake)
    assert not O.is_exported(tmp_path / "missing")


def test_changing_the_passage_precision_re_embeds_the_index(tmp_path: Path) -> None:
    """An index embedded with int8 passages is not "up to date" for fp32 ones (nor back): its vectors
    are other numbers. Questions' precision is not stored, so changing it alone rebuilds nothing."""
    from assistant.config import load_settings
    from assistant.store.build import build_index
    from tests.conftest import write_config
    from tests.test_index_integrity import SMALL_REPORT

    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "report.txt").write_text(SMALL_REPORT * 3, encoding="utf-8")
    cfg = write_config(tmp_path, [tmp_path / "corpus"], tmp_path / "index")
    base = cfg.read_text(encoding="utf-8")

    def build(precision: str, query_precision: str = "fp32") -> tuple[list[str], dict]:
        cfg.write_text(
            base + f'[embedding]\nprecision = "{precision}"\nquery_precision = "{query_precision}"\n',
            encoding="utf-8",
        )
        lines: list[str] = []
        build_index(load_settings(cfg), embed=True, log=lambda m, *a: lines.append(str(m)))
        man = json.loads((tmp_path / "index" / "retrieval" / "manifest.json").read_text(encoding="utf-8"))
        return lines, man

    settings = load_settings(cfg)
    _, man = build("int8")
    assert man["model"] == model_identity(
        settings.model_copy(update={"embedding": settings.embedding.model_copy(update={"precision": "int8"})})
    )
    lines, man = build("fp32")
    assert "retrieval: up to date" not in lines and man["model"] == settings.embedding.model
    lines, _ = build("fp32", query_precision="int8")
    assert "retrieval: up to date" in lines


def test_optimised_graph_is_saved_once_and_gives_the_same_vectors(settings: Settings, tmp_path: Path) -> None:
    import onnxruntime as ort

    src = M.prepared_dir(settings)
    export = tmp_path / "m" / O.ONNX_SUBDIR
    export.mkdir(parents=True)
    for f in (*O.EXPORT_FILES, O.MANIFEST):
        (export / f).symlink_to(O.onnx_dir(src) / f)
    texts = _questions(8)
    plain = O.OnnxEncoder(export, src / "tokenizer.json")
    plain._load()
    # the session as it was made before the cache: the original graph, optimised at load
    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    plain._session = ort.InferenceSession(
        str(export / "model.onnx"), opts, providers=["CPUExecutionProvider"]
    )
    reference = plain.encode(texts, "query: ")
    assert plain.encode(texts[:3] * 2, "passage: ").shape == (6, 384)

    cached = sorted(export.glob("model.optimized-*"))  # saved by the first load
    assert len(cached) == 1
    assert sorted(p.name for p in cached[0].iterdir()) == [O.OPTIMIZED_GRAPH, O.OPTIMIZED_WEIGHTS]
    stamp = (cached[0] / O.OPTIMIZED_GRAPH).stat().st_mtime_ns
    for _ in range(2):  # loaded from the saved graph: not written again, the same bits
        again = O.OnnxEncoder(export, src / "tokenizer.json")
        assert np.array_equal(again.encode(texts, "query: "), reference)
        assert (cached[0] / O.OPTIMIZED_GRAPH).stat().st_mtime_ns == stamp
    assert np.array_equal(again.encode(texts[:3] * 2, "passage: "), plain.encode(texts[:3] * 2, "passage: "))
    # a damaged saved graph is made again
    (cached[0] / O.OPTIMIZED_GRAPH).write_bytes(b"not a graph")
    mended = O.OnnxEncoder(export, src / "tokenizer.json")
    assert np.array_equal(mended.encode(texts, "query: "), reference)
    assert (cached[0] / O.OPTIMIZED_GRAPH).stat().st_size > 1000
