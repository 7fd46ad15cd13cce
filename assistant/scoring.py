"""Scoring of answers against gold QA items: the rules of tests/qa/FORMAT.md, as pure functions.

Everything numeric is Decimal. A gold number's precision is the one the JSONL line shows, so gold
lines must be parsed with ``json.loads(line, parse_float=Decimal)`` (see :func:`parse_gold_line`):
``11491.2`` compares at one decimal place, ``839`` and ``0`` at whole units.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path, PurePath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.models import Answer

GoldKind = Literal["lookup", "computed", "narrative", "list", "compare", "unanswerable"]

# Money units by their size in 元; an answer in one converts exactly into any other.
MONEY_UNITS: dict[str, Decimal] = {
    "元": Decimal(1),
    "千元": Decimal(1000),
    "万元": Decimal(10_000),
    "百万元": Decimal(1_000_000),
    "亿元": Decimal(100_000_000),
}
# Count units are interchangeable (FORMAT.md: 6个 = 6批次 = 6次): reports word the same count differently.
COUNT_UNITS: frozenset[str] = frozenset(
    {
        "个",
        "批次",
        "批",
        "次",
        "人次",
        "人",
        "名",
        "位",
        "辆",
        "台",
        "套",
        "件",
        "家",
        "项",
        "户",
        "所",
        "处",
        "座",
        "部",
        "份",
        "张",
    }
)
PERCENT_UNITS: frozenset[str] = frozenset({"%", "％", "百分比", "百分点"})
# Answer kinds that state a number with confidence: wrong numbers of these are counted apart.
CONFIDENT_KINDS: frozenset[str] = frozenset({"lookup", "computed"})


class GoldError(ValueError):
    """A gold file problem; the message names the file and line (``path:line: what``)."""


class GoldAnswer(BaseModel):
    """The expected answer of a gold item."""

    model_config = ConfigDict(extra="ignore")

    value: Decimal | None = None
    unit: str | None = None
    text: str = ""
    keywords: list[str] = Field(default_factory=list)


class GoldItem(BaseModel):
    """One line of a gold JSONL file (tests/qa/FORMAT.md)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    doc: str | None = None
    question: str
    context: list[str] = Field(default_factory=list)
    kind: GoldKind
    alt_docs: list[str] = Field(default_factory=list)  # other files that answer it equally (copies, twins)
    answer: GoldAnswer
    evidence: str = ""
    note: str = ""


class ItemScore(BaseModel):
    """The verdict on one answer: correct or not, whether it is a confident wrong number, and why."""

    model_config = ConfigDict(extra="forbid")

    id: str = ""
    kind: str = ""
    ok: bool
    wrong_number: bool = False
    reason: str


def parse_gold_line(line: str) -> GoldItem:
    """Parse one JSONL line into a GoldItem, keeping the gold number's written precision.

    Raises ValueError (json.JSONDecodeError or pydantic ValidationError) on a bad line.
    """
    # parse_float=Decimal: a float would turn 11491.20 into 11491.2 and 5406.0 into an inexact binary.
    data = json.loads(line, parse_float=Decimal)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return GoldItem.model_validate(data)


def _validation_message(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "line"
    return f"{where}: {err['msg']}"


def load_gold(path: str | Path) -> list[GoldItem]:
    """Read a gold JSONL file; blank lines are skipped.

    Raises GoldError naming the file and the 1-based line number of the first bad line
    (invalid JSON, missing/mistyped field, duplicate id), or the file itself when unreadable.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise GoldError(f"{p}: cannot read: {e}") from None
    items: list[GoldItem] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = parse_gold_line(line)
        except ValidationError as e:
            raise GoldError(f"{p}:{n}: invalid item: {_validation_message(e)}") from None
        except ValueError as e:  # JSONDecodeError is a ValueError
            raise GoldError(f"{p}:{n}: invalid JSON: {e}") from None
        if item.id in seen:
            raise GoldError(f"{p}:{n}: duplicate id {item.id!r} (first on line {seen[item.id]})")
        seen[item.id] = n
        items.append(item)
    return items


def decimal_places(value: Decimal) -> int:
    """Decimal places a number is written with: 11491.2 → 1, 5406.00 → 2, 839 → 0, 1E+2 → 0."""
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def parse_number(text: str) -> Decimal | None:
    """A decimal string as answers state it ("5,406.00", " 96.54 "), or None when not a finite number."""
    cleaned = text.strip().replace(",", "").replace("，", "").replace("%", "").replace("％", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _norm_unit(unit: str | None) -> str:
    return (unit or "").strip()


def convert(value: Decimal, unit: str | None, to_unit: str | None) -> Decimal | None:
    """``value`` in ``unit`` expressed in ``to_unit``, or None when the units do not compare.

    Money converts exactly (元 ↔ 万元 ×10,000, 亿元); count units are interchangeable; % is a
    number of percent. A missing unit on either side compares the bare number.
    """
    src, dst = _norm_unit(unit), _norm_unit(to_unit)
    if src == dst or not src or not dst:
        return value
    if src in MONEY_UNITS and dst in MONEY_UNITS:
        return value * MONEY_UNITS[src] / MONEY_UNITS[dst]
    if src in COUNT_UNITS and dst in COUNT_UNITS:
        return value
    if src in PERCENT_UNITS and dst in PERCENT_UNITS:
        return value
    return None


def round_to(value: Decimal, places: int) -> Decimal:
    """Round half up (as reports round) to ``places`` decimal places."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def value_matches(value: str, unit: str | None, gold_value: Decimal, gold_unit: str | None) -> bool:
    """Whether an answer value equals the gold value, compared at the gold value's decimal places."""
    number = parse_number(value)
    if number is None:
        return False
    converted = convert(number, unit, gold_unit)
    if converted is None:
        return False
    places = decimal_places(gold_value)
    return round_to(converted, places) == round_to(gold_value, places)


# Numbers in a passage answer's text that are not answers: citations (a file name, 第25页, 第12–15行),
# dates (8月31日, 2021年12月31日) and years (2021年, 2021年度). Removed before the text's numbers are read.
_NOT_ANSWER_NUMBER_RE = re.compile(
    r"[\w.\-]+\.(?:txt|md|pdf|docx?|html?|xlsx?)\b"
    r"|第\s*\d+\s*(?:[-–—~至]\s*\d+\s*)?[页行]"
    r"|\d{2,4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?|\d{1,2}\s*月\s*\d{1,2}\s*日"
    r"|(?<![\d.,])(?:19|20)\d{2}(?=\s*(?:年|—|-|–))"
)
_UNIT_ALTERNATIVES = "|".join(
    sorted(set(MONEY_UNITS) | set(COUNT_UNITS) | PERCENT_UNITS, key=len, reverse=True)
)
_TEXT_NUMBER_RE = re.compile(r"(?<![\d.,])([-−－]?\d[\d,]*(?:\.\d+)?)\s*(" + _UNIT_ALTERNATIVES + ")?")
# A question about how much something fell: its answer may state the decrease with its sign (−6.90%).
_DECREASE_RE = re.compile(r"下降|减少|降低|少了|缩减|压减|节约|节省|回落|下滑|少多少|少了多少")


def text_values(text: str) -> list[tuple[str, str | None]]:
    """(number, unit) pairs written in an answer's text, without citations, dates and years."""
    cleaned = _NOT_ANSWER_NUMBER_RE.sub(" ", text)
    out: list[tuple[str, str | None]] = []
    for m in _TEXT_NUMBER_RE.finditer(cleaned):
        out.append((m.group(1).replace("−", "-").replace("－", "-"), m.group(2)))
    return out


def _matches_gold(value: str, unit: str | None, gold: GoldAnswer, decrease: bool) -> bool:
    assert gold.value is not None
    if value_matches(value, unit, gold.value, gold.unit):
        return True
    # FORMAT.md: for a question about a fall, −6.90% matches a gold 6.9%.
    number = parse_number(value)
    return (
        decrease
        and number is not None
        and number < 0
        and value_matches(str(-number), unit, gold.value, gold.unit)
    )


def cited_docs(answer: Answer) -> set[str]:
    """File names the answer cites, in its values' citations and its passage citations."""
    docs = {v.citation.doc for v in answer.values} | {c.doc for c in answer.citations}
    # A citation of a report stored once under several names (byte-identical copies) cites each of them.
    docs |= {d for v in answer.values for d in v.citation.alt_docs} | {
        d for c in answer.citations for d in c.alt_docs
    }
    # Compare by file name: an engine may cite a path where gold files name the file only.
    return docs | {_doc_name(d) for d in docs}


def _searchable_text(answer: Answer) -> str:
    parts = [answer.text]
    parts += [c.snippet for c in answer.citations]
    parts += [v.citation.snippet for v in answer.values]
    return "\n".join(parts)


def _format_gold(item: GoldItem) -> str:
    a = item.answer
    return f"{a.value}{a.unit or ''}" if a.value is not None else (a.text or "—")


def _format_values(answer: Answer) -> str:
    return ", ".join(f"{v.value}{v.unit}" for v in answer.values) or "no value"


def score_item(item: GoldItem, answer: Answer) -> ItemScore:
    """Score one answer against its gold item (tests/qa/FORMAT.md, "Scoring rules").

    - unanswerable: correct only when answer.kind == "not_found" and no values are given;
    - a gold number: correct when one value, converted to the gold unit, equals the gold value at
      the gold value's decimal places;
    - otherwise (narrative/list …): correct when every keyword occurs in the answer text or its
      citations' snippets (with no keywords: when the answer is not not_found/clarify);
    - numbers of the answer's text count only for a passage answer (kind retrieval, no values), never a
      citation's page or line, a date or a year;
    - for a question about a fall (下降/减少/少了 …) a value may carry its sign (−6.90% matches 6.9);
    - when ``item.doc`` is set: the answer must cite it or one of ``item.alt_docs``, and its values
      must cite no other report.
    A confident wrong number (``wrong_number``) is an answer of kind lookup/computed giving values
    for a numeric or unanswerable item, none of which matches.
    """

    def verdict(ok: bool, reason: str, wrong: bool = False) -> ItemScore:
        return ItemScore(id=item.id, kind=item.kind, ok=ok, wrong_number=wrong, reason=reason)

    gold = item.answer
    confident = answer.kind in CONFIDENT_KINDS and bool(answer.values)
    allowed = {item.doc, *item.alt_docs} if item.doc is not None else set()

    if item.kind == "unanswerable":
        if answer.values:
            return verdict(False, f"unanswerable, but the answer gives {_format_values(answer)}", confident)
        if answer.kind != "not_found":
            return verdict(False, f"unanswerable, but the answer kind is {answer.kind} (expected not_found)")
        return verdict(True, "ok")

    if gold.value is not None:
        decrease = bool(_DECREASE_RE.search(item.question))
        # FORMAT.md: the text's numbers count only for a passage answer, one that gives no values at all.
        # A not_found answer that quotes the closest lines has said it did not find the figure: its
        # numbers are not its answer.
        passage = answer.kind == "retrieval" and not answer.values
        stated = [(v.value, v.unit) for v in answer.values] or (text_values(answer.text) if passage else [])
        matched = any(_matches_gold(value, unit, gold, decrease) for value, unit in stated)
        if not matched:
            if not stated:
                return verdict(
                    False, f"no value given (expected {_format_gold(item)}, answer kind {answer.kind})"
                )
            got = (
                _format_values(answer)
                if answer.values
                else "in text " + ", ".join(f"{v}{u or ''}" for v, u in stated)
            )
            return verdict(False, f"expected {_format_gold(item)}, got {got}", confident)
    else:
        haystack = _searchable_text(answer)
        missing = [k for k in gold.keywords if k not in haystack]
        if missing:
            return verdict(False, "missing keywords: " + "、".join(missing))
        if not gold.keywords and answer.kind in ("not_found", "clarify"):
            return verdict(False, f"no answer (kind {answer.kind})")

    if allowed and not (allowed & cited_docs(answer)):
        return verdict(False, f"does not cite {' or '.join(sorted(allowed))}")
    others = sorted(
        {
            v.citation.doc
            for v in answer.values
            if not allowed & {_doc_name(d) for d in (v.citation.doc, *v.citation.alt_docs)}
        }
    )
    if allowed and others:
        # FORMAT.md: a question about one report answered with several reports' figures is not correct.
        return verdict(
            False, "a question about one report, answered with other reports too: " + ", ".join(others)
        )
    return verdict(True, "ok")


def _doc_name(doc: str) -> str:
    return PurePath(doc).name
