"""Report scope (部门 / 单位) and byte-identical copies, on a corpus made from a real report: its
部门预算, a byte-identical copy under another name, and the same report re-titled as 单位预算 with
one figure changed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from conftest import CORPUS, write_config

from assistant.answer.scope import asked_scope
from assistant.answer.session import Session
from assistant.config import load_settings

DOC002 = "002_20041eb3cb8715ee.txt"
COPY = "大城县医保局2021年预算（副本）.txt"
UNIT = "大城县医保局2021年单位预算.txt"
TITLE = "2021 年部门预算信息公开情况说明"
SANGONG = "“三公”经费预算安排6万元"


@pytest.fixture(scope="module")
def scoped(tmp_path_factory):
    from assistant.answer.engine import Engine
    from assistant.store.build import build_index

    tmp = tmp_path_factory.mktemp("scope")
    corpus = tmp / "corpus"
    corpus.mkdir()
    original = (CORPUS / DOC002).read_bytes()
    (corpus / DOC002).write_bytes(original)
    (corpus / COPY).write_bytes(original)
    text = original.decode("utf-8")
    assert text.count(TITLE) == 1 and text.count(SANGONG) == 1
    unit = text.replace(TITLE, "2021 年单位预算信息公开情况说明").replace(SANGONG, "“三公”经费预算安排5万元")
    (corpus / UNIT).write_text(unit, encoding="utf-8")
    settings = load_settings(write_config(tmp, [corpus], tmp / "index"))
    result = build_index(settings, embed=False, log=lambda *a: None)
    return Engine(settings), result


def test_metadata_records_scope_title_and_copies(scoped) -> None:
    engine, result = scoped
    reports = {r.doc: r for r in engine.reports()}
    assert set(reports) == {DOC002, UNIT} or set(reports) == {COPY, UNIT}  # the copy is indexed once
    dept = reports.get(DOC002) or reports[COPY]
    assert dept.scope == "部门" and dept.title == "大城县医疗保障局 2021 年部门预算信息公开情况说明"
    assert dept.copies == [COPY if dept.doc == DOC002 else DOC002]
    unit = reports[UNIT]
    assert unit.scope == "单位" and unit.title == "大城县医疗保障局 2021 年单位预算信息公开情况说明"
    assert unit.department == dept.department == "大城县医疗保障局" and unit.copies == []
    assert sum(len(v) for v in result.duplicates.values()) == 1


@pytest.mark.parametrize(
    "question", ["大城县医保局2021年三公经费预算是多少？", "大城县医保局2021年部门预算中三公经费是多少"]
)
def test_department_scope_by_default_and_says_the_unit_figure_differs(scoped, question: str) -> None:
    engine, _ = scoped
    a = engine.ask(question, Session())
    assert [(Decimal(v.value), v.unit) for v in a.values] == [(Decimal(6), "万元")]
    v = a.values[0]
    assert {v.citation.doc, *v.citation.alt_docs} == {DOC002, COPY}  # both file names are cited
    assert all({c.doc, *c.alt_docs} == {DOC002, COPY} for c in a.citations)
    assert f"单位预算（{UNIT}）中该项为5万元" in a.text


@pytest.mark.parametrize(
    "question", ["大城县医保局2021年单位预算三公经费是多少？", "大城县医保局本级2021年三公经费预算多少"]
)
def test_unit_scope_when_the_question_names_it(scoped, question: str) -> None:
    engine, _ = scoped
    a = engine.ask(question, Session())
    assert [(Decimal(v.value), v.unit, v.citation.doc) for v in a.values] == [(Decimal(5), "万元", UNIT)]
    assert a.values[0].citation.alt_docs == []
    assert "部门预算" in a.text and "6万元" in a.text  # the 部门 figure differs: said, not given as a value


def test_asked_scope_reads_scope_words_not_every_unit() -> None:
    assert asked_scope("单位预算中的基本支出") == "单位"
    assert asked_scope("机关本级的基本支出") == "单位"
    assert asked_scope("部门决算里的三公经费") == "部门"
    assert asked_scope("单位换成元是多少") is None
    assert asked_scope("包括哪些单位") is None


def test_a_corpus_without_twins_answers_as_before(engine) -> None:
    a = engine.ask("大城县医保局2021年单位预算三公经费是多少？", Session())
    assert [(Decimal(v.value), v.unit, v.citation.doc) for v in a.values] == [(Decimal(6), "万元", DOC002)]
    assert a.text.startswith("（语料中没有所问的单位报告，以下按部门预算回答。）")
    plain = engine.ask("大城县医保局2021年三公经费是多少？", Session())
    assert "语料中没有所问" not in plain.text


def test_unknown_copy_names_are_not_invented(engine) -> None:
    a = engine.ask("大城县医保局2021年三公经费预算是多少？", Session())
    assert a.values and all(v.citation.alt_docs == [] for v in a.values)
    assert not Path(CORPUS / COPY).exists()
