"""Numbers outside the standard tables: generic tables (row label × column header, with their own title
and unit) and numeric mentions (numbers no fact holds, with the phrase they quantify). Exact values from
the real corpus, synthetic tables and sentences in other wording, and the standard facts unchanged."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import CORPUS
from test_facts import DOC000, DOC001, DOC002, DOC003, DOC004, PDF_GOV, PDF_SOCIAL

from assistant.models import Document, Fact, Report, SourceLine
from assistant.parse.facts import parse_document
from assistant.parse.generic import GENERIC_SCHEMA, generic_tables
from assistant.parse.mentions import extract_mentions
from assistant.store.db import query_facts, query_mentions
from assistant.store.parsing import parse_file
from assistant.store.vocabulary import open_vocabulary

# Facts by (source, table_id) of the standard tables and the narrative, as parsed before generic tables
# and mentions existed: they must not change.
STANDARD_COUNTS: dict[str, dict[tuple[str, str | None], int]] = {
    DOC000: {
        ("table", "公开01表"): 12,
        ("table", "公开02表"): 44,
        ("table", "公开03表"): 43,
        ("table", "公开04表"): 15,
        ("table", "公开05表"): 20,
        ("table", "公开06表"): 24,
        ("table", "公开09表"): 9,
        ("narrative", None): 23,
    },
    DOC001: {("narrative", None): 106},
    DOC002: {("narrative", None): 27},
    DOC003: {("narrative", None): 156},
    DOC004: {
        ("table", "公开01表"): 10,
        ("table", "公开02表"): 105,
        ("table", "公开03表"): 90,
        ("table", "公开04表"): 10,
        ("table", "公开05表"): 45,
        ("table", "公开06表"): 21,
        ("table", "公开07表"): 12,
        ("narrative", None): 56,
    },
    PDF_GOV: {
        ("table", "收支总表"): 8,
        ("table", "收入表"): 42,
        ("table", "支出表"): 47,
        ("table", "财政拨款收支总表"): 11,
        # 三公经费表: 合计, 因公出国(境)费, 公务接待费, 机关运行经费 (read by the cells' x positions since
        # the audit work, pdf_cells.py; before, one garbled row "小计 购置费 运行费")
        ("table", "一般公共预算支出表"): 47,
        ("table", "基本支出表"): 61,
        ("table", "三公经费表"): 4,
        ("narrative", None): 45,
    },
    PDF_SOCIAL: {
        ("table", "收支总表"): 9,
        ("table", "收入表"): 36,
        ("table", "支出表"): 39,
        ("table", "财政拨款收支总表"): 12,
        ("table", "一般公共预算支出表"): 39,
        ("table", "基本支出表"): 67,
        ("narrative", None): 73,
    },
}


@pytest.fixture(scope="module")
def parsed():
    out = {}
    for p in sorted(CORPUS.iterdir()):
        outcome = parse_file(p)
        assert not isinstance(outcome, str), outcome
        out[p.name] = outcome[1]
    return out


def _generic(facts: list[Fact], table_start: str, label_end: str, qualifier: str) -> list[Fact]:
    return [
        f
        for f in facts
        if f.table_id
        and f.table_id.startswith(table_start)
        and f.label.endswith(label_end)
        and f.qualifier == qualifier
    ]


def _generic_ids(p) -> set[str]:
    return {t.table_id for t in p.tables if t.schema_name == GENERIC_SCHEMA}


def test_standard_facts_unchanged(parsed):
    for doc, expected in STANDARD_COUNTS.items():
        p = parsed[doc]
        generic = _generic_ids(p)
        counts = Counter((f.source, f.table_id) for f in p.facts if f.table_id not in generic)
        assert dict(counts) == expected, doc
        # the generic facts come after the standard ones, which keep their order
        n = sum(expected.values())
        assert all(f.table_id in generic for f in p.facts[n:])


def test_001_self_assessment_indicator_and_funds(parsed):
    """A 绩效目标自评表 in one-cell-per-line layout: indicator values with their label path and unit,
    the funds block with 全年预算数 / 全年执行数 / 预算执行率."""
    facts = parsed[DOC001].facts
    title = "中央财政医疗服务与保障能力提升补助资金(医疗保障能力建设部分)区域转移支付区域(项目)绩效目标自评表"
    (f,) = _generic(facts, title, "全区职工和城乡居民医保受益群众人数", "指标值")
    assert (f.value, f.unit, f.label, f.line, f.source) == (
        Decimal("24"),
        "万人",
        "产出指标/数量指标/全区职工和城乡居民医保受益群众人数",
        206,
        "table",
    )
    (f,) = _generic(facts, title, "医保基金监管条例、医保政策等宣传费用", "全年实际完成值")
    assert (f.value, f.unit, f.flags) == (Decimal("5.94"), "万元", [])
    (f,) = _generic(facts, title, "医保基金监管条例、医保政策等宣传费用", "指标值")
    assert (f.value, f.unit, f.flags) == (Decimal("5.94"), "万元", ["≤"])  # ≤5.94万元: a bound
    assert [(g.qualifier, g.value, g.unit) for g in facts if g.label == "年度资金总额"] == [
        ("全年预算数", Decimal("20"), "万元"),
        ("全年执行数", Decimal("18.86"), "万元"),
        ("预算执行率", Decimal("94.30"), "%"),
    ]


def test_002_fixed_asset_quantity_and_value(parsed):
    """The 固定资产占用情况表 of a PDF text export: 数量 and 价值 columns, the unit from the header
    (价值（金额单位：万元）) and, for counts, from the row label (车辆（台、辆）)."""
    facts = parsed[DOC002].facts
    rows = [
        (f.metric, f.qualifier, f.value, f.unit, f.line)
        for f in facts
        if f.table_id == "大城县部门固定资产占用情况表"
    ]
    assert rows == [
        ("资产总额", "价值", Decimal("81.62"), "万元", 1329),
        ("车辆", "数量", Decimal("2"), "台", 1335),
        ("车辆", "价值", Decimal("31.72"), "万元", 1335),
        ("单价在20万元以上的设备", "数量", Decimal("0"), "个", 1337),
        ("单价在20万元以上的设备", "价值", Decimal("0"), "万元", 1337),
        ("其他固定资产", "数量", Decimal("130"), "个", 1339),
        ("其他固定资产", "价值", Decimal("49.90"), "万元", 1339),
    ]
    # 截止时间：2020 年 12 月 31 日 under the title of a 2021 budget: the stock is of 2020
    assert parsed[DOC002].report.year == 2021
    assert {f.year for f in facts if f.table_id == "大城县部门固定资产占用情况表"} == {2020}


def test_003_project_paragraph_counts_are_mentions(parsed):
    """003's 项目 tables are wrapped word by word (no grid): their numbers are mentions with a phrase."""
    ms = parsed[DOC003].mentions
    got = {(m.line, m.value, m.unit, m.phrase) for m in ms}
    assert (939, Decimal("76"), "个", "预计全区村卫生室") in got  # a 项目 paragraph's count
    assert (1469, Decimal("10"), "人", "参公编制") in got  # 其中参公编制10人 (编制数 15个 is a fact)
    assert (516, Decimal("461.67"), "万元", "执行数") in got
    assert not any(m.line == 1469 and m.value == 15 for m in ms)  # held by a fact


def test_004_self_assessment_tables_named_by_project(parsed):
    """Repeated 项目支出绩效自评表 titles are told apart by their project name; rows that lost a merged
    cell (满意度指标 printed one column left) keep their columns."""
    p = parsed[DOC004]
    assert "项目支出绩效自评表(6)：完善医保付费体系" in _generic_ids(p)
    (f,) = _generic(p.facts, "项目支出绩效自评表(6)：完善医保付费体系", "/抽调专家", "年度指标值")
    assert (f.value, f.unit, f.label) == (Decimal("25"), "名", "产出指标/数量指标/抽调专家")
    (f,) = _generic(
        p.facts, "项目支出绩效自评表(2)", "参保人员满意度（上线全市智能审核监控系统）", "全年完成值"
    )
    assert (f.value, f.unit, f.flags, f.label) == (
        Decimal("95"),
        "%",
        ["≥"],
        "满意度指标/服务对象满意度指标/参保人员满意度（上线全市智能审核监控系统）",
    )
    assert [
        (f.qualifier, f.value)
        for f in p.facts
        if f.table_id == "项目支出绩效自评表(4)：医疗保障局稽核工作经费"
        and f.label == "年度资金总额（医疗保障局稽核工作经费）"
    ] == [("全年预算数", Decimal("2")), ("全年执行数", Decimal("2")), ("执行率", Decimal("100"))]


def test_mention_phrase_and_unit_from_a_sentence(parsed):
    ms = parsed[DOC001].mentions
    (m,) = [m for m in ms if m.value == Decimal("38.87")]
    assert (m.line, m.unit, m.phrase, m.bound) == (27, "万元", "追回医保基金", None)
    assert "专项治理" in m.snippet
    # a threshold is marked: 个人自付住院医疗费用救助比例不低于70%
    (m,) = [m for m in ms if m.value == 70 and m.unit == "%"]
    assert m.bound == "不低于"


def test_000_wrapped_indicator_label_read_from_the_lines_above(parsed):
    """PDF text wraps an indicator's label over the lines above its numbers (= 280 元 280)."""
    got = [(m.line, m.unit, m.bound, m.phrase) for m in parsed[DOC000].mentions if m.value == 280]
    phrase = "城乡特困供养人员、孤儿参加城乡居民医疗保险缴费资助"
    # the 指标值 (= 280 元) and the 实际完成值 printed bare after the unit
    assert got == [(869, "元", "=", phrase), (869, "元", None, phrase)]
    # 召开医保工作会议或培训 >= 2 次 3: the 指标值 is a fact of the 绩效指标表, the 实际完成值 a mention
    got = [(m.value, m.unit, m.bound) for m in parsed[DOC000].mentions if m.line == 1085]
    assert got == [(Decimal("3"), "次", None)]
    got = [(f.value, f.unit, f.flags) for f in parsed[DOC000].facts if f.line == 1085]
    assert got == [(Decimal("2"), "次", ["≥"])]


def test_002_indicator_amounts_with_a_bare_wan(parsed):
    """绩效目标表 cells write 1.2 万 (万元) and ≧ 40 万 (万人): kept with the unit as written."""
    got = {(m.line, m.value, m.unit, m.bound) for m in parsed[DOC002].mentions}
    assert {
        (527, Decimal("1.2"), "万", None),
        (237, Decimal("40"), "万", "≥"),
    } <= got
    # ≥370000人 stands in a 绩效目标表 read row by row: a fact, no longer a mention
    assert (1236, Decimal("370000"), "人", "≥") not in got


def _doc(lines: list[str]) -> Document:
    src = [SourceLine(line=i + 1, text=t, raw=t) for i, t in enumerate(lines)]
    return Document(
        doc="synthetic.txt", path="/tmp/synthetic.txt", sha256="0" * 64, filetype="txt", lines=src
    )


REPORT = Report(
    doc="synthetic.txt",
    path="/tmp/synthetic.txt",
    sha256="0" * 64,
    department="某某区文化和旅游局",
    year=2024,
    kind="决算",
)


def test_generic_table_in_other_wording_tab_layout():
    """Any table with a title, a header of column words and rows with numbers; units from the header."""
    doc = _doc(
        [
            "二、设备购置情况",
            "",
            "某某区文化和旅游局设备购置明细表",
            "名称\t数量（台）\t价值（万元）\t使用率（%）",
            "办公电脑\t12\t8.40\t95.5",
            "投影仪\t3\t1.20\t",
            "合计\t15\t9.60\t",
            "",
            "以上设备均已登记入账。",
        ]
    )
    tables, facts = generic_tables(REPORT, doc.lines, [])
    assert [t.table_id for t in tables] == ["某某区文化和旅游局设备购置明细表"]
    assert [(f.metric, f.qualifier, f.value, f.unit) for f in facts] == [
        ("办公电脑", "数量", Decimal("12"), "台"),
        ("办公电脑", "价值", Decimal("8.40"), "万元"),
        ("办公电脑", "使用率", Decimal("95.5"), "%"),
        ("投影仪", "数量", Decimal("3"), "台"),
        ("投影仪", "价值", Decimal("1.20"), "万元"),
        ("合计", "数量", Decimal("15"), "台"),
        ("合计", "价值", Decimal("9.60"), "万元"),
    ]
    assert facts[1].value_yuan == Decimal("84000.00")


def test_generic_table_one_cell_per_line_with_levels():
    doc = _doc(
        [
            "",
            "\t某某项目绩效目标表",
            "",
            "\t一级指标",
            "\t二级指标",
            "\t三级指标",
            "\t指标值",
            "",
            "\t产出指标",
            "\t数量指标",
            "\t培训场次",
            "\t8场",
            "",  # 场: no unit we know: not a fact
            "\t",
            "\t",
            "\t受训人数",
            "\t≥300人",
            "",
            "\t效益指标",
            "\t社会效益指标",
            "\t覆盖率",
            "\t100%",
            "",
        ]
    )
    _, facts = generic_tables(REPORT, doc.lines, [])
    assert [(f.label, f.qualifier, f.value, f.unit, f.flags) for f in facts] == [
        ("产出指标/数量指标/受训人数", "指标值", Decimal("300"), "人", ["≥"]),
        ("效益指标/社会效益指标/覆盖率", "指标值", Decimal("100"), "%", []),
    ]


def test_no_table_without_header_or_title():
    # numbers in tab cells but no row naming the columns: nothing is guessed
    doc = _doc(["某某情况表", "办公电脑\t12\t8.40", "投影仪\t3\t1.20"])
    assert generic_tables(REPORT, doc.lines, []) == ([], [])
    # a header and rows but no title line
    doc = _doc(["名称\t数量（台）\t价值（万元）", "办公电脑\t12\t8.40"])
    assert generic_tables(REPORT, doc.lines, []) == ([], [])


def test_mentions_in_other_wording():
    doc = _doc(
        [
            "三、项目情况",
            "2024年，特困人员参保缴费资助标准为每人每年180元，全年资助1,234人次，"
            "覆盖全区12个街道，受益群众满意度不低于95%。",
        ]
    )
    ms = extract_mentions(doc, [])
    assert [(m.value, m.unit, m.phrase, m.bound) for m in ms] == [
        (Decimal("180"), "元", "特困人员参保缴费资助标准", None),
        (Decimal("1234"), "人次", "全年资助", None),
        (Decimal("12"), "个", "覆盖全区", None),
        (Decimal("95"), "%", "受益群众满意度", "不低于"),
    ]
    assert all(m.line == 2 for m in ms)
    # the number a fact holds is not repeated; a year is no mention
    held = [
        Fact(
            doc="synthetic.txt",
            metric="x",
            label="x",
            value=Decimal("180"),
            unit="元",
            source="narrative",
            line=2,
            snippet="",
        )
    ]
    assert [m.value for m in extract_mentions(doc, held)] == [Decimal("1234"), Decimal("12"), Decimal("95")]


def test_parse_document_keeps_generic_tables_and_mentions():
    doc = _doc(
        [
            "某某区文化和旅游局设备购置明细表",
            "名称\t数量（台）\t价值（万元）",
            "办公电脑\t12\t8.40",
            "",
            "全年共举办展览6场，接待观众2.5万人次。",
        ]
    )
    p = parse_document(doc)
    assert [t.schema_name for t in p.tables] == [GENERIC_SCHEMA]
    assert [(f.metric, f.value) for f in p.facts if f.table_id] == [
        ("办公电脑", Decimal("12")),
        ("办公电脑", Decimal("8.40")),
    ]
    assert [(m.value, m.unit, m.phrase) for m in p.mentions] == [(Decimal("2.5"), "万人次", "接待观众")]


def test_store_generic_facts_reachable_and_mentions_by_report(store):
    facts = query_facts(store, doc=DOC002, metric="其他固定资产")
    assert [(f.qualifier, f.value, f.unit) for f in facts] == [
        ("数量", Decimal("130"), "个"),
        ("价值", Decimal("49.90"), "万元"),
    ]
    vocab = open_vocabulary(store)
    assert vocab.terms_in("大城县医保局其他固定资产有多少台").get("其他固定资产") == "其他固定资产"
    assert (
        vocab.terms_in("昭化区医保局全区职工和城乡居民医保受益群众人数").get(
            "全区职工和城乡居民医保受益群众人数"
        )
        == "全区职工和城乡居民医保受益群众人数"
    )
    money = query_mentions(store, [DOC001], units=["万元"])
    assert any(m.value == Decimal("38.87") and m.phrase == "追回医保基金" and m.line == 27 for m in money)
    assert {m.unit for m in money} == {"万元"} and {m.doc for m in money} == {DOC001}
    assert query_mentions(store, [DOC001], units=[]) == [] and query_mentions(store, []) == []
    counts = len(query_mentions(store, [DOC001]))
    assert counts == len(parse_file(Path(CORPUS / DOC001))[1].mentions)
    plan = " ".join(
        str(r)
        for r in store.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM mentions WHERE doc IN (?) AND unit IN (?)", (DOC001, "万元")
        )
    )
    assert "mentions_by_doc" in plan


def test_pdf_mentions_keep_their_page(parsed):
    ms = parsed[PDF_GOV].mentions
    (m,) = [m for m in ms if m.phrase == "编报绩效目标的项目"]
    assert (m.value, m.unit, m.line, m.page) == (Decimal("11"), "个", 272, 21)
    assert any(
        m.phrase == "其他用车" and m.unit == "辆" for m in ms
    )  # 其他 is part of the name, not a connective
    # PDF word groups are joined by tabs that lose empty cells: no table is read from their positions
    assert not _generic_ids(parsed[PDF_GOV]) and not _generic_ids(parsed[PDF_SOCIAL])


def test_a_row_every_project_table_has_is_named_with_its_table(parsed):
    """年度资金总额 is in each of 004's six 自评表: a question naming it alone must not get one project's
    figure, so the metric (and label) carry the project; 001's only 自评表 keeps the bare name."""
    p = parsed[DOC004]
    totals = sorted({f.metric for f in p.facts if f.metric.startswith("年度资金总额")})
    assert len(totals) == 6 and "年度资金总额（完善医保付费体系）" in totals
    (f,) = [
        f for f in p.facts if f.metric == "年度资金总额（完善医保付费体系）" and f.qualifier == "全年预算数"
    ]
    assert (f.value, f.unit, f.label, f.line) == (
        Decimal("10"),
        "万元",
        "年度资金总额（完善医保付费体系）",
        581,
    )
    assert [f.metric for f in p.facts if f.label.endswith("/抽调专家")] == [
        "抽调专家",
        "抽调专家",
    ]  # one row only
    assert {f.metric for f in parsed[DOC001].facts if f.label == "年度资金总额"} == {"年度资金总额"}


def _indicator(facts: list[Fact], table: str, label: str) -> list[tuple[Decimal, str, list[str]]]:
    return [
        (f.value, f.unit, f.flags)
        for f in facts
        if f.table_id and f.table_id.startswith(table) and f.label.startswith(label)
    ]


def test_000_indicator_rows_wrapped_over_lines(parsed):
    """项目支出绩效指标表 of PDF text: 一级/二级 words on a line, the 三级指标 wrapped below, the 指标值 line."""
    facts = parsed[DOC000].facts
    table = "项目支出绩效指标表：城乡医疗救助财政补助资金"
    got = _indicator(
        facts, table, "产出指标/数量指标/资助除建档立卡人员外的城乡特殊困难人员参加基本医疗保险人数"
    )
    assert got == [(Decimal("3500"), "人次", ["≥"])]  # four lines of label, then >= 3500 人次 3849
    assert _indicator(facts, table, "产出指标/时效指标/救助发放及时率") == [(Decimal("100"), "%", [])]
    assert _indicator(facts, table, "满意度指标/服务对象满意度指标/救助对象满意度") == [
        (Decimal("85"), "%", ["≥"])
    ]
    # = 有效改善: no number, no fact
    assert not _indicator(facts, table, "效益指标/社会效益指标/生活状况改善")
    table2 = "项目支出绩效指标表(2)：中央财政医疗保障服务能力提升补助资金"
    assert _indicator(facts, table2, "产出指标/数量指标/召开医保工作会议或培训") == [
        (Decimal("2"), "次", ["≥"])
    ]


def test_002_indicator_cells_end_at_a_trailing_space(parsed):
    """绩效目标表 of 002: a cell's last line ends in a space, its wrapped lines do not; the 描述 column
    after the 三级指标 is not part of the label."""
    facts = parsed[DOC002].facts
    table = "城乡居民医疗保险缴费(普通)绩效目标表"
    assert _indicator(facts, table, "产出指标/数量指标/参保缴费人数") == [(Decimal("40"), "万人", ["≤"])]
    assert _indicator(facts, "基金监管专项资金绩效目标表", "产出指标/数量指标/对定点医药机构监督检查") == [
        (Decimal("720"), "次", ["≤"])
    ]
    assert _indicator(facts, "门诊特殊疾病鉴定项目绩效目标表", "产出指标/成本指标/专家评审费") == [
        (Decimal("0.6"), "万元", [])
    ]
    # =12 个月: 个月 is no unit we know, so no number is stated for it
    assert not _indicator(facts, "城乡居民医疗保险缴费(普通)绩效目标表", "产出指标/时效指标/补助完成时间")


def test_indicator_rows_in_other_wording():
    """The same layout with other words: a 一级 word alone, wrapped labels, values with and without a
    comparison; prose after the table gives nothing."""
    doc = _doc(
        [
            "图书馆免费开放项目绩效目标表",
            "一级指标 二级指标 三级指标 绩效指标描述 指标值 指标值确定依据 ",
            "产出指标 ",
            "数量指标 年度接待读",
            "者人次 ",
            "全年到馆读者 ",
            "≥12 万人次 根据上年数据",
            "质量指标 图书外借率 外借率 ≥ 60 % 行业标准",
            "时效指标 开放时长 每周开放 =56 小时 规定",
            "效益指标 ",
            "社会效益指标 阅读氛围 改善 显著 ",
            "满意度指标 服务对象满意度指标 ",
            "读者满意度 读者评价 >= 90 % 调查",
            "备注：以上指标为预计数。",
            "全年到馆读者 ≥12 万人次，较上年增长。",
        ]
    )
    tables, facts = generic_tables(REPORT, doc.lines, [])
    assert [t.table_id for t in tables] == ["图书馆免费开放项目绩效目标表"]
    assert [(f.label, f.value, f.unit, f.flags) for f in facts] == [
        ("产出指标/数量指标/年度接待读者人次", Decimal("12"), "万人次", ["≥"]),
        ("产出指标/质量指标/图书外借率", Decimal("60"), "%", ["≥"]),
        ("满意度指标/服务对象满意度指标/读者满意度", Decimal("90"), "%", ["≥"]),
    ]
