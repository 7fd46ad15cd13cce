"""The scoring rules of tests/qa/FORMAT.md (assistant.scoring)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from assistant.models import Answer, AnswerValue, Citation, ValueCitation
from assistant.scoring import (
    GoldError,
    GoldItem,
    convert,
    decimal_places,
    load_gold,
    parse_gold_line,
    score_item,
    text_values,
    value_matches,
)

DOC = "000_db59d6f0fba66678.txt"
DEV = Path(__file__).parent / "qa" / "dev.jsonl"


def gold(
    value: object,
    unit: str | None,
    kind: str = "lookup",
    doc: str | None = DOC,
    keywords: list[str] | None = None,
) -> GoldItem:
    """A gold item parsed from a JSONL line, as eval reads it (value written as given)."""
    value_json = "null" if value is None else str(value)
    line = (
        f'{{"id": "t", "doc": {json.dumps(doc)}, "question": "q", "context": [], "kind": "{kind}", '
        f'"answer": {{"value": {value_json}, "unit": {json.dumps(unit)}, "text": "", '
        f'"keywords": {json.dumps(keywords or [], ensure_ascii=False)}}}}}'
    )
    return parse_gold_line(line)


def answer(
    *values: tuple[str, str],
    kind: str = "lookup",
    doc: str = DOC,
    text: str = "答",
    snippets: list[str] | None = None,
) -> Answer:
    return Answer(
        question="q",
        kind=kind,  # type: ignore[arg-type]
        text=text,
        values=[
            AnswerValue(value=v, unit=u, metric="m", citation=ValueCitation(doc=doc, line=1, snippet="s"))
            for v, u in values
        ],
        citations=[Citation(doc=doc, line_start=1, line_end=1, snippet=s) for s in (snippets or [])],
    )


# --- precision --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("written", "places"),
    [("11491.2", 1), ("5406.0", 1), ("5406.00", 2), ("0.45", 2), ("839", 0), ("0", 0), ("1E+2", 0)],
)
def test_gold_precision_is_as_written(written: str, places: int) -> None:
    item = gold(written, "万元")
    assert isinstance(item.answer.value, Decimal)
    assert decimal_places(item.answer.value) == places


def test_float_parsing_keeps_trailing_digit() -> None:
    # 11491.20 in a file must not become a binary float; 11491.2 compares at 1 dp.
    item = gold("11491.2", "万元", kind="computed")
    assert item.answer.value == Decimal("11491.2")
    assert score_item(item, answer(("11491.20", "万元"), kind="computed")).ok
    assert score_item(item, answer(("11491.24", "万元"), kind="computed")).ok
    assert not score_item(item, answer(("11491.26", "万元"), kind="computed")).ok


# --- unit conversion --------------------------------------------------------------------------
def test_wan_yuan_answer_matches_yuan_gold() -> None:
    # FORMAT.md: 0.45万元 matches 4,500元.
    assert score_item(gold("4500", "元"), answer(("0.45", "万元"))).ok
    assert score_item(gold("4500.00", "元"), answer(("0.45", "万元"))).ok


def test_yuan_answer_compared_at_gold_places() -> None:
    # Gold 0.45万元 (2 dp): 4,523元 = 0.4523万元 → 0.45 at 2 dp → matches.
    assert score_item(gold("0.45", "万元"), answer(("4,523", "元"))).ok
    assert score_item(gold("0.45", "万元"), answer(("4523.00", "元"))).ok
    # … but gold 4,523元 is not matched by 0.45万元 (= 4,500元).
    result = score_item(gold("4523", "元"), answer(("0.45", "万元")))
    assert not result.ok and result.wrong_number


def test_rounding_is_half_up() -> None:
    # 0.445 → 0.45 (reports round half up; banker's rounding would give 0.44).
    assert value_matches("4450", "元", Decimal("0.45"), "万元")
    assert not value_matches("4449", "元", Decimal("0.45"), "万元")


def test_integer_gold_and_zero() -> None:
    assert score_item(gold("839", "万元"), answer(("839.00", "万元"))).ok
    assert score_item(gold("839", "万元"), answer(("8,390,000.00", "元"))).ok
    assert score_item(gold("0", "万元"), answer(("0.00", "元"))).ok
    assert not score_item(gold("0", "万元"), answer(("1.00", "万元"))).ok


def test_table_yuan_matches_sentence_wan_yuan() -> None:
    # dev d1-01: 91,016,775.35元 in the table = 9,101.68万元 in the sentence.
    assert score_item(gold("9101.68", "万元"), answer(("91016775.35", "元"))).ok


def test_yi_yuan() -> None:
    assert convert(Decimal("1.5"), "亿元", "万元") == Decimal("15000")
    assert score_item(gold("15000", "万元"), answer(("1.5", "亿元"))).ok


def test_count_units_interchangeable() -> None:
    assert score_item(gold("6", "批次"), answer(("6", "个"))).ok
    assert score_item(gold("6", "次"), answer(("6", "批次"))).ok
    assert score_item(gold("85", "人次"), answer(("85", "人"))).ok
    assert not score_item(gold("6", "批次"), answer(("7", "个"))).ok


def test_incompatible_units_do_not_match() -> None:
    assert convert(Decimal(6), "个", "元") is None
    assert not score_item(gold("6", "元"), answer(("6", "个"))).ok


def test_percent() -> None:
    item = gold("96.54", "%", kind="computed")
    assert score_item(item, answer(("96.54", "%"), kind="computed")).ok
    assert score_item(item, answer(("96.54", "％"), kind="computed")).ok
    assert score_item(item, answer(("96.537", "%"), kind="computed")).ok
    assert not score_item(item, answer(("0.9654", "万元"), kind="computed")).ok


def test_one_of_several_values_suffices() -> None:
    assert score_item(gold("5406.0", "元"), answer(("5600.00", "元"), ("5406.00", "元"))).ok


def test_unparseable_value_is_no_match() -> None:
    assert not value_matches("约五千", "元", Decimal("5406"), "元")


# --- doc citation -----------------------------------------------------------------------------
def test_doc_must_be_cited() -> None:
    result = score_item(gold("5406.0", "元"), answer(("5406.00", "元"), doc="other.txt"))
    assert not result.ok
    assert not result.wrong_number  # the number is right; the source is not
    assert DOC in result.reason


def test_values_from_other_reports_too_are_not_correct() -> None:
    # A question about one report answered "按各部门分别列出": the right figure among others is no answer.
    a = answer(("5406.00", "元"))
    a.values.append(
        a.values[0].model_copy(update={"citation": ValueCitation(doc="other.txt", line=3, snippet="s")})
    )
    result = score_item(gold("5406.0", "元"), a)
    assert not result.ok and not result.wrong_number
    assert "other.txt" in result.reason


def test_alt_docs_are_cited_equally() -> None:
    item = parse_gold_line(
        f'{{"id": "t", "doc": "{DOC}", "alt_docs": ["copy.txt"], "question": "q", "kind": "lookup", '
        '"answer": {"value": 5406.0, "unit": "元"}}'
    )
    assert score_item(item, answer(("5406.00", "元"), doc="copy.txt")).ok
    assert score_item(item, answer(("5406.00", "元"))).ok
    assert not score_item(item, answer(("5406.00", "元"), doc="third.txt")).ok


def test_a_copy_listed_on_the_citation_is_cited() -> None:
    # A report stored once under two names: its citations list the other name (alt_docs).
    a = answer(("5406.00", "元"), doc="copy.txt")
    a.values[0].citation.alt_docs.append(DOC)
    assert score_item(gold("5406.0", "元"), a).ok
    assert not score_item(gold("5406.0", "元"), answer(("5406.00", "元"), doc="copy.txt")).ok


def test_doc_cited_by_path() -> None:
    assert score_item(gold("5406.0", "元"), answer(("5406.00", "元"), doc=f"corpus/{DOC}")).ok


def test_null_doc_needs_no_citation() -> None:
    assert score_item(
        gold("5406.0", "元", kind="compare", doc=None), answer(("5406.00", "元"), doc="x.txt")
    ).ok


# --- unanswerable and wrong numbers --------------------------------------------------------------
def test_unanswerable() -> None:
    item = gold(None, None, kind="unanswerable", doc=None)
    assert score_item(item, Answer(question="q", kind="not_found", text="没有找到")).ok
    said_something = score_item(item, Answer(question="q", kind="retrieval", text="也许是……"))
    assert not said_something.ok and not said_something.wrong_number
    with_number = score_item(item, answer(("5406.00", "元")))
    assert not with_number.ok and with_number.wrong_number


def test_not_found_with_a_number_is_not_unanswerable() -> None:
    item = gold(None, None, kind="unanswerable", doc=None)
    result = score_item(item, answer(("1", "元"), kind="not_found"))
    assert not result.ok
    assert not result.wrong_number  # not a confident answer kind


def test_wrong_number_counted_apart_from_miss() -> None:
    item = gold("5406.0", "元")
    wrong = score_item(item, answer(("5600.00", "元")))
    assert (wrong.ok, wrong.wrong_number) == (False, True)
    assert "5406.0元" in wrong.reason and "5600.00元" in wrong.reason
    miss = score_item(item, Answer(question="q", kind="not_found", text="没有找到"))
    assert (miss.ok, miss.wrong_number) == (False, False)
    hedged = score_item(item, answer(("5600.00", "元"), kind="retrieval"))
    assert (hedged.ok, hedged.wrong_number) == (False, False)
    computed = score_item(gold("96.54", "%", kind="computed"), answer(("95.00", "%"), kind="computed"))
    assert computed.wrong_number


# --- narrative / list ---------------------------------------------------------------------------
def test_keywords_in_text_or_snippets() -> None:
    item = gold(None, None, kind="narrative", keywords=["因公出国", "公务接待费"])
    in_text = Answer(
        question="q",
        kind="retrieval",
        text="因公出国（境）费和公务接待费",
        citations=[Citation(doc=DOC, line_start=1, line_end=1, snippet="…")],
    )
    assert score_item(item, in_text).ok
    in_snippet = answer(kind="retrieval", text="见原文", snippets=["包括因公出国（境）费", "公务接待费"])
    assert score_item(item, in_snippet).ok
    missing = score_item(item, answer(kind="retrieval", text="因公出国", snippets=["…"]))
    assert not missing.ok and "公务接待费" in missing.reason and not missing.wrong_number


def test_list_needs_doc_too() -> None:
    item = gold(None, None, kind="list", keywords=["交流服务中心"])
    assert not score_item(
        item, answer(kind="retrieval", text="交流服务中心", doc="other.txt", snippets=["x"])
    ).ok


def test_narrative_without_keywords_needs_an_answer() -> None:
    item = gold(None, None, kind="narrative", doc=None)
    assert score_item(item, Answer(question="q", kind="retrieval", text="……")).ok
    assert not score_item(item, Answer(question="q", kind="not_found", text="没有找到")).ok


# --- gold files ---------------------------------------------------------------------------------
def test_dev_file_loads() -> None:
    items = load_gold(DEV)
    assert len(items) == 40
    by_id = {i.id: i for i in items}
    assert by_id["d1-08"].answer.value == Decimal("11491.2")
    assert decimal_places(by_id["d1-05"].answer.value or Decimal(1)) == 0
    assert by_id["d009"].context == ["峨山县医保局2021年三公经费是多少"]


def test_bad_line_names_file_and_line(tmp_path: Path) -> None:
    good = DEV.read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / "gold.jsonl"
    path.write_text(good + "\n\n{not json\n", encoding="utf-8")
    with pytest.raises(GoldError, match=r"gold\.jsonl:3: invalid JSON"):
        load_gold(path)


def test_missing_field_names_field(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text('{"id": "x", "question": "q", "kind": "lookup"}\n', encoding="utf-8")
    with pytest.raises(GoldError, match=r"gold\.jsonl:1: invalid item: answer"):
        load_gold(path)


def test_duplicate_id(tmp_path: Path) -> None:
    good = DEV.read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / "gold.jsonl"
    path.write_text(good + "\n" + good + "\n", encoding="utf-8")
    with pytest.raises(GoldError, match=r":2: duplicate id 'd001' \(first on line 1\)"):
        load_gold(path)


# --- numbers in a passage answer's text ---------------------------------------------------------
def test_text_numbers_count_only_without_values() -> None:
    item = gold("5406.0", "元")
    passage = answer(kind="retrieval", text="三公经费支出5,406.00元。", snippets=["…"])
    assert score_item(item, passage).ok
    # With values, the text's numbers are not read: the values are the answer.
    with_values = answer(("5600.00", "元"), text="三公经费支出5,406.00元。")
    assert not score_item(item, with_values).ok
    # "没有找到…；相近的有：…" has said it did not find the figure: the quoted lines are no answer.
    closest = Answer(
        question="q",
        kind="not_found",
        text="没有找到“三公”；相近的有：支出5,406.00元",
        citations=[Citation(doc=DOC, line_start=1, line_end=1, snippet="…")],
    )
    assert not score_item(item, closest).ok


def test_citation_date_and_year_numbers_are_not_answers() -> None:
    assert text_values(
        "000_db59d6f0fba66678.txt 第25页、第312行；截至2021年12月31日，2021年度支出18.5万元"
    ) == [("18.5", "万元")]
    for number, written in (("25", "第25页"), ("12", "第12–15行"), ("31", "8月31日"), ("2021", "2021年")):
        passage = answer(kind="retrieval", text=f"见{written}原文。", snippets=["…"])
        assert not score_item(gold(number, None), passage).ok, written


def test_a_fall_may_carry_its_sign() -> None:
    item = parse_gold_line(
        f'{{"id": "t", "doc": "{DOC}", "question": "三公经费比上年下降了多少", "kind": "computed", '
        '"answer": {"value": 6.9, "unit": "%"}}'
    )
    assert score_item(item, answer(("-6.90", "%"), kind="computed")).ok
    rise = item.model_copy(update={"question": "三公经费比上年增长了多少"})
    assert not score_item(rise, answer(("-6.90", "%"), kind="computed")).ok
