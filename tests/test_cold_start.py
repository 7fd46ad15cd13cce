"""What a cold `assistant ask` does ahead of need and what it no longer does: the query encoder loads in
the background once a search is certain, and only then; a question is cut on the dictionary words it
holds, not on all of jieba's, with the same tokens (bench/cold_start.py measures the gains; no timed
tests here)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.ingest.loaders import load_document
from assistant.ingest.metadata import detect_metadata
from assistant.retrieve import jieba_few as J
from assistant.retrieve import model as M
from assistant.retrieve import onnx_model as O
from assistant.retrieve import tokenize as T
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
    assert isinstance(plain._encoder, ModelEncoder) and not plain._encoder._models
    assert not any(t.name == "encoder-load" for t in threading.enumerate())
    ahead = RetrievalIndex.open(index_dir, settings, prefetch=True)
    assert isinstance(ahead._encoder, ModelEncoder)
    _join_loader()
    # the question graph loaded without a search (only it: passages are not encoded when answering)
    assert list(ahead._encoder._models) == [settings.embedding.query_precision]
    assert isinstance(ahead._encoder.model("query"), O.OnnxEncoder)
    assert not plain._encoder._models
    # the search waits for the same model either way: same hits
    q = "城乡医疗救助的主要职责"
    assert [(h.chunk.line_start, h.score) for h in ahead.search(q)] == [
        (h.chunk.line_start, h.score) for h in plain.search(q)
    ]


def test_an_index_of_another_model_loads_nothing(embedded: tuple[Path, Settings]) -> None:
    index_dir, settings = embedded
    other = settings.model_copy(
        update={
            "embedding": settings.embedding.model_copy(
                update={"precision": "fp32" if settings.embedding.precision == "int8" else "int8"}
            )
        }
    )
    _join_loader()
    idx = RetrievalIndex.open(index_dir, other, prefetch=True)
    assert idx.dense is None and not any(t.name == "encoder-load" for t in threading.enumerate())


@pytest.fixture(scope="module")
def corpus_lines() -> list[str]:
    """Every line of the corpus (as parsed and as written), every chunk and every gold question, folded."""
    from assistant.retrieve.chunking import chunk_document

    texts: list[str] = []
    for p in sorted((REPO / "corpus").iterdir()):
        doc = load_document(p)
        texts += [t for ln in doc.lines for t in (ln.text, ln.raw)]
        texts += [c.text for c in chunk_document(doc, detect_metadata(doc), 400, 60)]
    for name in ("dev.jsonl", "dev2.jsonl", "heldback.jsonl"):
        rows = (REPO / "tests/qa" / name).read_text(encoding="utf-8").splitlines()
        texts += [json.loads(r)["question"] for r in rows if r.strip()]
    return list(dict.fromkeys(T.fold(t) for t in texts if t.strip()))


def test_few_texts_jieba_cuts_every_corpus_line_as_the_full_dictionary(
    corpus_lines: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(J, "FEW_CHARS", 10**9)  # never the full dictionary: every cut on the few words
    full = T._add_domain_terms(T.RustJieba())
    few: J.FewTextsJieba | None = None
    assert len(corpus_lines) > 3500
    differ = []
    for i, text in enumerate(corpus_lines):
        if i % 1000 == 0:  # a fresh one now and then: each starts from the domain terms alone
            few = J.few_texts_jieba(tmp_path)
            assert few is not None
            T._add_domain_terms(few)
        assert few is not None
        if few.cut_for_search(text) != full.cut_for_search(text):
            differ.append(text)
    assert differ == []
    assert few is not None and few._full is None and len(few._present) < 100_000
    assert [t for t, _ in few._added] == list(T.domain_terms())  # kept for the switch to the full one


def test_a_cold_question_builds_no_full_dictionary() -> None:
    code = (
        "import sys; from assistant.retrieve.tokenize import tokenize, _get_tokenizer\n"
        "toks = tokenize('普陀区政府办的主要职责是什么？')\n"
        "print(type(_get_tokenizer()).__name__, 'rjieba' in sys.modules, '职责' in toks)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["FewTextsJieba", "False", "True"], out.stderr


def test_after_many_characters_the_full_dictionary_takes_over(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(J, "FEW_CHARS", 30)
    few = J.few_texts_jieba(T._default_cache_dir())
    assert few is not None
    T._add_domain_terms(few)
    full = T._add_domain_terms(T.RustJieba())
    texts = ["2021年三公经费支出总额0.54万元", "其中公务接待费0.54万元，比上年减少0.04万元", "机关运行经费"]
    assert [few.cut_for_search(t) for t in texts] == [full.cut_for_search(t) for t in texts]
    assert few._full is not None  # switched on the second text


def test_ask_as_a_command_ends_at_once_with_all_its_output(
    built_config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.interfaces.cli import main

    text_q, other = "普陀区政府办的主要职责是什么？", "峨山县卫健局2021年三公经费多少"
    many = "\n".join([text_q, other] * 40)  # ~75 KB of answers: more than a pipe holds
    for args, stdin, status in (([text_q], None, 0), ([other], None, 1), (["-"], many, 1)):
        cmd = ["--config", str(built_config), "ask", *args]
        run = subprocess.run(
            [sys.executable, "-m", "assistant.interfaces.cli", *cmd],
            cwd=REPO,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        assert main(cmd) == status  # in-process: returns, never ends the process
        assert run.returncode == status
        assert run.stdout == capsys.readouterr().out and len(run.stdout) > 20
    assert len(run.stdout.encode()) > 65536


def test_ask_keeps_openblas_to_one_thread_unless_told(
    built_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.interfaces.cli import main

    question = "普陀区政府办的主要职责是什么？"
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    assert main(["--config", str(built_config), "ask", question]) == 0
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")  # the user's own setting stays
    assert main(["--config", str(built_config), "ask", question]) == 0
    assert os.environ["OPENBLAS_NUM_THREADS"] == "2"


def test_stale_temporary_cache_files_are_removed(tmp_path: Path) -> None:
    from assistant.atomic_files import remove_stale

    old_dir, old_file, fresh, other = (
        tmp_path / ".model.optimized-1-2-3.77.tmp",
        tmp_path / ".dict-1-2.words.npy.77.tmp.npy",
        tmp_path / ".model.optimized-1-2-3.78.tmp",
        tmp_path / "model.onnx",
    )
    old_dir.mkdir()
    (old_dir / "model.onnx").write_bytes(b"half")
    fresh.mkdir()
    for p in (old_file, other):
        p.write_bytes(b"x")
    for p in (old_dir, old_file, other):
        os.utime(p, (0, 0))  # written long ago
    remove_stale(tmp_path, ".model.optimized-*.tmp")
    remove_stale(tmp_path, ".dict-*.tmp*")
    assert sorted(p.name for p in tmp_path.iterdir()) == [fresh.name, other.name]
