"""Narrative facts that are statements rather than figures: a change of 0 for "…，与上年持平", metrics a
sentence says the unit did not have (无“三公”经费…), and the one constructor of a narrative Fact."""

from __future__ import annotations

import re
from decimal import Decimal

from assistant.models import Fact, Report
from assistant.parse.lexicon import METRICS, metric_kind, to_yuan, unit_kind
from assistant.parse.prose import Where
from assistant.parse.prose_metrics import MetricMatch

_CONDITIONAL_RE = re.compile(r"(?:和?(?:收入|支出|收支))*的")
NONE_RE = re.compile(r"(?:无|没有)(?:财政拨款)?")


def make_fact(
    report: Report,
    *,
    metric: str,
    label: str,
    qualifier: str | None,
    value: Decimal,
    unit: str,
    year: int | None,
    where: Where,
    pos: int,
    display: str,
) -> Fact:
    """A narrative Fact citing the number's line and the sentence's last line."""
    return Fact(
        doc=report.doc,
        department=report.department,
        year=year,
        kind=report.kind,
        metric=metric,
        label=label,
        qualifier=qualifier,
        value=value,
        unit=unit,
        value_yuan=to_yuan(value, unit) if unit_kind(unit) == "money" else None,
        source="narrative",
        line=where.lines[pos],
        line_end=max(where.lines[pos], where.lines[-1]),
        page=where.pages[pos],
        snippet=display,
        flags=[],
    )


# 839万元，与2024年预算持平: no change against last year. 基本持平 (roughly level) states no number.
_LEVEL_RE = re.compile(
    r"(?<!基本)与(?:上年|上一年|去年|(?:19|20)\d{2}年度?)(?:同期)?(?:预算|决算)?数?(?:相比)?持平"
)


def level_with_last_year(
    report: Report, text: str, where: Where, display: str, stated: list[tuple[int, Fact]]
) -> list[Fact]:
    """A change of 0 (比上年增减) for an amount right before "，与上年持平"."""
    out: list[Fact] = []
    for lv in _LEVEL_RE.finditer(text):
        before = [
            (end, f)
            for end, f in stated
            if end <= lv.start()
            and f.value_yuan is not None
            and f.qualifier not in ("比上年增减", "比预算增减")
        ]
        if not before or not re.fullmatch(r"[，,\s]*", text[before[-1][0] : lv.start()]):
            continue
        f = before[-1][1]
        out.append(
            make_fact(
                report,
                metric=f.metric,
                label=f.label,
                qualifier="比上年增减",
                value=Decimal(0),
                unit=f.unit,
                year=f.year,
                where=where,
                pos=lv.start(),
                display=display,
            )
        )
    return out


def stated_absent(text: str, matches: list[MetricMatch]) -> list[tuple[str, int, str]]:
    """Metrics a sentence says the unit did not have: 无“三公”经费财政拨款支出 → (三公经费, pos)."""
    out: list[tuple[str, int, str]] = []
    for nm in NONE_RE.finditer(text):
        hit = next((m for m in matches if m.start == nm.end() and m.kind == "term"), None)
        if hit is None or metric_kind(hit.metric) != "money" or _CONDITIONAL_RE.match(text, hit.end):
            continue  # 无政府性基金预算财政拨款收入支出的，仍保留该表格式: an instruction, not a statement
        out.append((hit.metric, hit.start, hit.label))
        rest = text[hit.end : hit.end + 3]
        for here, there in (("收入", "支出"), ("支出", "收入")):
            sibling = hit.metric[: -len(here)] + there if hit.metric.endswith(here) else None
            if sibling and sibling in METRICS and rest.startswith("和" + there):
                out.append((sibling, hit.start, hit.label[: -len(here)] + there))
    return out
