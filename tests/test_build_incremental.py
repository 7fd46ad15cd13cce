"""Incremental builds: unchanged reports are copied from the previous store (not parsed, not
re-validated), unchanged files are not hashed again, and the store is the one a full build makes."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from assistant.config import load_settings
from assistant.store import build as store_build
from assistant.store import corpus as store_corpus
from assistant.store import parsing as store_parsing
from assistant.store.build import build_index
from tests.conftest import CORPUS, write_config

TXT = sorted(p.name for p in CORPUS.glob("*.txt"))  # five real text reports
CHANGED = "002_20041eb3cb8715ee.txt"


def _corpus(root: Path) -> Path:
    (root / "corpus").mkdir(parents=True)
    for name in TXT:
        shutil.copy(CORPUS / name, root / "corpus" / name)
    return write_config(root, [root / "corpus"], root / "index")


def _dump(index: Path, ids: bool = False) -> dict[str, list]:
    """Every table of facts.sqlite except the corpus file stamps, rows in a fixed order: facts as
    readers see them (ORDER BY doc, line, id), with their ids only if ``ids``."""
    con = sqlite3.connect(f"file:{index / 'facts.sqlite'}?mode=ro", uri=True)
    try:
        return {
            "meta": con.execute("SELECT * FROM meta WHERE key != 'source_stamps' ORDER BY key").fetchall(),
            "reports": con.execute("SELECT * FROM reports ORDER BY doc").fetchall(),
            "aliases": con.execute("SELECT * FROM aliases ORDER BY alias, department").fetchall(),
            "labels": con.execute("SELECT * FROM labels ORDER BY metric, label").fetchall(),
            "facts": [r if ids else r[1:] for r in con.execute("SELECT * FROM facts ORDER BY doc, line, id")],
            "indexes": con.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name"
            ).fetchall(),
        }
    finally:
        con.close()


def _build(cfg: Path, **kw) -> store_build.BuildResult:  # noqa: ANN003
    return build_index(load_settings(cfg), embed=False, retrieval=False, log=lambda *a: None, **kw)


@pytest.fixture
def counted(monkeypatch):  # noqa: ANN201
    """Names of the files parsed and hashed by the builds of this test (serial parsing: in process)."""
    seen: dict[str, list[str]] = {"parsed": [], "hashed": []}
    parse, sha = store_parsing.parse_file, store_corpus.sha256_file
    monkeypatch.setattr(store_parsing, "PARALLEL_FROM", 10**6)
    monkeypatch.setattr(store_parsing, "parse_file", lambda p: (seen["parsed"].append(p.name), parse(p))[1])
    monkeypatch.setattr(store_corpus, "sha256_file", lambda p: (seen["hashed"].append(p.name), sha(p))[1])
    monkeypatch.setattr(store_corpus, "RACY_SECONDS", 0.0)  # the files were copied just now
    return seen


def test_only_the_changed_report_is_parsed_and_the_store_is_a_full_builds(tmp_path, counted):
    cfg = _corpus(tmp_path / "inc")
    first = _build(cfg)
    assert sorted(first.indexed) == TXT and not first.skipped
    before = _dump(tmp_path / "inc" / "index")
    counted["parsed"].clear()
    counted["hashed"].clear()

    with (tmp_path / "inc" / "corpus" / CHANGED).open("a", encoding="utf-8") as fh:
        fh.write("\n附注：本行为测试追加。\n")
    second = _build(cfg)
    assert second.indexed == [CHANGED]
    assert sorted(second.reused) == sorted(set(TXT) - {CHANGED})
    assert second.n_facts == first.n_facts
    assert counted["parsed"] == [CHANGED]
    # unchanged files keep their recorded stamp: only the changed one (and the new store) is hashed
    assert [n for n in counted["hashed"] if n != "facts.sqlite"] == [CHANGED]
    after = _dump(tmp_path / "inc" / "index")
    assert [f for f in after["facts"] if f[0] != CHANGED] == [f for f in before["facts"] if f[0] != CHANGED]

    # the same corpus built from scratch: the same store, row for row
    shutil.copytree(tmp_path / "inc" / "corpus", tmp_path / "full" / "corpus")
    full = _build(
        write_config(tmp_path / "full", [tmp_path / "full" / "corpus"], tmp_path / "full" / "index")
    )
    assert sorted(full.indexed) == TXT
    fresh = _dump(tmp_path / "full" / "index")
    for table in fresh:
        if table != "reports":
            assert after[table] == fresh[table], table
    # reports differ only by the path column of the JSON (another corpus folder)
    assert [r[:2] + r[3:] for r in after["reports"]] == [r[:2] + r[3:] for r in fresh["reports"]]


def test_a_rewrite_with_the_same_size_and_mtime_is_noticed(tmp_path, counted):
    cfg = _corpus(tmp_path)
    _build(cfg)
    path = tmp_path / "corpus" / CHANGED
    st = path.stat()
    text = path.read_text(encoding="utf-8")
    i = text.index("2021")
    path.write_text(text[:i] + "2019" + text[i + 4 :], encoding="utf-8")  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the old mtime (cp -p, rsync -t do this)
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    counted["parsed"].clear()
    result = _build(cfg)
    assert result.indexed == [CHANGED]  # the change time gave it away
    assert counted["parsed"] == [CHANGED]


def test_parallel_and_serial_parsing_give_the_same_store(tmp_path, monkeypatch):
    cfg = _corpus(tmp_path / "a")
    monkeypatch.setattr(store_parsing, "PARALLEL_FROM", 2)
    parallel = _build(cfg)
    assert sorted(parallel.indexed) == TXT
    shutil.copytree(tmp_path / "a" / "corpus", tmp_path / "b" / "corpus")
    monkeypatch.setattr(store_parsing, "PARALLEL_FROM", 10**6)
    serial = _build(write_config(tmp_path / "b", [tmp_path / "b" / "corpus"], tmp_path / "b" / "index"))
    assert serial.n_facts == parallel.n_facts
    a, b = _dump(tmp_path / "a" / "index"), _dump(tmp_path / "b" / "index")
    assert a["facts"] == b["facts"] and a["labels"] == b["labels"] and a["aliases"] == b["aliases"]


def test_a_removed_report_leaves_the_store(tmp_path):
    cfg = _corpus(tmp_path)
    _build(cfg)
    (tmp_path / "corpus" / CHANGED).unlink()
    result = _build(cfg)
    assert not result.indexed and CHANGED not in result.reused
    facts = _dump(tmp_path / "index")["facts"]
    assert facts and all(f[0] != CHANGED for f in facts)


def test_mostly_changed_corpus_copies_the_rest_into_a_fresh_store(tmp_path, counted):
    # 3 of 5 changed: a fresh store with the 2 others copied in by SQL; facts numbered as in a full build
    cfg = _corpus(tmp_path / "inc")
    _build(cfg)
    changed = TXT[:3]
    for name in changed:
        with (tmp_path / "inc" / "corpus" / name).open("a", encoding="utf-8") as fh:
            fh.write("\n附注：本行为测试追加。\n")
    counted["parsed"].clear()
    result = _build(cfg)
    assert sorted(result.indexed) == changed and sorted(result.reused) == TXT[3:]
    assert sorted(counted["parsed"]) == changed
    shutil.copytree(tmp_path / "inc" / "corpus", tmp_path / "full" / "corpus")
    _build(write_config(tmp_path / "full", [tmp_path / "full" / "corpus"], tmp_path / "full" / "index"))
    after, fresh = _dump(tmp_path / "inc" / "index", ids=True), _dump(tmp_path / "full" / "index", ids=True)
    for table in ("facts", "labels", "aliases", "indexes", "meta"):
        assert after[table] == fresh[table], table
