"""Shared fixtures: one index built from the real corpus into a temp dir, and an Engine on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import load_settings

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"


def write_config(tmp: Path, corpus: list[Path], index: Path) -> Path:
    """A config.toml in ``tmp`` pointing at ``corpus`` and ``index`` (absolute paths)."""
    corpus_list = ", ".join(f'"{p.as_posix()}"' for p in corpus)
    cfg = tmp / "config.toml"
    cfg.write_text(f'[paths]\ncorpus = [{corpus_list}]\nindex = "{index.as_posix()}"\n', encoding="utf-8")
    return cfg


@pytest.fixture(scope="session")
def built_config(tmp_path_factory) -> Path:
    from assistant.store.build import build_index

    tmp = tmp_path_factory.mktemp("built")
    cfg = write_config(tmp, [CORPUS], tmp / "index")
    settings = load_settings(cfg)
    result = build_index(settings, embed=False, log=lambda *a: None)
    assert not result.skipped, result.skipped
    return cfg


@pytest.fixture(scope="session")
def built_settings(built_config):
    return load_settings(built_config)


@pytest.fixture(scope="session")
def store(built_settings):
    from assistant.store.db import open_store

    con = open_store(built_settings.index_dir)
    yield con
    con.close()


@pytest.fixture(scope="session")
def engine(built_settings):
    from assistant.answer.engine import Engine

    return Engine(built_settings)
