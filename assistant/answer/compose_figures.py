"""Compose, continued: the sentences of figures read from report lines by the year they are stated for
(百分点 changes, a year's figure) and of averages (value ÷ count)."""

from __future__ import annotations

from decimal import Decimal

from assistant.answer.compose import citation_of, fmt, money_text, round2, value_of, where
from assistant.models import Answer, AnswerValue, Citation, Fact, Query, Report, ValueCitation

YearFigure = tuple[str, str, int, "int | None", str, str]  # value, unit, line, page, text, doc


def _figure_value(
    r: Report | None,
    year: int,
    fig: YearFigure,
    metric: str,
    value: Decimal | None = None,
    qualifier: str | None = None,
) -> AnswerValue:
    v, unit, line, page, text, doc = fig
    return AnswerValue(
        value=str(v if value is None else value),
        unit=unit,
        metric=metric,
        qualifier=qualifier,
        department=r.department if r else None,
        year=year,
        citation=ValueCitation(doc=doc, line=line, page=page, snippet=text),
    )


def _figure_citation(fig: YearFigure) -> Citation:
    _v, _u, line, page, text, doc = fig
    return Citation(doc=doc, line_start=line, line_end=line, page=page, snippet=text)


def year_figure(q: Query, r: Report | None, year: int, fig: YearFigure) -> Answer:
    """A figure the report states for another year than its own (2020年为33.55% in a 2021 report)."""
    asked = "、".join(q.residue)
    text = (
        f"{r.department if r else ''}{year}年“{asked}”：{money_text(Decimal(fig[0]), fig[1])}"
        f"（{r.year if r else ''}年报告中所述：{fig[4].strip()}）（{fig[5]} 第{fig[2]}行）"
    )
    return Answer(
        question=q.text,
        kind="lookup",
        text=text,
        values=[_figure_value(r, year, fig, asked)],
        citations=[_figure_citation(fig)],
    )


def point_change(q: Query, r: Report | None, year: int, cur: YearFigure, prev: YearFigure) -> Answer:
    """The change of a rate between two years the report states, in percentage points (exact Decimal)."""
    asked = "、".join(q.residue)
    diff = Decimal(cur[0]) - Decimal(prev[0])
    word = "下降" if diff < 0 else "提高"
    der = f"{fmt(Decimal(cur[0]))}% − {fmt(Decimal(prev[0]))}% = {fmt(diff)}个百分点"
    text = (
        f"{r.department if r else ''}“{asked}”{year}年为{fmt(Decimal(cur[0]))}%，{year - 1}年为"
        f"{fmt(Decimal(prev[0]))}%，{word}{fmt(abs(diff))}个百分点（{der}）。（{cur[5]} 第{cur[2]}、{prev[2]}行）"
    )
    value = _figure_value(r, year, cur, asked, value=diff, qualifier="比上年增减（百分点）")
    return Answer(
        question=q.text,
        kind="computed",
        text=text,
        values=[value],
        citations=[_figure_citation(cur), _figure_citation(prev)],
        derivation=[der],
    )


def average(q: Query, r: Report | None, money: Fact, count: Fact) -> Answer:
    """A row's value per unit of its count (exact Decimal, rounded to 0.01 for saying it)."""
    per = round2(money.value / count.value)
    who = f"{r.department}{r.year}年" if r and r.year else (r.department if r else "")
    der = f"{fmt(money.value)}{money.unit}（{where(money)}） ÷ {fmt(count.value)}{count.unit} = {fmt(per)}{money.unit}"
    text = f"{who}{money.metric}平均每{count.unit}{money_text(per, money.unit)}（{der}）。"
    return Answer(
        question=q.text,
        kind="computed",
        text=text,
        values=[value_of(money, per, metric=f"{money.metric}平均每{count.unit}", qualifier="平均")],
        citations=[citation_of(money)],
        derivation=[der],
    )
