"""Answers on the real corpus: exact values, kinds, citations, follow-ups, the JSON shape and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import CORPUS, REPO

from assistant.answer.session import Session

DOC000 = "000_db59d6f0fba66678.txt"
DOC003 = "003_d6208e3fa212963b.txt"
DOC004 = "004_a15be56197084065.txt"
FIVE = {
    "峨山彝族自治县医疗保障局",
    "广元市昭化区医疗保障局",
    "大城县医疗保障局",
    "攀枝花市仁和区医疗保障局",
    "固原市医疗保障局",
}
TO_YUAN = {"元": Decimal(1), "万元": Decimal(10000), "亿元": Decimal(100000000)}


def ask(engine, q, session=None):
    return engine.ask(q, session if session is not None else Session())


def values_of(a):
    return [(Decimal(v.value), v.unit, v.qualifier, v.citation.doc) for v in a.values]


def has_value(
    a,
    value: str,
    unit: str,
    *,
    qualifier: str | None = None,
    doc: str | None = None,
    metric: str | None = None,
) -> bool:
    for v in a.values:
        if Decimal(v.value) != Decimal(value) or v.unit != unit:
            continue
        if qualifier is not None and v.qualifier != qualifier:
            continue
        if doc is not None and v.citation.doc != doc:
            continue
        if metric is not None and metric not in v.metric:
            continue
        return True
    return False


def cited_line(doc: str, line: int) -> str:
    return (CORPUS / doc).read_text(encoding="utf-8").splitlines()[line - 1]


def test_sangong_lookup(engine):
    a = ask(engine, "峨山县医保局2021年三公经费多少")
    assert a.kind == "lookup", a.text
    assert has_value(a, "5406.00", "元", qualifier="决算数", doc=DOC000), values_of(a)
    assert "5,600.00" in a.text and "预算数" in a.text, a.text
    v = next(v for v in a.values if Decimal(v.value) == Decimal("5406.00"))
    assert "5,406.00" in cited_line(DOC000, v.citation.line)
    assert any(c.doc == DOC000 for c in a.citations), a.citations


def test_followup_reception(engine):
    s = Session()
    first = engine.ask("峨山县医保局2021年三公经费多少", s)
    assert first.kind == "lookup"
    a = engine.ask("其中公务接待费呢？", s)
    assert a.kind == "lookup", a.text
    assert has_value(a, "5406.00", "元", doc=DOC000, metric="公务接待费"), values_of(a)
    assert all("公务接待费" in v.metric for v in a.values[:1]), [v.metric for v in a.values]


def test_execution_rate(engine):
    a = ask(engine, "峨山县医保局三公经费预算执行率是多少")
    assert a.kind == "computed", a.text
    assert has_value(a, "96.54", "%"), values_of(a)
    assert (Decimal("5406.00") / Decimal("5600.00") * 100).quantize(Decimal("0.01")) == Decimal("96.54")
    assert a.derivation, "a computed answer explains its derivation"


def test_renhe_reception(engine):
    a = ask(engine, "仁和区医保局2020年公务接待费")
    assert a.kind == "lookup", a.text
    assert has_value(a, "0.25", "万元", doc=DOC003), values_of(a)


def test_renhe_reception_change(engine):
    a = ask(engine, "仁和区医保局2020年公务接待费比上年增加多少")
    assert a.kind in ("lookup", "computed"), a.text
    assert has_value(a, "0.24", "万元", doc=DOC003), values_of(a)


def test_guyuan_basic_share(engine):
    a = ask(engine, "固原市医保局2020年基本支出占本年支出合计的比例")
    assert a.kind == "computed", a.text
    assert has_value(a, "40.92", "%"), values_of(a)
    assert (Decimal("1420085.06") / Decimal("3470158.34") * 100).quantize(Decimal("0.01")) == Decimal("40.92")


def test_rank_total_expenditure(engine):
    a = ask(engine, "这五个医保局里哪个本年支出合计最多")
    assert a.kind in ("computed", "lookup"), a.text
    depts = [v.department for v in a.values]
    assert set(depts) == FIVE, depts
    yuan = [Decimal(v.value) * TO_YUAN[v.unit] for v in a.values]
    assert yuan[0] == max(yuan), list(zip(depts, yuan, strict=True))
    assert yuan == sorted(yuan, reverse=True), list(zip(depts, yuan, strict=True))
    top = a.values[0].department
    assert top in a.text.splitlines()[0], a.text
    for v in a.values:
        if v.citation.doc.endswith(".txt"):
            raw = cited_line(v.citation.doc, v.citation.line).replace(",", "")
            assert str(Decimal(v.value)) in raw or v.value in raw, (
                v.value,
                v.citation.doc,
                v.citation.line,
                raw,
            )


@pytest.mark.parametrize("q", ["峨山县医保局2019年三公经费是多少", "教育局2021年三公经费"])
def test_not_found(engine, q):
    a = ask(engine, q)
    assert a.kind == "not_found", (a.kind, a.text)
    assert a.values == []


def test_json_shape(engine):
    a = ask(engine, "峨山县医保局2021年三公经费多少")
    d = a.model_dump(mode="json")
    assert {"question", "kind", "text", "values", "citations"} <= set(d)
    assert d["question"] == "峨山县医保局2021年三公经费多少"
    assert isinstance(d["values"][0]["value"], str)
    json.dumps(d, ensure_ascii=False)


# ---------------------------------------------------------------------------- CLI


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess:
    # The module, not the installed script: a shared venv's script may predate this checkout
    # (tests/test_errors.py checks that pyproject's entry point names this main).
    return subprocess.run(
        [sys.executable, "-m", "assistant.interfaces.cli", "--config", str(config), "ask", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


def test_cli_ask_json(built_config):
    p = _cli(built_config, "峨山县医保局2021年三公经费多少", "--json")
    assert p.returncode == 0, (p.returncode, p.stdout[-500:], p.stderr[-500:])
    d = json.loads(p.stdout)
    assert d["kind"] == "lookup"
    assert any(Decimal(v["value"]) == Decimal("5406.00") and v["unit"] == "元" for v in d["values"]), d[
        "values"
    ]


def test_cli_ask_unanswerable_exits_1(built_config):
    p = _cli(built_config, "教育局2021年三公经费")
    assert p.returncode == 1, (p.returncode, p.stdout[-500:], p.stderr[-500:])


# --- more operations: sums, lists, departments compared, follow-up chains -------------------------
def test_sum_of_two_items_is_exact(engine) -> None:
    a = ask(engine, "峨山县医保局2021年公务接待费和差旅费一共多少")
    assert a.kind == "computed"
    assert has_value(a, "10769.00", "元", qualifier="合计", doc=DOC000)  # 5,406.00 + 5,363.00
    assert any("5,363.00" in d and "5,406.00" in d for d in a.derivation)


def test_list_gives_the_children_of_a_classification_code(engine) -> None:
    a = ask(engine, "峨山县医保局卫生健康支出各项有哪些")
    got = {(v.metric, Decimal(v.value)) for v in a.values}
    assert ("卫生健康支出", Decimal("11087057.20")) in got  # 支出决算表, not the 收入决算表
    assert ("医疗救助", Decimal("8281100.00")) in got
    assert ("医疗保障管理事务", Decimal("2602792.43")) in got


def test_difference_between_two_departments_says_the_years_differ(engine) -> None:
    a = ask(engine, "峨山县医保局和固原市医保局本年支出合计相差多少")
    assert a.kind == "computed"
    assert has_value(a, "8202316.86", "元")  # 11,672,475.20 − 3,470,158.34
    assert "不同年度" in a.text


def test_which_of_two_departments_is_larger(engine) -> None:
    a = ask(engine, "峨山县医保局和固原市医保局的本年支出合计哪个多")
    assert a.values[0].department == "峨山彝族自治县医疗保障局"
    assert Decimal(a.values[0].value) == Decimal("11672475.20")
    assert len(a.values) == 2


def test_follow_up_chain_year_and_department(engine) -> None:
    s = Session()
    ask(engine, "峨山县医保局2021年三公经费多少", s)
    ask(engine, "其中公务接待费呢？", s)
    a = ask(engine, "那2020年呢？", s)
    # 2020 is not a report year: derived from the 2021 report's stated change (0.54 − (−0.04) 万元).
    assert a.kind == "computed" and has_value(a, "0.58", "万元", doc=DOC000)
    b = ask(engine, "固原市医保局呢？", s)
    # 固原's sideways 三公 table (公开07表) states 0.00 for 公务接待费.
    assert has_value(b, "0.00", "元", qualifier="决算数", doc=DOC004)


def test_share_follow_up_uses_the_earlier_metric_as_the_part(engine) -> None:
    s = Session()
    ask(engine, "固原市医保局2020年基本支出是多少", s)
    a = ask(engine, "占本年支出合计多少？", s)
    assert a.kind == "computed" and has_value(a, "40.92", "%")


def test_change_carries_the_reports_own_reason(engine) -> None:
    a = ask(engine, "仁和区医保局2020年公务接待费比上年增加多少")
    assert has_value(a, "0.24", "万元", doc=DOC003)
    assert any("主要原因是本年度主要接待" in c.snippet for c in a.citations)


PUTUO_BUDGET = "上海市普陀区人民政府办公室25年预算.pdf"
SHEGONG = "中共上海市普陀区委社会工作部 2024 年度部门决算.pdf"


def test_expenditure_total_is_not_read_from_the_income_table(engine) -> None:
    # 收入表 and 支出表 both end in a 合计 row of 91,016,775.35: the answer must cite the 支出 one.
    a = ask(engine, "普陀区政府办2025年支出预算总计")
    assert has_value(a, "91016775.35", "元", qualifier="本年支出合计", doc=PUTUO_BUDGET)
    assert [v.citation.line for v in a.values] == [157]
    assert "收入" not in a.text


def test_final_against_its_own_budget_is_the_budget_gap(engine) -> None:
    a = ask(engine, "区社工部2024年一般公共预算财政拨款支出决算比年初预算增加多少")
    assert a.kind == "computed"
    assert has_value(a, "13.20", "万元", qualifier="差额", doc=SHEGONG)
    assert "预算321.02万元" in a.text and "决算307.82万元" in a.text
    b = ask(engine, "峨山县医保局2021年三公经费决算与预算相比节约了多少")
    assert has_value(b, "194.00", "元", qualifier="差额", doc=DOC000)


def test_change_not_stated_says_so(engine) -> None:
    a = ask(engine, "峨山县医保局2021年三公经费比上年增加多少")
    assert has_value(a, "5406.00", "元", qualifier="决算数", doc=DOC000)
    assert "没有找到这一项与上年相比的增减数" in a.text


def test_function_code_item_is_read_in_the_expenditure_table(engine) -> None:
    # 行政运行 (2101501) is listed in 000's 收入决算表 (2,562,097.52) and 支出决算表 (2,552,792.43).
    a = ask(engine, "峨山县医保局2021年行政运行")
    assert has_value(a, "2552792.43", "元", qualifier="本年支出合计", doc=DOC000)
    assert [v.citation.line for v in a.values] == [183]
    # Asked for income, the 收入表 answers.
    b = ask(engine, "峨山县医保局2021年行政运行的财政拨款收入是多少")
    assert has_value(b, "2478447.48", "元", qualifier="财政拨款收入", doc=DOC000)


def test_which_of_two_is_larger_with_the_metric_between(engine) -> None:
    a = ask(engine, "区社工部和普陀区政府办哪个三公经费多")
    assert a.kind == "computed"
    assert a.text.startswith("上海市普陀区人民政府办公室2025年三公经费最高：867.50万元")
    # A 2025 budget against a 2024 final account: the answer says they are not alike.
    assert "注意：比较的数字年度或口径不同（2024年、2025年；决算数、预算数）" in a.text
    b = ask(engine, "区社工部和普陀区政府办哪个三公经费少？")
    assert b.text.startswith("中共上海市普陀区委社会工作部2024年三公经费最低：0万元")
    # 哪个…多少 asks for the amounts, not for a ranking.
    c = ask(engine, "哪个医保局三公经费多少")
    assert c.kind == "lookup" and has_value(c, "5406.00", "元", doc=DOC000)


def test_definition_not_in_the_conversations_report_comes_from_the_others(engine) -> None:
    s = Session()
    assert ask(engine, "固原市医保局2021年三公经费多少", s).kind == "not_found"
    a = ask(engine, "什么是机关运行经费", s)  # carries 固原 and 2021 over; 004 has no such entry
    assert a.kind == "retrieval"
    assert a.text.startswith("（固原市医疗保障局2021年的报告中没有找到，以下来自其他报告。）")
    assert a.citations and all(c.doc != "004_a15be56197084065.txt" for c in a.citations)
    assert any("机关运行经费：" in c.snippet for c in a.citations)
    # Named in the question, the department is not dropped.
    b = ask(engine, "固原市医保局的职责是什么", Session())
    assert all(c.doc == "004_a15be56197084065.txt" for c in b.citations)


def test_relative_years_are_the_reports_own(engine) -> None:
    a = ask(engine, "普陀区政府办上年一般公共预算财政拨款支出")
    # 2025 report: 上年 = 2024, from the stated change (9,101.68 + 2,389.52).
    assert a.text.startswith("（“上年”按报告年度2025年理解为2024年。）")
    assert a.kind == "computed" and has_value(a, "11491.20", "万元", doc=PUTUO_BUDGET)
    b = ask(engine, "峨山县医保局去年三公经费多少")
    assert b.kind == "not_found" and not b.values and "2020年" in b.text
    c = ask(engine, "峨山县医保局今年的三公经费预算")
    assert has_value(c, "5600.00", "元", qualifier="预算数", doc=DOC000)


def test_part_of_a_column_total_and_change_wording(engine) -> None:
    a = ask(engine, "大城县医保局2021年基本支出中人员经费")
    assert has_value(a, "363.27", "万元", qualifier="预算数") and len(a.values) == 1
    # 比上年减少多少 asks for the change against last year, not the budget gap.
    b = ask(engine, "峨山县医保局2021年公务接待费比上年减少多少")
    assert has_value(b, "-0.04", "万元", qualifier="比上年增减", doc=DOC000)
    assert "差额" not in b.text


def test_duties_and_structure_come_from_their_sections(engine) -> None:
    a = ask(engine, "峨山县医保局的主要职责是什么")
    assert a.kind == "retrieval"
    first = a.citations[0]
    assert (first.doc, first.line_start) == (DOC000, 597)  # 一、部门基本情况 > （一）部门概况
    assert "履行拟定全县医疗保险" in a.text
    b = ask(engine, "区社工部的机构设置")
    assert b.citations[0].doc == SHEGONG and "部门决算单位构成" in b.text
    assert "上海市普陀区社会工作发展服务中心" in b.text


def test_share_of_a_part_named_after_its_whole(engine) -> None:
    # "B中A占比" is A ÷ B, as "A占B的比例" is.
    a = ask(engine, "峨山县医保局2021年财政拨款支出中基本支出占比")
    b = ask(engine, "峨山县医保局2021年基本支出占财政拨款支出的比例")
    assert has_value(a, "28.64", "%", qualifier="占比") and has_value(b, "28.64", "%", qualifier="占比")
    # A missing denominator is named, not the numerator that was found.
    c = ask(engine, "峨山县医保局2021年三公经费占一般公共预算财政拨款支出的比例")
    assert c.kind == "not_found" and "需要的一般公共预算财政拨款支出没有找到" in c.text


def test_a_name_several_departments_share_is_not_a_department(engine) -> None:
    a = ask(engine, "医保局2021年三公经费")
    assert a.text.startswith("未指定部门，按各部门分别列出：")
    assert {v.citation.doc for v in a.values} >= {DOC000, "001_8ee0239607d3cbd9.txt"}
    b = ask(engine, "峨山县医保局和昭化区医保局2021年三公经费")
    assert not b.text.startswith("未指定部门") and len(b.values) == 2


def test_sum_asked_with_heji(engine) -> None:
    a = ask(engine, "区社工部2024年工资福利支出和商品和服务支出合计")
    assert a.kind == "computed" and has_value(a, "105.59", "万元", doc=SHEGONG)


def test_a_computation_cites_each_passage_once(engine) -> None:
    # 2020年 from the 2021 figure and its stated change: both inputs stand on lines 655–659.
    a = engine.ask("峨山县医保局2020年公务接待费是多少")
    spans = [(c.doc, c.line_start, c.line_end) for c in a.citations]
    assert spans == [("000_db59d6f0fba66678.txt", 655, 659)]
