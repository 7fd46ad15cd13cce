"""Formatting of numbers, values and citations for answers."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from assistant.models import AnswerValue, Citation, Fact, ValueCitation

WAN = Decimal(10000)


def fmt(value: Decimal) -> str:
    """A number as reports write it: thousands separators, the stated decimals kept."""
    sign = "-" if value < 0 else ""
    text = f"{abs(value):f}"
    whole, _, frac = text.partition(".")
    whole = f"{int(whole):,}"
    return sign + whole + (f".{frac}" if frac else "")


def money_text(value: Decimal, unit: str) -> str:
    """`5,406.00元（约0.54万元）` / `0.45万元（4,500元）`: the stated figure plus its conversion."""
    if unit == "元":
        wan = (value / WAN).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return f"{fmt(value)}元（约{fmt(wan)}万元）" if abs(value) >= 100 else f"{fmt(value)}元"
    if unit == "万元":
        yuan = value * WAN
        yuan = yuan.quantize(Decimal("0.01")) if yuan != yuan.to_integral() else yuan.quantize(Decimal(1))
        return f"{fmt(value)}万元（{fmt(yuan)}元）"
    return f"{fmt(value)}{unit}"


def round2(value: Decimal) -> Decimal:
    """Rounded to two decimals, half up (percentages and derived amounts)."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def value_of(f: Fact, value: Decimal | None = None, unit: str | None = None, metric: str | None = None,
             qualifier: str | None = None) -> AnswerValue:
    """An AnswerValue citing the fact (optionally carrying a value computed from it)."""
    return AnswerValue(
        value=str(f.value if value is None else value), unit=unit or f.unit, metric=metric or f.metric,
        qualifier=qualifier if qualifier is not None else f.qualifier, department=f.department, year=f.year,
        citation=ValueCitation(doc=f.doc, line=f.line, page=f.page, snippet=f.snippet), flags=list(f.flags),
    )


def citation_of(f: Fact) -> Citation:
    """A citation of the lines a fact comes from."""
    return Citation(doc=f.doc, line_start=f.line, line_end=f.line_end or f.line, page=f.page, snippet=f.snippet)


def where(f: Fact) -> str:
    """`file 第N行` (and page for PDFs), for derivation notes."""
    page = f"第{f.page}页" if f.page else ""
    return f"{f.doc} {page}第{f.line}行"
