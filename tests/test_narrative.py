"""Narrative facts from the real corpus: values, lines and qualifiers checked by hand against the files."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest

from assistant.ingest.loaders import load_document
from assistant.models import Document, Fact, Report, SourceLine
from assistant.parse.narrative import extract_narrative_facts

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
F000 = "000_db59d6f0fba66678.txt"
F001 = "001_8ee0239607d3cbd9.txt"
F002 = "002_20041eb3cb8715ee.txt"
F003 = "003_d6208e3fa212963b.txt"
F004 = "004_a15be56197084065.txt"
PDF_BUDGET = "上海市普陀区人民政府办公室25年预算.pdf"
PDF_FINAL = "中共上海市普陀区委社会工作部 2024 年度部门决算.pdf"
# Report metadata written here by hand, so these tests do not depend on metadata detection.
META = {
    F000: ("峨山彝族自治县医疗保障局", 2021, "决算"),
    F001: ("广元市昭化区医疗保障局", 2021, "决算"),
    F002: ("大城县医疗保障局", 2021, "预算"),
    F003: ("攀枝花市仁和区医疗保障局", 2020, "决算"),
    F004: ("固原市医疗保障局", 2020, "决算"),
    PDF_BUDGET: ("上海市普陀区人民政府办公室", 2025, "预算"),
    PDF_FINAL: ("中共上海市普陀区委社会工作部", 2024, "决算"),
}


@cache
def _loaded(name: str) -> tuple[Document, Report, tuple[Fact, ...]]:
    doc = load_document(CORPUS / name)
    dept, year, kind = META[name]
    report = Report(doc=doc.doc, path=doc.path, sha256=doc.sha256, department=dept, year=year, kind=kind)
    return doc, report, tuple(extract_narrative_facts(doc, report))


def facts(name: str) -> tuple[Fact, ...]:
    return _loaded(name)[2]


def find(name: str, metric: str, value: str, qualifier: str | None = "any", **attrs: object) -> Fact:
    """The single fact of ``name`` with this metric and value (and qualifier/attrs when given)."""
    hits = [
        f
        for f in facts(name)
        if f.metric == metric
        and f.value == Decimal(value)
        and (qualifier == "any" or f.qualifier == qualifier)
        and all(getattr(f, k) == v for k, v in attrs.items())
    ]
    assert hits, f"no {metric}={value} ({qualifier}) in {name}: " + repr(
        [(f.metric, str(f.value), f.qualifier, f.line) for f in facts(name) if f.metric == metric]
    )
    return hits[0]


def metrics_with(name: str, value: str) -> set[str]:
    return {f.metric for f in facts(name) if f.value == Decimal(value)}


# ------------------------------------------------------------------ 001 昭化区 2021 决算


def test_001_procurement_reception_and_batches() -> None:
    f = find(F001, "政府采购", "10.05", "决算数", line=100)
    assert (f.unit, f.value_yuan, f.year, f.label) == ("万元", Decimal("100500.00"), 2021, "政府采购支出总额")
    assert "政府采购支出总额10.05万元" in f.snippet
    assert f.source == "narrative" and f.flags == [] and f.department == "广元市昭化区医疗保障局"
    assert find(F001, "公务接待费", "0.45", "决算数", line=87).unit == "万元"
    assert find(F001, "国内公务接待批次", "10", line=88).unit == "批次"
    assert find(F001, "国内公务接待人次", "60", line=88).unit == "人次"
    assert find(F001, "国内公务接待费", "0.45", line=88).unit == "万元"


def test_001_spending_structure_and_changes() -> None:
    assert find(F001, "基本支出", "340.53", "决算数", line=37).unit == "万元"
    assert find(F001, "基本支出", "73.92", "占比").unit == "%"
    assert find(F001, "三公经费", "0.45", "决算数", line=78).year == 2021
    assert find(F001, "三公经费", "100", "执行率").unit == "%"
    change = find(F001, "收支总计", "131.39", "比上年增减", line=31)
    assert change.year == 2021  # 比2020年 is the comparison base, not the fact's year
    assert find(F001, "收支总计", "39.90", "增长率", line=31).unit == "%"
    assert find(F001, "参保人数", "18.97", None).unit == "万人"
    # as written (the report says 元 where its tables say 万元); kept, for the conflict check
    assert find(F001, "机关运行经费", "125.58", "决算数", line=98).unit == "元"
    assert find(F001, "车辆数", "0", None, line=102).unit == "辆"


def test_001_item_chain_attributes_to_the_xiang() -> None:
    f = find(F001, "社会保险业务管理事务", "308.79", "决算数", line=69)
    assert f.label == "人力资源和社会保障管理事务(款)社会保险业务管理事务(项)"


# ------------------------------------------------------------------ 002 大城县 2021 预算


def test_002_budget_sentences() -> None:
    assert find(F002, "本年收入合计", "6325.23", "预算数", line=65, year=2021).label == "预算收入"
    assert find(F002, "基本支出", "394.53", "预算数", line=73).unit == "万元"
    assert find(F002, "机关运行经费", "31.26", "预算数", line=88).snippet.startswith(
        "2021年，我局机关运行经费共计安排31.26万元"
    )
    assert find(F002, "三公经费", "6", "预算数", line=94).unit == "万元"
    assert find(F002, "公务用车运行维护费", "6", "预算数", line=96).label == "公务用车运维费"
    assert find(F002, "公务用车购置费", "0", "预算数", line=96).unit == "万元"
    drop = find(F002, "收支总计", "-16463.54", "比上年增减")
    assert drop.year == 2021 and drop.value_yuan == Decimal("-164635400.00")


# ------------------------------------------------------------------ 003 仁和区 2020 决算


def test_003_reception_and_change_over_2019() -> None:
    assert find(F003, "公务接待费", "0.25", "决算数", line=412).year == 2020
    up = find(F003, "公务接待费", "0.24", "比上年增减", line=414)
    assert up.year == 2020 and up.unit == "万元"
    assert find(F003, "公务接待费", "1808.27", "增长率", line=414).unit == "%"
    assert find(F003, "国内公务接待批次", "3", line=420).unit == "批次"
    assert find(F003, "国内公务接待人次", "18", line=420).line_end == 424
    assert find(F003, "项目支出", "1347.59", "决算数", line=169).unit == "万元"


def test_003_page_number_inside_sentence_is_not_a_fact() -> None:
    # line 241 is a bare page number "13" between two halves of a sentence
    assert not [f for f in facts(F003) if f.line == 241]


# ------------------------------------------------------------------ 000 峨山县 2021 决算 / 004 固原市 2020 决算


def test_000_three_public_and_reception_budget() -> None:
    assert find(F000, "三公经费", "0.54", "决算数", line=653).unit == "万元"
    assert find(F000, "公务接待费", "-0.04", "比上年增减").unit == "万元"
    assert find(F000, "公务接待费", "0.56", "年初预算数", line=657).label == "接待费"


def test_004_operating_funds_and_budget_comparison() -> None:
    f = find(F004, "机关运行经费", "127989.14", "决算数", line=427)
    assert f.unit == "元" and f.value_yuan == Decimal("127989.14")
    assert find(F004, "机关运行经费", "-7180.86", "比上年增减", line=427).year == 2020
    # 较2020年度年初预算数减少: compared with the same year's budget, not with last year
    assert find(F004, "工资福利支出", "-170021.08", "比预算增减", line=399).unit == "元"
    assert find(F004, "人员经费", "1321478.92", "决算数", line=397).unit == "元"
    # a fund's own 年末结转和结余 is not the department's
    assert not [f for f in facts(F004) if f.line == 417]


def test_004_ambiguous_direction_is_skipped() -> None:
    # "较2019年度决算数增加减少5,149元": both directions written, so no signed change is guessed
    assert "资本性支出" not in metrics_with(F004, "5149") and "资本性支出" not in metrics_with(F004, "-5149")


# ------------------------------------------------------------------ PDFs


def test_pdf_budget_2025() -> None:
    f = find(PDF_BUDGET, "本年收入合计", "9101.68", "预算数", line=63, year=2025)
    assert f.page == 6 and f.label == "收入预算"
    cut = find(PDF_BUDGET, "财政拨款收入", "-2389.52", "比上年增减", line=63)
    assert cut.line_end == 64 and cut.year == 2025  # "2,389.52万" / "元" wraps onto line 64
    assert find(PDF_BUDGET, "因公出国（境）费", "839", "预算数", line=262).page == 21
    assert find(PDF_BUDGET, "政府采购", "34", "预算数", line=269).unit == "万元"
    assert find(PDF_BUDGET, "机关运行经费", "213.28", "预算数", line=267).unit == "万元"
    assert find(PDF_BUDGET, "政府性基金预算财政拨款支出", "0", "预算数", line=66).unit == "万元"
    assert find(PDF_BUDGET, "行政运行", "1202.95", "预算数", line=70).unit == "万元"
    # the SME-reserved procurement budget is not the procurement budget
    assert [f.line for f in facts(PDF_BUDGET) if f.metric == "政府采购"] == [269]


def test_pdf_final_2024() -> None:
    f = find(PDF_FINAL, "政府采购", "21.07", "决算数", line=415)
    assert f.label == "政府采购金额" and f.page == 22
    zero = find(PDF_FINAL, "三公经费", "0", "决算数", line=390)
    assert "无“三公”经费" in zero.snippet and zero.unit == "万元"
    assert find(PDF_FINAL, "事业运行", "17.68", "预算数", line=350).label == "社会工作事务(款)事业运行(项)"
    assert find(PDF_FINAL, "事业运行", "11.31", "决算数", line=351).unit == "万元"
    total = find(PDF_FINAL, "收支总计", "307.82", "决算数", line=318)
    assert total.line_end == 319  # "307.82" / "万元" on the next line
    assert find(PDF_FINAL, "一般公共预算财政拨款支出", "0", "年初预算数", line=342).unit == "万元"
    assert find(PDF_FINAL, "一般公共预算财政拨款支出", "321.02", "预算数", line=343).unit == "万元"
    # "无政府性基金预算财政拨款收入支出的，仍保留该表格式" is an instruction, not a statement
    assert not [f for f in facts(PDF_FINAL) if f.line == 302]


# ------------------------------------------------------------------ properties over every file


ALL = [F000, F001, F002, F003, F004, PDF_BUDGET, PDF_FINAL]


@pytest.mark.parametrize("name", ALL)
def test_no_year_is_a_fact(name: str) -> None:
    values = {f.value for f in facts(name)}
    assert not values & {Decimal(y) for y in range(2015, 2027)}


@pytest.mark.parametrize("name", ALL)
def test_every_number_is_on_its_cited_line(name: str) -> None:
    doc = _loaded(name)[0]
    assert facts(name), name
    for f in facts(name):
        assert f.source == "narrative" and f.flags == []
        assert f.line <= (f.line_end or f.line)
        if f.value == 0 and ("无" in f.snippet or "没有" in f.snippet):
            continue  # stated absence: no digit to find
        text = doc.lines[f.line - 1].text.replace(",", "").replace(" ", "")
        assert format(abs(f.value), "f") in text, (f.metric, f.value, f.line)
        if f.unit in ("元", "万元", "亿元"):
            assert f.value_yuan is not None
        else:
            assert f.value_yuan is None


def test_handmade_document_wrapped_number_and_unit() -> None:
    lines = [
        "（二）政府采购支出情况",
        "2021年，政府采购支出总额10.05",
        "",
        "万元，其中：政府采购货物支出10.05万元。",
    ]
    doc = Document(
        doc="t.txt",
        path="t.txt",
        sha256="0",
        filetype="txt",
        lines=[SourceLine(line=i + 1, text=t, raw=t) for i, t in enumerate(lines)],
    )
    report = Report(doc="t.txt", path="t.txt", sha256="0", year=2021, kind="决算")
    got = {(f.metric, str(f.value), f.unit, f.line, f.line_end) for f in extract_narrative_facts(doc, report)}
    assert ("政府采购", "10.05", "万元", 2, 4) in got
    assert ("政府采购货物", "10.05", "万元", 4, 4) in got


def test_level_with_last_year_is_a_change_of_zero() -> None:
    # "（一）因公出国（境）费839万元，与2024年预算持平。" → 比上年增减 0 万元 on that line.
    f = find(PDF_BUDGET, "因公出国（境）费", "0", "比上年增减", line=262)
    assert f.unit == "万元" and f.value_yuan == Decimal(0)
    assert find(PDF_BUDGET, "三公经费", "0", "比上年增减", line=261).unit == "万元"
    assert find(PDF_BUDGET, "公务接待费", "0", "比上年增减", line=265)
    # The amount itself is unchanged by it.
    assert find(PDF_BUDGET, "因公出国（境）费", "839", "预算数", line=262)
    # 决算数与预算数持平 compares with the budget, not with last year: no 比上年增减 from it.
    assert not [x for x in facts(F001) if x.qualifier == "比上年增减" and x.line == 78]
