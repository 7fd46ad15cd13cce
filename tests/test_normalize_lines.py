"""normalize_lines (the document-at-once normaliser the text loader uses) gives exactly
``normalize_text`` of every line: on the real corpus, on the bold/spacing/number artefacts
normalize_text exists for, and on arbitrary lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.ingest.normalize import normalize_lines, normalize_text

CORPUS = Path(__file__).resolve().parent.parent / "corpus"

ARTEFACTS = [
    "（（（（一一一一））））主要职能主要职能主要职能主要职能。。。。",
    "2020202020202020 年",
    "x2019201920192019y",
    "1234567890123456",
    "整预算数的整预算数的整预算数的整预算数的 99.9599.9599.9599.95%%%%。。。。其中其中其中其中：：：：",
    "4444....农林水支出农林水支出农林水支出农林水支出（（（（类类类类））））",
    "主主要要职职能能",
    "主主主要要要职职职能能能",
    "人人民民",
    "收入1，234元，支出12，3456元，1，23",
    "１２，３４５．６７",
    "[bookmark: _Toc123]第一部分",
    "［ｂｏｏｋｍａｒｋ： _Toc1］标题",
    "  两  个  空格  ",
    "\u3000\u3000首行缩进",
    "a\u00a0b",
    "……………………",
    "主 主 主 主 主",
    "主  主  主  主",
    "一二三四一二三四一二三四一二三四一二三四",
    "",
    " ",
    "\t1\t2\t",
]


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.txt")), ids=lambda p: p.name[:3])
def test_corpus_lines_match_normalize_text(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert normalize_lines(lines) == [normalize_text(s) for s in lines]


def test_artefacts_match_normalize_text() -> None:
    assert normalize_lines(ARTEFACTS) == [normalize_text(s) for s in ARTEFACTS]
    # one line at a time too (no neighbours to share a scan with)
    assert [normalize_lines([s])[0] for s in ARTEFACTS] == [normalize_text(s) for s in ARTEFACTS]


def test_lines_holding_a_newline_fall_back() -> None:
    lines = ["a  b\nc  d", "（一）"]
    assert normalize_lines(lines) == [normalize_text(s) for s in lines]
    assert normalize_lines([]) == []


# units repeated (bold artefacts), doubled CJK, full-width forms, digits, spaces
PIECES = st.sampled_from(
    [
        "主要职能",
        "一",
        "（",
        "）",
        "：",
        "，",
        "。",
        "2020",
        "1",
        "23",
        "４",
        "Ａ",
        " ",
        "  ",
        "\u3000",
        "\t",
        "[bookmark: x]",
        "年",
        "万元",
        "合计",
        "人",
        "民",
        "%",
        ".",
        "…",
    ]
)


@st.composite
def reportish_line(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(PIECES, st.integers(1, 5)), max_size=12))
    line = "".join(p * n for p, n in parts)
    if draw(st.booleans()):
        line += draw(st.text(max_size=20)).replace("\n", "")
    return line


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(reportish_line(), max_size=20))
def test_any_lines_match_normalize_text(lines: list[str]) -> None:
    assert normalize_lines(lines) == [normalize_text(s) for s in lines]
