"""normalize_text / parse_number / format_number: corpus examples and properties."""

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.ingest.normalize import format_number, normalize_text, parse_number

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("（（（（一一一一））））主要职能主要职能主要职能主要职能。。。。", "(一)主要职能。"),
        ("2020202020202020 年", "2020 年"),
        ("2020202020202020", "2020"),
        (
            " 第二部分第二部分第二部分第二部分 2020202020202020 年度部门决算情况说明年度部门决算情况说明"
            "年度部门决算情况说明年度部门决算情况说明",
            "第二部分 2020 年度部门决算情况说明",
        ),
        (
            "整预算数的整预算数的整预算数的整预算数的 99.9599.9599.9599.95%%%%。。。。其中其中其中其中：：：：",
            "整预算数的 99.95%。其中:",
        ),
        ("4444....农林水支出农林水支出农林水支出农林水支出（（（（类类类类））））", "4.农林水支出(类)"),
        (
            "1.1.1.1.因公出国因公出国因公出国因公出国（（（（境境境境））））经费支出经费支出经费支出经费支出 0 万元",
            "1.因公出国(境)经费支出 0 万元",
        ),
        (
            " 项目绩效目标完成情况表项目绩效目标完成情况表项目绩效目标完成情况表项目绩效目标完成情况表 1111",
            "项目绩效目标完成情况表 1",
        ),
        ("主主要要职职能能", "主要职能"),
        ("[bookmark: _Toc15378445][bookmark: _Toc15377198]（一）主要职能", "(一)主要职能"),
        ("１２３ＡＢ（）：％", "123AB():%"),
        ("1，234.00", "1,234.00"),
        ("a   b  c", "a b c"),
    ],
)
def test_examples(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    "keep",
    [
        "11,000.00",
        "2020",
        "1,111.11",
        "10000",
        "1111",
        "支出 10000 元，1111 人",
        "人人研法、事事有回音",
        "“三公”经费；主要用于。",
        "分别为10，20，30",
        "目录………………………… 5",
        "收入\t支出\t合计",
    ],
)
def test_real_text_untouched(keep: str) -> None:
    assert normalize_text(keep) == keep


def test_corpus_003_bold_lines_collapse() -> None:
    lines = (CORPUS / "003_d6208e3fa212963b.txt").read_text(encoding="utf-8").split("\n")
    assert normalize_text(lines[4]) == "(一)主要职能。"
    assert normalize_text(lines[131]) == "第二部分 2020 年度部门决算情况说明"
    assert "1409.28 万元" in normalize_text(lines[228])


def test_corpus_numbers_survive() -> None:
    """No number of the plain-text exports changes under normalisation (except 003's bold lines)."""
    import re

    for path in sorted(CORPUS.glob("00[0124]_*.txt")):
        for line in path.read_text(encoding="utf-8").split("\n"):
            nums = re.findall(r"\d[\d,]*\.\d+", line)
            norm = normalize_text(line)
            for n in nums:
                assert n in norm, (path.name, line)


text_alphabet = st.sampled_from(
    list("一二主要职能年度支出（）()：:，,。、；“”0123456789.%  \t[]bookmark_Toc１２Ａ－—-") + ["\n"]
)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=text_alphabet, max_size=60))
def test_idempotent(x: str) -> None:
    once = normalize_text(x)
    assert normalize_text(once) == once


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["一", "主要", "职能", "（", "）", "2020", "。", "1."]), max_size=8),
    st.integers(2, 4),
)
def test_idempotent_on_repetitions(units: list[str], k: int) -> None:
    x = "".join(u * k for u in units)
    once = normalize_text(x)
    assert normalize_text(once) == once


@pytest.mark.parametrize(
    ("s", "expected"),
    [
        ("11,598,130.25", Decimal("11598130.25")),
        ("1，234.50", Decimal("1234.50")),
        ("0", Decimal("0")),
        ("0.00", Decimal("0.00")),
        ("39.90%", Decimal("39.90")),
        ("９９.５％", Decimal("99.5")),
        ("(1,234.00)", Decimal("-1234.00")),
        ("-12.3", Decimal("-12.3")),
        ("－12.3", Decimal("-12.3")),
        (" 867.50 ", Decimal("867.50")),
        ("—", None),
        ("-", None),
        ("－", None),
        ("", None),
        ("   ", None),
        ("10,20", None),
        ("万元", None),
        ("1.2.3", None),
    ],
)
def test_parse_number(s: str, expected: Decimal | None) -> None:
    assert parse_number(s) == expected


@pytest.mark.parametrize(
    ("d", "s"),
    [
        (Decimal("1234.50"), "1,234.50"),
        (Decimal("12029501.84"), "12,029,501.84"),
        (Decimal("0"), "0"),
        (Decimal("-1000"), "-1,000"),
        (Decimal("0.00"), "0.00"),
    ],
)
def test_format_number(d: Decimal, s: str) -> None:
    assert format_number(d) == s


@settings(max_examples=300, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**12), max_value=10**12))
def test_number_round_trip(x: Decimal) -> None:
    out = parse_number(format_number(x))
    assert out == x
    assert format_number(out) == format_number(x)  # stated decimals kept
