"""Coverage of a question (its residue), unexplained words answered from report lines or honestly
not found, and the operations of two named metrics — on the real corpus, with exact values, in
other wording than the gold questions that revealed each class."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assistant.answer.coverage import expected_unit, unknown_department
from assistant.answer.session import Session
from assistant.answer.understand import understand

DOC001 = "001_8ee0239607d3cbd9.txt"
DOC003 = "003_d6208e3fa212963b.txt"
DOC004 = "004_a15be56197084065.txt"
PUTUO = "上海市普陀区人民政府办公室25年预算.pdf"
SHEGONG = "中共上海市普陀区委社会工作部 2024 年度部门决算.pdf"


def ask(engine, q, *context):
    s = Session()
    for c in context:
        engine.ask(c, s)
    return engine.ask(q, s)


def numbers(a):
    return [(Decimal(v.value), v.unit) for v in a.values]


# ----------------------------------------------------------------------------- the residue


@pytest.mark.parametrize(
    "question",
    [
        "峨山县医保局2021年三公经费是多少？",
        "请问峨山医保局21年的公务接待费决算数是多少元？",
        "普陀区政府办2025年住房公积金预算一共有多少？",
        "区社工部2024年项目支出是多少万元？",
    ],
)
def test_a_question_fully_understood_leaves_no_residue(engine, question) -> None:
    q = understand(question, engine.vocab)
    assert q.metric is not None and q.residue == [], (q.metric, q.residue)


def test_what_no_slot_explains_is_the_residue(engine) -> None:
    q = understand("峨山医保局特困人员参保缴费资助标准是多少", engine.vocab)
    assert q.residue and "缴费资助标准" in "".join(q.residue), q.residue
    # Short forms of a matched name are not residue: 昭化医保 ⊂ 广元市昭化区医疗保障局.
    assert understand("昭化医保2021年项目支出占本年支出的比重", engine.vocab).residue == []


def test_expected_unit_of_a_question() -> None:
    assert expected_unit("医疗救助支付了多少人次") == "人次"
    assert expected_unit("在职职工有多少人") == "人"
    assert expected_unit("有几个参公编制") == "个"
    assert expected_unit("一共涉及多少项目预算资金") == "元"  # 项目 is a noun, not the unit 项
    assert expected_unit("执行率是百分之几") == "%"
    assert unknown_department(["卫健局"]) == "卫健局" and unknown_department(["支付"]) is None


def test_a_partly_understood_question_never_gets_a_confident_number(engine) -> None:
    # 参保 is a known word, the rest is not: the number of insured people (146,609) is not the answer.
    a = ask(engine, "峨山县医保局2021年给特困人员的参保缴费资助标准是多少元")
    assert not (a.kind in ("lookup", "computed") and a.values), a.text
    assert "146,609" not in a.text.split("\n")[0]
    assert "没有找到" in a.text or a.kind == "retrieval", a.text


# ----------------------------------------------------------------------------- unknown departments


@pytest.mark.parametrize(
    "question",
    [
        "峨山县卫健局2021年机关运行经费是多少？",
        "昭化区财政局21年公务接待费花了多少",
        "普陀区委宣传部2024年度决算的三公经费",
    ],
)
def test_a_department_the_corpus_lacks_gets_no_number(engine, question) -> None:
    a = ask(engine, question)
    assert a.kind == "not_found" and not a.values, a.text


def test_a_follow_up_naming_an_unknown_department_never_inherits_the_previous_one(engine) -> None:
    a = ask(engine, "峨山县财政局呢？", "峨山县医保局2021年三公经费是多少")
    assert a.kind == "not_found" and not a.values, a.text
    assert "峨山彝族自治县医疗保障局" not in a.text, a.text


def test_a_unit_the_report_itself_names_is_searched_not_unknown(engine) -> None:
    # 医疗保障事务中心 reads as a department, but 仁和's report names it as its subordinate unit.
    a = ask(engine, "仁和区医疗保障事务中心的参公编制有几个？")
    assert "语料中没有" not in a.text, a.text
    assert "参公编制 15 个" in a.text and any(c.doc == DOC003 for c in a.citations), a.text
    assert all(Decimal(v.value) == 15 for v in a.values), a.values


# ----------------------------------------------------------------------------- numbers from report lines


def test_a_count_stated_in_a_sentence_is_found_by_its_words(engine) -> None:
    a = ask(engine, "昭化区医保局2021年一共支付医疗救助多少人次？")
    assert (Decimal("25321"), "人次") in numbers(a), (a.kind, a.text)
    assert a.values[0].citation.doc == DOC001 and "支付医疗救助25321人次" in a.values[0].citation.snippet


def test_a_line_with_several_figures_is_quoted_not_reduced_to_one(engine) -> None:
    # A 绩效 table row states the target and the result ("≥2次 3"): no single confident figure.
    a = ask(engine, "固原市医保局完善医保付费体系项目学习先进经验的相关人数有多少名？")
    assert not (a.kind in ("lookup", "computed") and a.values), a.text


# ----------------------------------------------------------------------------- operations of two named metrics


def test_difference_of_two_metrics_of_one_report(engine) -> None:
    a = ask(engine, "普陀区政府办2025年住房公积金比购房补贴少多少元？")
    assert a.kind == "computed" and numbers(a)[0] == (Decimal("-126234.78"), "元"), a.text
    assert "1,741,445.22" in a.derivation[0] and "1,867,680.00" in a.derivation[0]
    b = ask(engine, "区社工部2024年基本支出比项目支出少多少万元")
    assert numbers(b)[0] == (Decimal("-96.66"), "万元"), b.text
    assert "105.58" in b.derivation[0] and "202.24" in b.derivation[0]


def test_share_takes_the_whole_from_what_follows_zhan(engine) -> None:
    a = ask(engine, "普陀区政府办2025年人员经费占基本支出的比例是多少？")
    assert numbers(a) == [(Decimal("91.33"), "%")], a.text
    assert "22,473,997.81" in a.derivation[0] and "÷ 基本支出 24,606,775.35" in a.derivation[0]


def test_share_of_a_part_named_inside_its_whole(engine) -> None:
    a = ask(engine, "普陀区政府办2025年基本支出预算里面人员经费占比多少")
    assert numbers(a) == [(Decimal("91.33"), "%")], a.text


def test_a_part_named_after_its_whole_is_the_part(engine) -> None:
    a = ask(engine, "峨山县医保局2021年总支出中工资福利支出是多少万元？")
    assert (Decimal("3022676.53"), "元") in numbers(a), a.text


def test_a_column_named_with_the_row(engine) -> None:
    a = ask(engine, "固原市医保局2020年卫生健康支出的本年收入合计是多少？")
    assert numbers(a) == [(Decimal("4154016.96"), "元")], a.text


def test_a_follow_up_asks_the_previous_operation_of_another_metric(engine) -> None:
    a = ask(engine, "那对个人和家庭的补助呢？", "固原市医保局2020年工资福利支出比2019年增长多少")
    assert (Decimal("100"), "%") in numbers(a) and a.values[0].citation.doc == DOC004, a.text
    assert "增长率" in a.text


# ----------------------------------------------------------------------------- changes against last year


def test_last_years_figure_from_a_change_stated_lines_apart(engine) -> None:
    # 2021 budget: 基本支出 394.53万元 (line 75) … "其中：基本支出增加2.64万元" (line 80) → 2020: 391.89万元.
    a = ask(engine, "大城县医疗保障局2020年的基本支出预算有多少万元")
    assert a.kind == "computed" and (Decimal("391.89"), "万元") in numbers(a), a.text
    b = ask(engine, "大城县医保局上年项目支出预算是多少？")
    assert (Decimal("22396.88"), "万元") in numbers(b), b.text  # 5,930.7 − (−16,466.18)
    assert "16466.18" in b.derivation[0].replace(",", "")


@pytest.fixture(scope="module")
def two_years(tmp_path_factory):
    """固原's 2020 final account and a 2021 copy of it whose 机关运行经费 sentence states 150,000.00元
    and no change: the change must come from the two reports."""
    from conftest import CORPUS, write_config

    from assistant.answer.engine import Engine
    from assistant.config import load_settings
    from assistant.store.build import build_index

    tmp = tmp_path_factory.mktemp("two_years")
    corpus = tmp / "corpus"
    corpus.mkdir()
    text = (CORPUS / DOC004).read_text(encoding="utf-8")
    (corpus / DOC004).write_text(text, encoding="utf-8")
    old = "2020年度本部门机关运行经费支出127,989.14元，比2019年度减少7,180.86元，降低5.31%。"
    assert old in text
    later = (
        text.replace(old, "2020年度本部门机关运行经费支出150,000.00元。")
        .replace("2020", "2021")
        .replace("2019", "2020")
    )
    (corpus / "004_next_year.txt").write_text(later, encoding="utf-8")
    settings = load_settings(write_config(tmp, [corpus], tmp / "index"))
    assert not build_index(settings, embed=False, log=lambda *a: None).skipped
    return Engine(settings)


def test_change_against_last_year_from_two_reports_of_one_department(two_years) -> None:
    assert sorted(r.year for r in two_years.reports()) == [2020, 2021]
    a = ask(two_years, "固原市医保局2021年机关运行经费比上年增长了多少？")
    assert a.kind == "computed", a.text
    assert (Decimal("22010.86"), "元") in numbers(a) and (Decimal("17.20"), "%") in numbers(a), a.text
    assert "150,000.00" in a.derivation[0] and "127,989.14" in a.derivation[0]
    # The 2020 report states its own change against 2019: that is used, not a third report.
    b = ask(two_years, "固原市医保局2020年机关运行经费比上年增长了多少？")
    assert (Decimal("-7180.86"), "元") in numbers(b) or (Decimal("7180.86"), "元") in numbers(b), b.text


def test_a_project_named_on_one_line_and_its_figures_on_the_next(engine) -> None:
    a = ask(engine, "仁和区医保局村医通专网费用项目的执行数是多少万元？")
    assert "执行数为 4.66 万元" in a.text and any(c.doc == DOC003 for c in a.citations), a.text
    assert all(Decimal(v.value) == Decimal("4.66") for v in a.values), a.values


def test_a_follow_up_asks_another_figure_of_the_same_unnamed_project(engine) -> None:
    a = ask(engine, "完成预算的百分之几？", "仁和区医保局村医通专网费用项目全年预算数是多少")
    assert numbers(a) == [(Decimal("51.10"), "%")] and any(c.doc == DOC003 for c in a.citations), a.text


def test_sum_of_two_items_stated_in_a_sentence(engine) -> None:
    a = ask(engine, "昭化区医保局2021年个人账户和职工医保统筹基金支出合计多少万元")
    assert a.kind == "computed" and numbers(a) == [(Decimal("1603.12"), "万元")], a.text
    assert "698.60" in a.derivation[0] and "904.52" in a.derivation[0]


def test_execution_rate_and_unspent_part_of_a_project_sentence(engine) -> None:
    a = ask(engine, "仁和区医保局村医通专网费用项目完成预算的执行率")
    assert a.kind == "computed" and numbers(a) == [(Decimal("51.10"), "%")], a.text
    assert "4.66" in a.derivation[0] and "9.12" in a.derivation[0]
    b = ask(engine, "仁和区医保局离休干部、二等乙级革命伤残军人医疗费项目有多少万元未执行")
    assert b.kind == "computed" and numbers(b) == [(Decimal("1.73"), "万元")], b.text


def test_a_count_asked_of_a_row_that_also_states_its_value(engine) -> None:
    # 固定资产占用表: 其他固定资产 130 (件) and 49.90 (万元): 多少件 asks for the count.
    a = ask(engine, "大城县医保局的其他固定资产一共多少件？")
    assert a.kind == "lookup" and Decimal(a.values[0].value) == 130 and a.values[0].unit in ("件", "个"), (
        a.text
    )


def test_a_number_the_parser_read_from_a_sentence_answers_by_its_phrase(engine) -> None:
    # The mention "支付医疗救助25321人次" in a sentence that also says "…医疗保险259913人次".
    a = ask(engine, "昭化区医保局2021年医疗救助共支付多少人次")
    assert numbers(a)[:1] == [(Decimal("25321"), "人次")], a.text


@pytest.mark.parametrize(
    "question",
    ["哪个局2021年本年支出合计最多", "各单位2020年三公经费分别是多少", "哪个部门2021年公务接待费最高"],
)
def test_words_for_any_department_are_not_residue(engine, question) -> None:
    assert understand(question, engine.vocab).residue == []


def test_a_project_table_row_is_found_by_the_projects_name(engine) -> None:
    # 001's 自评表 of the 医疗服务与保障能力提升补助资金: 年度资金总额 20 | 18.86 | 94.30%.
    a = ask(engine, "昭化区医保局医疗服务与保障能力提升补助资金项目的预算执行率是多少？")
    assert "94.30%" in a.text and any(c.doc == DOC001 for c in a.citations), a.text
    assert all(Decimal(v.value) == Decimal("94.30") for v in a.values), a.values
