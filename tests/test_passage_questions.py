"""Questions answered by a passage of a given form (issue #12): 为什么 → the reason sentence about the
named figure, 有没有 → the sentence stating its absence, 用在哪里 → the sentence saying what it is used
for. Real corpus, worded unlike the gold items; each asserts the cited line and that no figure is given."""

from __future__ import annotations

import pytest
from conftest import CORPUS

from assistant.answer.passages import asked_form
from assistant.answer.session import Session

DOC000 = "000_db59d6f0fba66678.txt"
DOC002 = "002_20041eb3cb8715ee.txt"
SGB = "中共上海市普陀区委社会工作部 2024 年度部门决算.pdf"


def _answer(engine, question: str):  # noqa: ANN202
    a = engine.ask(question, Session())
    assert a.kind == "retrieval", a.text
    assert not a.values, "a passage question never answers with a figure"
    return a


def _cites(a, doc: str, words: str) -> bool:  # noqa: ANN001
    """True when a citation of ``doc`` holds ``words`` (its snippet is the cited sentence)."""
    return any(c.doc == doc and words in c.snippet.replace(" ", "") for c in a.citations)


@pytest.mark.parametrize(
    "question",
    ["峨山县医保局2021年是否有政府性基金预算收入和支出？", "峨山医保局有无政府性基金预算收支"],
)
def test_whether_it_exists_cites_the_absence(engine, question: str) -> None:
    a = _answer(engine, question)
    assert _cites(a, DOC000, "无政府性基金预算收支")
    c = next(c for c in a.citations if c.doc == DOC000)
    line = (CORPUS / DOC000).read_text(encoding="utf-8").splitlines()[c.line_start - 1]
    assert "无政府性基金预算收支" in line


@pytest.mark.parametrize(
    "question",
    ["社工部2024年收入支出总计增加了100%，原因是什么？", "区社工部收入支出总计为何翻倍"],
)
def test_reason_cites_the_reason_about_the_metric(engine, question: str) -> None:
    a = _answer(engine, question)
    assert _cites(a, SGB, "主要原因：单位于2024年成立")
    assert _cites(a, SGB, "收入支出总计")


@pytest.mark.parametrize(
    "question",
    ["区社工部其他社会工作事务支出的用途是什么？", "社工部的其他社会工作事务支出用于什么"],
)
def test_use_cites_what_it_is_used_for(engine, question: str) -> None:
    a = _answer(engine, question)
    assert _cites(a, SGB, "主要用于：新建部门开办费")


def test_use_of_another_report(engine) -> None:
    a = _answer(engine, "大城县医保局机关运行经费用于哪些方面？")
    assert _cites(a, DOC002, "主要用于医保局办公区的日常维修")


def test_a_figure_asked_stays_a_figure(engine) -> None:
    # 多少 asks the number: the form words do not send it to the passages.
    a = engine.ask("峨山医保局2021年三公经费支出是多少？", Session())
    assert a.values


@pytest.mark.parametrize(
    ("text", "form"),
    [("为何增加", True), ("是否存在结余", True), ("资金用途", True), ("支出是多少", False)],
)
def test_asked_form(text: str, form: bool) -> None:
    assert (asked_form(text) is not None) is form


def test_a_negation_about_something_else_is_no_absence(engine) -> None:
    # 仁和 has 机关运行经费 (25.33万元); a 未支付完 about another fund's sentence must not answer 没有.
    a = _answer(engine, "仁和区医保局有没有机关运行经费？")
    assert not any("未支付完" in c.snippet for c in a.citations)
    assert any("机关运行经费" in c.snippet for c in a.citations)
