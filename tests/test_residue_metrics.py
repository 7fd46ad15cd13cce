"""Residue words that are part of exactly one row label or metric name answer that metric; a tie
names none. Real corpus, exact values, in other wording than the gold items that revealed the class
(基本支出里给个人和家庭的补助, 行政单位医疗（项）, 30217公务接待费)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assistant.answer.names import metrics_named_by
from assistant.answer.understand import understand


def numbers(a):
    return [(Decimal(v.value), v.unit) for v in a.values]


@pytest.mark.parametrize(
    ("question", "metric", "value"),
    [
        # 个人和家庭的补助 ⊂ 对个人和家庭的补助 (the 基本支出表's row 303), read in the 基本支出 table.
        (
            "普陀区政府办2025年基本支出里个人和家庭的补助预算多少？",
            "对个人和家庭的补助",
            Decimal("1303660.00"),
        ),
        # 基本医疗保险缴费 ⊂ 职工基本医疗保险缴费 (30110 of 峨山's 公开06表, the 基本支出决算表).
        (
            "峨山医保局2021年基本支出中基本医疗保险缴费是多少元？",
            "职工基本医疗保险缴费",
            Decimal("136604.77"),
        ),
        # No whole named: 医疗补助缴费 ⊂ 公务员医疗补助缴费 only.
        ("峨山医保局2021年医疗补助缴费多少元？", "公务员医疗补助缴费", Decimal("66560.00")),
    ],
)
def test_a_phrase_inside_one_row_label_names_it(engine, question, metric, value) -> None:
    q = understand(question, engine.vocab)
    assert q.metric == metric and q.residue == [], (q.metric, q.residue)
    a = engine.ask(question)
    assert a.kind == "lookup" and numbers(a)[0] == (value, "元"), a.text


def test_a_phrase_two_metrics_share_equally_names_neither(engine) -> None:
    # 政府性基金 is as much a part of …拨款收入 as of …拨款支出: the caller must not pick one.
    assert metrics_named_by("政府性基金", engine.vocab) == [
        "政府性基金预算财政拨款支出",
        "政府性基金预算财政拨款收入",
    ]
    assert metrics_named_by("补助", engine.vocab) == []  # too little of any name


def test_a_row_of_the_column_table_answers_the_column(engine) -> None:
    # 基本支出表中30201办公费: the 基本支出表's row (its 合计), not the department's 基本支出 total.
    a = engine.ask("普陀区政府办25年基本支出表中30201办公费是多少？")
    assert a.kind == "lookup" and numbers(a)[0] == (Decimal("259400.00"), "元"), a.text


@pytest.mark.parametrize(
    ("question", "value"),
    [
        ("区社工部2024年行政单位医疗（项）决算数是多少？", (Decimal("2.22"), "万元")),
        ("仁和区医保局2020年卫生健康支出（类）决算多少？", (Decimal("1155.36"), "万元")),
    ],
)
def test_classification_level_marks_are_not_residue(engine, question, value) -> None:
    q = understand(question, engine.vocab)
    assert q.residue == [], q.residue
    assert numbers(engine.ask(question))[0] == value


# ----------------------------------------------------------------------------- per-project tables
DOC002 = "002_20041eb3cb8715ee.txt"


@pytest.mark.parametrize(
    ("question", "line", "figure"),
    [
        # 2.医保缴费奖励资金绩效目标表: the project is named only in the table's title, the row says 奖励金额 5万元.
        ("大城县医保局医保缴费奖励资金项目的奖励金额是多少万元？", 593, "5万元"),
        ("大城县医保局医保缴费奖励资金打算奖励几个乡镇？", 565, "3个"),
    ],
)
def test_a_row_of_a_project_table_is_found_by_the_project_in_its_title(
    engine, question, line, figure
) -> None:
    a = engine.ask(question)
    assert a.kind in ("lookup", "retrieval"), a.text
    assert a.citations and a.citations[0].doc == DOC002 and a.citations[0].line_start == line, a.citations
    assert figure in a.text.replace(" ", "")


# ----------------------------------------------------------------------------- lists over generic tables
DOC004 = "004_a15be56197084065.txt"


def test_the_projects_of_the_self_evaluation_tables_are_listed(engine) -> None:
    a = engine.ask("固原市医保局哪些项目开展了绩效自评？")
    assert a.kind == "retrieval" and "所列的项目（6个）" in a.text, a.text
    for project in (
        "上线全市智能审核监控系统",
        "开展打击欺诈骗保专项行动",
        "医疗保障局稽核工作经费",
        "地方医保政策实现信息化管理",
        "完善医保付费体系",
    ):
        assert f"· {project}" in a.text
    assert {c.doc for c in a.citations} == {DOC004} and len(a.citations) == 6


def test_the_indicators_of_the_table_naming_the_project_are_listed(engine) -> None:
    a = engine.ask("固原市医保局稽核工作经费这个项目有哪些指标？")
    assert "(4)：医疗保障局稽核工作经费的绩效指标（4个）" in a.text, a.text
    for name in (
        "聘请相关人员核查人数",
        "稽核工作开展次数",
        "组织医疗保障能力提升培训次数",
        "服务对象满意度",
    ):
        assert f"· {name}" in a.text
    assert a.citations[0].doc == DOC004 and (a.citations[0].line_start, a.citations[0].line_end) == (536, 544)


def test_no_table_of_that_kind_lists_nothing(engine) -> None:
    # 大城's only generic table is its 固定资产占用情况表: no 自评表 to list projects from.
    a = engine.ask("大城县医保局哪些项目开展了绩效自评？")
    assert "所列的项目" not in a.text


# ----------------------------------------------------------------------------- figures stated with their year
DOC000 = "000_db59d6f0fba66678.txt"


def test_figures_stated_with_their_year() -> None:
    from assistant.answer.lines import stated_years

    assert stated_years("2021年结算率4.77%，", 2021) == [(2021, "4.77", "%")]
    assert stated_years("2020年为33.55%，主", 2021) == [(2020, "33.55", "%")]
    assert stated_years("上年为1,169.42万元", 2021, {"万元"}) == [(2020, "1169.42", "万元")]
    # Changes against a year are not that year's figure (001 line 31; 000 line 655).
    assert stated_years("与2020年相比收、支总计增加131.39万元", 2021) == []
    assert stated_years("2020年收、支总计增加131.39万元", 2021) == []
    assert stated_years("比上年减少0.04万元", 2021) == []


def test_last_years_rate_stated_in_the_report(engine) -> None:
    # The 2021 report's 绩效指标表 row says 有所提高; its 偏差原因 cell, wrapped over lines 1113–1115,
    # states both years' rates. No 2020 report: the 2021 report's own statement answers.
    a = engine.ask("峨山县医保局2020年跨省异地就医直接结算率是多少？")
    assert a.kind == "lookup" and numbers(a) == [(Decimal("33.55"), "%")], a.text
    assert a.values[0].citation.doc == DOC000 and a.values[0].citation.line == 1115


def test_percentage_points_between_the_stated_rates(engine) -> None:
    a = engine.ask("峨山医保局2021年跨省异地就医直接结算率比上年降低了几个百分点？")
    assert a.kind == "computed" and numbers(a) == [(Decimal("-28.78"), "%")], a.text
    assert a.derivation == ["4.77% − 33.55% = -28.78个百分点"]
    assert [c.line_start for c in a.citations] == [1113, 1115]


def test_last_years_total_from_a_change_sentence_naming_it_short(engine) -> None:
    # 003 (2020): "支出总计 1608.56 万元" (line 138), "与 2019 年相比 … 支出总计增加 436.38 万元，增加 37.23%"
    # (lines 140–144; the rate agrees: 436.38 ÷ 1172.18 = 37.23%).
    a = engine.ask("仁和区医保局2019年支出总计多少？")
    assert a.kind == "computed" and numbers(a) == [(Decimal("1172.18"), "万元")], a.text
    assert [c.line_start for c in a.citations] == [138, 144]


def test_tied_lines_that_write_the_same_figure_after_the_asked_words(engine) -> None:
    # 003 states 行政编制 3 个 / 参公编制 15 个 in a sentence the index also holds joined with its
    # neighbours: the lines tie, but each writes the same figure right after the asked words.
    a = engine.ask("仁和区医保局的行政编制有几个？")
    assert a.kind == "lookup" and numbers(a) == [(Decimal("3"), "个")], a.text
    a = engine.ask("攀枝花市仁和区医保局参公编制是多少个？")
    assert a.kind == "lookup" and numbers(a) == [(Decimal("15"), "个")], a.text


def test_sum_of_two_projects_each_named_by_its_self_evaluation_table(engine) -> None:
    # 004's 自评表(6) 完善医保付费体系 年度资金总额 10 万元 and 自评表(4) 稽核工作经费 2 万元; "两个项目" names
    # what the items are, not a third item; the name rows (with a phone number) state no 万元 figure.
    a = engine.ask("固原市医保局完善医保付费体系和稽核工作经费两个项目加起来多少万元？")
    assert a.kind == "computed" and numbers(a) == [(Decimal("12"), "万元")], a.text


def test_average_value_of_a_row_that_states_count_and_value(engine) -> None:
    # 002's 固定资产占用情况表: 其他固定资产 130 个, 49.90 万元 (line 1339) → 0.38 万元 each.
    a = engine.ask("大城县医保局其他固定资产平均每个多少钱？")
    assert a.kind == "computed" and numbers(a) == [(Decimal("0.38"), "万元")], a.text
    assert a.derivation and "÷ 130个" in a.derivation[0]


def test_the_value_of_a_row_is_no_average(engine) -> None:
    a = engine.ask("大城县医保局车辆价值多少万元？")
    # 价值 is the row's 价值 column (31.72 万元), not 31.72 ÷ 2.
    assert a.kind == "lookup" and numbers(a) == [(Decimal("31.72"), "万元")], a.text


def test_a_figure_stated_under_the_next_row_is_not_this_rows(engine) -> None:
    # 医保重要政策知晓率 (line 1105) is followed by the 跨省异地就医直接结算率 row (1107), whose cell states
    # "2020年为33.55%": that is not 2020's 知晓率.
    a = engine.ask("峨山医保局2020年医保重要政策知晓率是多少？")
    assert (Decimal("33.55"), "%") not in numbers(a) and "33.55" not in a.text, a.text
