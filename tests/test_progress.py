"""`assistant index` progress: bars for reports parsed and passages embedded, silent when not a terminal."""

from __future__ import annotations

import shutil
from pathlib import Path

from assistant.config import load_settings
from assistant.interfaces.index import run_index
from assistant.interfaces.progress import BuildProgress
from assistant.store.build import build_index
from tests.conftest import CORPUS, write_config

TEXTS = sorted(CORPUS.glob("*.txt"))[:2]


class Recording(BuildProgress):
    """Records the bars a build asks for instead of drawing them."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
        self.bars: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self._labels: list[str] = []

    def start(self, label: str, total: int) -> int | None:
        self._labels.append(label)
        self.bars[label], self.done[label] = total, 0
        return len(self._labels) - 1

    def advance(self, task: int | None, n: int = 1) -> None:
        assert task is not None
        self.done[self._labels[task]] += n


def _corpus(tmp: Path) -> Path:
    corpus = tmp / "corpus"
    corpus.mkdir()
    for p in TEXTS:
        shutil.copy(p, corpus / p.name)
    return corpus


def test_build_counts_the_reports_it_parses(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, [_corpus(tmp_path)], tmp_path / "index"))
    bars = Recording()
    build_index(settings, embed=False, log=lambda *a: None, progress=bars)
    assert bars.bars == {"解析报告": 2} and bars.done == {"解析报告": 2}
    again = Recording()
    build_index(settings, embed=False, log=lambda *a: None, progress=again)  # nothing to parse: no bar
    assert again.bars == {"解析报告": 0}


def test_rich_bars_show_count_and_log_lines_above(tmp_path: Path, capsys) -> None:
    settings = load_settings(write_config(tmp_path, [_corpus(tmp_path)], tmp_path / "index"))
    with BuildProgress(enabled=True) as progress:
        build_index(settings, embed=False, log=progress.log, progress=progress)
    err = capsys.readouterr().err
    assert "解析报告" in err and "2/2" in err
    assert f"{TEXTS[0].name}:" in err  # the per-report lines went through the progress console


def test_not_a_terminal_prints_no_bars(tmp_path: Path, capsys) -> None:
    cfg = write_config(tmp_path, [_corpus(tmp_path)], tmp_path / "index")
    assert run_index(load_settings(cfg), embed=False) == 0
    out = capsys.readouterr()
    assert "解析报告" not in out.err + out.out and f"{TEXTS[0].name}:" in out.out


def test_retrieval_build_counts_the_passages_it_embeds(tmp_path: Path) -> None:
    from assistant.config import Settings
    from assistant.ingest.loaders import load_document
    from assistant.ingest.metadata import detect_metadata
    from assistant.retrieve.index import RetrievalIndex
    from tests.test_retrieve import FakeEncoder

    docs = [(d, detect_metadata(d)) for d in (load_document(p) for p in TEXTS)]
    bars, enc = Recording(), FakeEncoder()
    stats = RetrievalIndex.build(
        tmp_path, docs, Settings(base_dir=str(tmp_path)), embed=True, progress=bars, encoder=enc
    )
    assert stats.chunks_embedded == enc.passages_encoded > 0
    assert bars.bars == {"嵌入段落": stats.chunks_embedded} and bars.done == bars.bars
