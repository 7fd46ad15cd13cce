"""Metric lexicon: synonyms, label canonicalisation, qualifiers and units."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from assistant.parse.lexicon import (
    COUNT_METRICS,
    COUNT_VARIANTS,
    METRICS,
    QUALIFIERS,
    STOCK_METRICS,
    UNITS,
    all_terms,
    canonical_metric,
    canonical_qualifier,
    metric_kind,
    normalize_label,
    to_yuan,
    unit_kind,
)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("三公经费", "三公经费"),
        ("“三公”经费", "三公经费"),
        ('"三公"经费', "三公经费"),
        ("三公", "三公经费"),
        ("2021年“三公”经费财政拨款支出决算", "三公经费"),
        ("招待费", "公务接待费"),
        ("公务接待费支出决算", "公务接待费"),
        ("公务用车购置及运行费", "公务用车购置及运行维护费"),
        ("公车", "公务用车购置及运行维护费"),
        ("公车运维", "公务用车运行维护费"),
        ("公务用车购置费", "公务用车购置费"),
        ("因公出国（境）费", "因公出国（境）费"),
        ("因公出国(境)费", "因公出国（境）费"),
        ("出国经费", "因公出国（境）费"),
        ("政府采购支出总额", "政府采购"),
        ("买了多少东西", "政府采购"),
        ("收入总计", "收入总计"),  # 本年收入合计 + 结转结余: not the same figure
        ("总支出", "本年支出合计"),
        ("结转结余", "年末结转和结余"),
        ("年初财政拨款结转和结余", "年初结转和结余"),
        ("有几辆车", "车辆数"),
        ("6．国内公务接待人次（人）", "国内公务接待人次"),
        ("一、一般公共预算财政拨款收入", "一般公共预算财政拨款收入"),
        ("一般公共预算财政拨款基本支出", "基本支出"),
        ("住房保障支出(类）", "住房保障支出"),
        ("医疗卫生支出", "卫生健康支出"),
        ("机关运行经费", "机关运行经费"),
    ],
)
def test_canonical_metric(label: str, expected: str) -> None:
    assert canonical_metric(label) == expected


@pytest.mark.parametrize(
    "label", ["其他商品和服务支出", "使用非财政拨款结余", "基本工资", "差旅费", "", "（）"]
)
def test_unknown_or_residual_labels_stay_unmapped(label: str) -> None:
    # 其他… rows are residual categories: mapping them to their parent would attach a wrong number
    assert canonical_metric(label) is None


def test_normalize_label_folds_width_quotes_spaces() -> None:
    assert normalize_label(" “三公” 经费 ") == "三公经费"
    assert normalize_label("因公出国（境）费") == "因公出国(境)费"


def test_all_terms_longest_first_and_complete() -> None:
    terms = all_terms()
    lengths = [len(t) for t, _ in terms]
    assert lengths == sorted(lengths, reverse=True)
    found = dict(terms)
    assert found["三公经费"] == "三公经费"
    assert found["招待费"] == "公务接待费"
    assert set(found.values()) == set(METRICS)


def test_no_term_belongs_to_two_metrics() -> None:
    counts: Counter[str] = Counter()
    for canonical, synonyms in METRICS.items():
        counts.update({normalize_label(t) for t in (canonical, *synonyms)})
    assert [t for t, n in counts.items() if n > 1] == []


def test_metric_kinds_and_variants_are_consistent() -> None:
    assert STOCK_METRICS <= set(METRICS)
    assert COUNT_METRICS <= set(METRICS)
    for (money_metric, unit), count_metric in COUNT_VARIANTS.items():
        assert metric_kind(money_metric) == "money"
        assert metric_kind(count_metric) == "count"
        assert unit_kind(unit) == "count"
    assert metric_kind("执行率") == "percent"
    assert metric_kind("不在词表里的行") == "money"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("预算", "预算数"),
        ("全年预算", "预算数"),
        ("年初预算", "年初预算数"),
        ("调整预算数", "调整预算数"),
        ("实际支出", "决算数"),
        ("花了", "决算数"),
        ("比2020年增加131.39万元", "比上年增减"),
        ("增长12.46%", "增长率"),
        ("下降6.90%", "增长率"),
        ("占73.92%", "占比"),
        ("完成预算100%", "执行率"),
        ("邮电费", None),
    ],
)
def test_canonical_qualifier(text: str, expected: str | None) -> None:
    assert canonical_qualifier(text) == expected


def test_qualifiers_data_shape() -> None:
    assert {"预算数", "决算数", "调整预算数", "比上年增减", "增长率", "占比", "执行率"} <= set(QUALIFIERS)


def test_to_yuan() -> None:
    assert to_yuan(Decimal("0.45"), "万元") == Decimal("4500.00")
    assert to_yuan(Decimal("5406.00"), "元") == Decimal("5406.00")
    assert to_yuan(Decimal("1.5"), "亿元") == Decimal("150000000.0")
    assert to_yuan(Decimal("3"), "批次") is None
    assert to_yuan(Decimal("98.81"), "%") is None
    assert to_yuan(Decimal("1"), "斤") is None


def test_units_have_kinds() -> None:
    assert unit_kind("万元") == "money"
    assert unit_kind("人次") == "count"
    assert unit_kind("台（套）") == "count"
    assert unit_kind("%") == "percent"
    assert unit_kind("年") is None
    assert all(kind in {"money", "count", "percent", "area"} for kind, _ in UNITS.values())
