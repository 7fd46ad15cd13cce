"""Facts-only builds (build_index(retrieval=False)): the fact store is built and swapped in, no
retrieval index is built, an existing one is removed with the manifest saying so (never served
against other facts), and a later full build adds it again. Kill points keep the index usable."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.config import load_settings
from assistant.store.build import build_index
from assistant.store.db import open_store
from assistant.store.killpoints import KILL_ENV
from assistant.store.manifest import MANIFEST_NAME, tree_checksums
from tests.conftest import CORPUS, REPO, write_config
from tests.test_index_integrity import DOC000, SMALL_REPORT, answer_value, leftovers


def _setup(root: Path) -> Path:
    (root / "corpus").mkdir(parents=True)
    shutil.copy(CORPUS / DOC000, root / "corpus" / DOC000)
    return write_config(root, [root / "corpus"], root / "index")


def _build(cfg: Path, retrieval: bool):  # noqa: ANN202
    return build_index(load_settings(cfg), embed=False, retrieval=retrieval, log=lambda *a: None)


def _manifest(root: Path) -> dict:
    return json.loads((root / "index" / MANIFEST_NAME).read_text(encoding="utf-8"))


def _no_retrieval(cfg: Path) -> None:
    from assistant.retrieve.index import IndexNotFound, RetrievalIndex

    settings = load_settings(cfg)
    with pytest.raises(IndexNotFound):
        RetrievalIndex.open(settings.index_dir, settings)


def test_facts_only_then_full_build(tmp_path):
    cfg = _setup(tmp_path)
    result = _build(cfg, retrieval=False)
    assert result.indexed == [DOC000] and not result.skipped
    assert not (tmp_path / "index" / "retrieval").exists()
    m = _manifest(tmp_path)
    assert m["retrieval"] is None and DOC000 in m["reports"]
    assert answer_value(load_settings(cfg)) == "5406.00"  # the facts answer
    _no_retrieval(cfg)
    open_store(tmp_path / "index").close()  # verifies against the manifest

    # a full build adds the retrieval index, reusing the facts
    result = _build(cfg, retrieval=True)
    assert result.reused == [DOC000] and not result.indexed
    from assistant.retrieve.index import RetrievalIndex

    settings = load_settings(cfg)
    assert RetrievalIndex.open(settings.index_dir, settings).search("三公经费")
    assert _manifest(tmp_path)["retrieval"] == tree_checksums(tmp_path / "index" / "retrieval")
    assert answer_value(settings) == "5406.00"


def test_facts_only_build_removes_a_retrieval_index_it_would_make_stale(tmp_path):
    cfg = _setup(tmp_path)
    _build(cfg, retrieval=True)
    assert (tmp_path / "index" / "retrieval").is_dir()
    (tmp_path / "corpus" / "新 报告 2021.txt").write_text(SMALL_REPORT, encoding="utf-8")
    result = _build(cfg, retrieval=False)
    assert result.indexed == ["新 报告 2021.txt"] and result.reused == [DOC000]
    assert not (tmp_path / "index" / "retrieval").exists()
    assert _manifest(tmp_path)["retrieval"] is None
    assert leftovers(tmp_path / "index") == []
    _no_retrieval(cfg)
    assert answer_value(load_settings(cfg)) == "5406.00"
    rc = subprocess.run(
        [sys.executable, "-m", "assistant.interfaces.cli", "--config", str(cfg), "index", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rc.returncode == 0 and "up to date" in rc.stdout, rc.stdout + rc.stderr


KILL_SCRIPT = """
import sys
from assistant.config import load_settings
from assistant.store.build import build_index
build_index(load_settings(sys.argv[1]), embed=False, retrieval=False, log=lambda *a: None)
"""


@pytest.mark.parametrize("stage", ["before_retrieval_swap", "after_retrieval_swap", "after_facts_swap"])
def test_facts_only_build_killed_keeps_a_working_index(tmp_path, stage):
    cfg = _setup(tmp_path)
    _build(cfg, retrieval=True)
    with (tmp_path / "corpus" / DOC000).open("a", encoding="utf-8") as fh:
        fh.write("\n附注：本行为测试追加。\n")
    p = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(cfg)],
        cwd=REPO,
        env={**os.environ, KILL_ENV: stage},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert p.returncode == -signal.SIGKILL, p.stderr
    settings = load_settings(cfg)
    open_store(settings.index_dir).close()
    assert answer_value(settings) == "5406.00"
    if stage != "before_retrieval_swap":
        _no_retrieval(cfg)  # deleted before the facts were swapped: never served with other facts
    assert not _build(cfg, retrieval=False).skipped
    assert leftovers(tmp_path / "index") == []
    assert not (tmp_path / "index" / "retrieval").exists()
