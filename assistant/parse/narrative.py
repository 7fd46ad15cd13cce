"""Numbers stated in the prose of a report (情况说明), as citable facts.

Text exports wrap sentences over lines and PDF lines are short, so consecutive lines of a paragraph are
joined into one buffer that remembers, for every character, the line (and page) it came from. The buffer
is split into sentences at 。, and every number followed by a unit is attributed to the metric named
closest before it in the same clause (a lexicon term, a ``…(项)`` budget item, or the last segment of a
``类-款-项`` path), with a qualifier from the words around it and the year the sentence gives it.

Precision matters more than recall: a number whose metric is unclear, whose unit does not fit the metric,
or that is a year, a date, an ordinal, a threshold (≥90%) or an approximation (800余万元) is skipped.

Change figures are signed: ``比2024年预算减少2,389.52万元`` gives ``value=-2389.52`` with qualifier
``比上年增减`` (``比预算增减`` when compared with the same year's budget); percentages after 增长/下降 get
``增长率`` (``比预算增减率``), after 占 ``占比``, after 完成 ``执行率``.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from assistant.models import Document, Fact, Report
from assistant.parse.lexicon import (
    COUNT_VARIANTS,
    STOCK_METRICS,
    metric_kind,
    unit_kind,
)
from assistant.parse.narrative_statements import NONE_RE, level_with_last_year, make_fact, stated_absent
from assistant.parse.prose import (
    BOUNDARY,
    Where,
    bracket_depths,
    one_of,
    origins,
    prose_paragraphs,
    prose_sentences,
)
from assistant.parse.prose_metrics import MetricMatch, item_matches, span_mask, term_matches

__all__ = ["extract_narrative_facts", "Sentence", "NUMBER_RE"]


_BOUNDARY_RE = one_of(BOUNDARY | {","})  # a comma is one unless inside a number (see _boundaries)
_COMPARISON_END_RE = re.compile(r"(?:比|较|与|同比)$")
# A number not glued to a letter, digit, dot or comma before it. Written to start with its first digit
# (the lookbehind checks the character before it) so a search skips to the next digit: the same
# matches as (?<![\d.,A-Za-z])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?, three times faster.
_NUMBER_RE = re.compile(r"\d(?<![\d.,A-Za-z]\d)(?:\d{0,2}(?:,\d{3})+|\d*)(?:\.\d+)?")
_YEAR_RE = re.compile(r"((?:19|20)\d{2})年")
_UNITS_LONGEST = sorted(
    (
        "元",
        "千元",
        "万元",
        "亿元",
        "%",
        "人",
        "万人",
        "人次",
        "万人次",
        "批次",
        "辆",
        "个",
        "台(套)",
        "台",
        "家",
        "次",
        "件",
        "户",
        "名",
    ),
    key=len,
    reverse=True,
)
# The same units as one pattern: alternatives are tried in order, so the longest unit wins.
_UNIT_RE = re.compile("|".join(re.escape(u) for u in _UNITS_LONGEST))
# Context right before a number that says it is not a stated value: ordinals, unit prices, thresholds.
_SKIP_BEFORE_RE = re.compile(
    r"(?:第|单价|单价在|≥|≤|≧|≦|<|>|=|超过|不低于|不高于|不少于|低于|高于|约|近|逾)$"
)
# Context right after the unit: thresholds, approximations, things that did not happen.
_SKIP_AFTER_RE = re.compile(
    r"^(?:\(含\))?(?:余|多|左右|以上|以下|以内|上下|及以上|及以下|百分点|没有|未|-|~|至)"
)
_INCREASE_RE = re.compile(r"增加|增长|增多|上升|提高")
_DECREASE_RE = re.compile(r"减少|下降|降低")
_COMPARISON_RE = re.compile(r"(?:比|较|与|同比)(?:上年|上一年|去年|((?:19|20)\d{2})年度?)?")
# What may stand between a metric and its number without changing what the number means.
_GAP_FILLER_RE = re.compile(
    r"\([^()]{0,20}\)|一般公共预算|财政拨款|支出决算数|支出预算数|支出决算|支出预算|决算数|预算数|年初预算|"
    r"全年预算|调整预算|决算|预算|支出|总额|合计|总计|共计|金额|安排|累计|实际|执行数|未超|"
    r"(?:19|20)\d{2}年度?|年度|本年|全年|为|是|达到|达|共|计|的|了|:|数|其中|中"
)
_CHANGE_FILLER_RE = re.compile(
    r"(?:比|较|与|同比|相比)(?:上年|上一年|去年|(?:19|20)\d{2}年度?)?|相比|增加|减少|增长|下降|降低|增多|上升|"
    r"提高|了|为|达|分别"
)
_QUALIFIER_WORD_RE = re.compile(r"预算|决算|执行数|实际支出")
# Noun phrases accepted as a metric when the lexicon knows none (label as written).
_FALLBACK_SUFFIX_RE = re.compile(r"(?:费|费用|经费|支出|收入|补助|资金|人数|人次|率)$")
_FALLBACK_LEAD_RE = re.compile(
    r"^(?:[和及与、]|其中|包括|主要|全区|全县|全市|全局|我局|我单位|本部门|本单位|单位|共计|共|累计|全年|本年度|"
    r"本年|年度|截至目前|目前|已|另|总|合计)+"
)
_FALLBACK_TRAIL_RE = re.compile(r"(?:为|达到|达|共计|合计|总计|共|计|约|是|有|了)+$")
_FALLBACK_GENERIC = frozenset(
    {"金额", "资金", "费用", "支出", "收入", "经费", "合计", "总计", "总额", "补助"}
)
_FALLBACK_BAD_RE = re.compile(r"[\d比较增减降占完成]|其他$|确保|力争|目标|不低于|计划|预计")
_CJK_LABEL_RE = re.compile(r"^[\u3400-\u9fff()]+$")
_DIGIT_RE = re.compile(r"\d")  # what _NUMBER_RE needs
_FUNDING_PREFIXES = ("一般公共预算", "财政拨款", "政府性基金", "国有资本经营")
_SCOPE_RE = re.compile(r"政府性基金|国有资本经营")
_ACQUIRE_RE = re.compile(r"购置|新增|处置|购买|拟")
_LAST_YEAR_RE = re.compile(r"(?<![比较与])(?:上年末|上年度|上一年)")


@dataclass
class _Prev:
    """What the previous number of the sentence became, for 占/增长/人次 clauses that name no metric."""

    base: str
    metric: str
    label: str
    unit: str
    unit_kind: str | None
    qualifier: str | None
    end: int


def _boundaries(text: str, matches: list[MetricMatch]) -> list[int]:
    """Clause boundary positions (，；、。 and a comma not inside a number), not inside metric names."""
    out = []
    blocked = span_mask(len(text), matches) if matches else None
    last = len(text) - 1
    for m in _BOUNDARY_RE.finditer(text):
        i = m.start()
        if blocked is not None and blocked[i]:
            continue
        if text[i] == "," and 0 < i < last and text[i - 1].isdigit() and text[i + 1].isdigit():
            continue  # a thousands separator
        out.append(i)
    return out


def _unit_at(text: str, pos: int) -> tuple[str, int] | None:
    """The unit written right after a number (one space allowed), with its end position."""
    if pos < len(text) and text[pos] == " ":
        pos += 1
    m = _UNIT_RE.match(text, pos)
    return (m.group(), m.end()) if m else None


def _default_qualifier(metric: str, kind: str | None) -> str | None:
    """Qualifier of a plain stated figure: the report's own side (决算数 / 预算数); none for stocks."""
    if metric in STOCK_METRICS:
        return None
    return {"决算": "决算数", "预算": "预算数"}.get(kind or "")


def _plain_qualifier(text: str, metric: str, kind: str | None) -> str | None:
    """预算数 / 年初预算数 / 调整预算数 / 决算数 from the words between a metric and its number."""
    for prefix in ("一般公共预算", "政府性基金预算", "国有资本经营预算"):
        text = text.replace(prefix, "")  # a funding source, not a budget figure
    if "年初预算" in text:
        return "年初预算数"
    if "调整预算" in text:
        return "调整预算数"
    if "决算" in text or "执行数" in text or "实际支出" in text:
        return "决算数"
    if "预算" in text or "安排" in text:
        return "预算数"
    return _default_qualifier(metric, kind)


def _comparison(text: str, pos: int, year: int | None) -> bool:
    """Whether the last comparison before pos is against the same year's budget (较2020年度年初预算数)."""
    last = None
    for m in _COMPARISON_RE.finditer(text, 0, pos):
        last = m
    if last is None or not last.group(1):
        return False
    return int(last.group(1)) == year and "预算" in text[last.end() : pos]


def _year_before(
    text: str, pos: int, depths: list[int], default: int | None, clause_start: int = 0
) -> int | None:
    """Last year named before pos that is not a comparison base (比2020年) or inside 《…》; 上年末 in
    the clause means the year before the report's."""
    year = None
    for m in _YEAR_RE.finditer(text, 0, pos):
        if depths[m.start()] or _COMPARISON_END_RE.search(text[max(0, m.start() - 2) : m.start()]):
            continue
        year = int(m.group(1))
    if year is None and default is not None and _LAST_YEAR_RE.search(text, clause_start, pos):
        return default - 1
    return year if year is not None else default


def _fallback_label(window: str) -> str | None:
    """A noun phrase written right before a number, accepted only in a narrow, metric-like shape."""
    label = _FALLBACK_TRAIL_RE.sub("", _FALLBACK_LEAD_RE.sub("", window))
    if not (3 <= len(label) <= 14) or not _CJK_LABEL_RE.match(label) or label in _FALLBACK_GENERIC:
        return None
    if _FALLBACK_BAD_RE.search(label) or not _FALLBACK_SUFFIX_RE.search(label):
        return None
    return label


def _signed(value: Decimal, words: str) -> Decimal | None:
    """Value signed by 增加/减少 in words; None when both directions are written (增加减少5,149元)."""
    up, down = bool(_INCREASE_RE.search(words)), bool(_DECREASE_RE.search(words))
    if up and down:
        return None
    return -value if down else value


def _sentence_facts(
    report: Report, text: str, where: Where, display: str, topic: MetricMatch | None
) -> tuple[list[Fact], list[tuple[str, int, str]], MetricMatch | None]:
    """Facts of one sentence, the metrics it says are absent (无…), and the topic it leaves set."""
    items = item_matches(text)
    numbers = [(nm, hit) for nm in _NUMBER_RE.finditer(text) if (hit := _unit_at(text, nm.end())) is not None]
    if not numbers and not NONE_RE.search(text):
        # no number with a unit and no 无…: no facts, only the topic (most sentences)
        return [], [], next((m for m in reversed(items) if m.label), topic)
    matches = sorted(items + term_matches(text, items), key=lambda m: m.start)
    bounds = _boundaries(text, matches)
    scopes = [
        m.start() for m in _SCOPE_RE.finditer(text) if not any(t.start <= m.start() < t.end for t in matches)
    ]
    depths = bracket_depths(text)
    facts: list[Fact] = []
    stated: list[tuple[int, Fact]] = []  # (end of the unit, fact) of the amounts found
    prev: _Prev | None = None
    prev_end = 0
    for nm, (unit, unit_end) in numbers:
        start = nm.start()
        last_prev, prev = prev, None  # only the number right before may lend its metric
        k = bisect_left(bounds, start)  # bounds are ascending: bounds[k - 1] is the last one before start
        clause_start = bounds[k - 1] + 1 if k else 0
        window_start = max(clause_start, prev_end)
        last_unit_end, prev_end = prev_end, unit_end
        if depths[start] or _SKIP_BEFORE_RE.search(text[max(0, start - 3) : start]):
            continue
        if _SKIP_AFTER_RE.match(text[unit_end:]):
            continue
        try:
            value = Decimal(nm.group(0).replace(",", ""))
        except InvalidOperation:
            continue
        ukind = unit_kind(unit)
        window = text[window_start:start]
        year = _year_before(text, start, depths, report.year, clause_start)
        vs_budget = _comparison(text, start, year)
        cands = [m for m in matches if m.start >= window_start and m.end <= start]
        match = cands[-1] if cands else None
        # 三公经费财政拨款支出: the funding words qualify the metric before them
        if (
            match
            and len(cands) > 1
            and cands[-2].end == match.start
            and match.label.startswith(_FUNDING_PREFIXES)
        ):
            match = cands[-2]
        if match and "占" in text[window_start : match.start]:
            match = None  # 占政府采购支出总额的0%: the named metric is the denominator
        metric = label = base = None
        qualifier: str | None = None
        gap = text[match.end : start] if match else window
        change = bool(_INCREASE_RE.search(gap) or _DECREASE_RE.search(gap))
        if match is None and window == "":
            # 人员经费，1,321,478.92元: a metric alone at the end of the clause before
            before = [m for m in matches if m.end == clause_start - 1 and m.start >= last_unit_end]
            if before:
                match, gap = before[-1], ""
                last_prev = None
        if (
            match is not None
            and match.metric in STOCK_METRICS
            and _ACQUIRE_RE.search(text[max(0, match.start - 3) : match.start])
        ):
            continue  # 拟购置固定资产总额 / 购置车辆: a purchase, not the stock
        if match is not None and any(p < match.start for p in scopes) and not _SCOPE_RE.search(match.metric):
            continue  # 政府性基金预算财政拨款…年末结转和结余0元: the figure of one fund, not the total
        if match is not None:
            residue = _CHANGE_FILLER_RE.sub("", _GAP_FILLER_RE.sub("", gap))
            if residue:
                continue  # something else stands between the metric and the number
            base, label = match.metric, match.label
            metric = base
            qtext = (match.label if match.kind == "term" else "") + gap
        else:
            residue = _CHANGE_FILLER_RE.sub("", _GAP_FILLER_RE.sub("", window))
            rate_words = window.startswith("占") or "完成" in window
            if last_prev is not None and (rate_words or not residue):
                # 10批次60人次 / 共计支出0.45万元 restate one family in other units; a second figure in the
                # same unit with nothing said about it (5万元，6万元) is not attributable
                if not (rate_words or change or last_prev.unit != unit or _QUALIFIER_WORD_RE.search(window)):
                    continue  # "5万元，6万元": a second figure of the same kind with nothing said
                base, label, metric = last_prev.base, last_prev.label, last_prev.base
                qtext = window
            elif topic is not None and not residue and _QUALIFIER_WORD_RE.search(window):
                base, label, metric = topic.metric, topic.label, topic.metric
                qtext = window
            else:
                fb = _fallback_label(window)
                if fb is None:
                    continue
                base, label, metric = fb, fb, fb
                qtext = ""
                fb_kind = (
                    "percent" if fb.endswith("率") else "count" if fb.endswith(("人数", "人次")) else "money"
                )
                if fb_kind != ukind:
                    continue
                if ukind == "percent":
                    prev = _Prev(base, metric, label, unit, ukind, None, unit_end)
                    facts.append(
                        make_fact(
                            report,
                            metric=metric,
                            label=label,
                            qualifier=None,
                            value=value,
                            unit=unit,
                            year=year,
                            where=where,
                            pos=start,
                            display=display,
                        )
                    )
                    continue
        # unit against metric kind
        mkind = metric_kind(metric)
        if ukind == "percent":
            if window.lstrip().startswith("占") or "占" in gap:
                qualifier = "占比"
            elif "完成" in qtext or "执行率" in qtext:
                qualifier = "执行率"
            elif change:
                signed = _signed(value, gap)
                if signed is None:
                    continue
                value = signed
                qualifier = "比预算增减率" if vs_budget else "增长率"
            elif mkind == "percent":
                qualifier = None
            else:
                continue
        elif ukind in ("money", "count"):
            if ukind == "count" and mkind != "count":
                variant = COUNT_VARIANTS.get((base, unit.removeprefix("万")))
                if variant is None:
                    continue
                metric = variant
            elif ukind == "money" and mkind != "money":
                continue
            if change:
                signed = _signed(value, gap)
                if signed is None:
                    continue
                value = signed
                qualifier = "比预算增减" if vs_budget else "比上年增减"
            else:
                qualifier = _plain_qualifier(qtext, metric, report.kind)
        else:
            continue
        prev = _Prev(base, metric, label, unit, ukind, qualifier, unit_end)
        facts.append(
            make_fact(
                report,
                metric=metric,
                label=label,
                qualifier=qualifier,
                value=value,
                unit=unit,
                year=year,
                where=where,
                pos=start,
                display=display,
            )
        )
        stated.append((unit_end, facts[-1]))
    facts += level_with_last_year(report, text, where, display, stated)
    nones = stated_absent(text, matches)
    new_topic = next((m for m in reversed(items) if m.label), topic)
    return facts, nones, new_topic


# For parse/mentions.py, which reads the same sentences and numbers.
NUMBER_RE = _NUMBER_RE


Sentence = tuple[
    str, list[int], list[int | None], str
]  # match text, line and page of each character, display


def extract_narrative_facts(
    doc: Document, report: Report, sentences: list[Sentence] | None = None
) -> list[Fact]:
    """Facts stated in sentences of ``doc`` (source="narrative"), in document order.

    Each fact carries the metric (canonical when the lexicon knows it, else the label as written), the
    label as written, qualifier, signed value, unit as written, value in 元 for money, the year it
    belongs to (the report's unless the sentence names another), ``line`` = line of the number,
    ``line_end`` = last line of the sentence, and the sentence as ``snippet``. Statements that a metric
    is absent (无“三公”经费财政拨款支出) give a 0 in the report's usual money unit.

    ``sentences``, when given, receives every sentence read that holds a digit (parse/mentions.py reads
    the same sentences; splitting them twice would cost a fifth of the parse).
    """
    facts: list[Fact] = []
    absent: list[tuple[str, int, str, Where, str, str]] = []
    for para, pieces in prose_paragraphs(doc):
        if not _DIGIT_RE.search(para) and "无" not in para and "没" not in para:
            continue  # no number and no 无/没有 (not even once quotes are dropped): nothing to find
        topic: MetricMatch | None = None
        for text, where, display in prose_sentences(para, *origins(pieces)):
            if sentences is not None and _DIGIT_RE.search(text):
                sentences.append((text, where.lines, where.pages, display))
            found, nones, topic = _sentence_facts(report, text, where, display, topic)
            facts.extend(found)
            absent.extend((metric, pos, label, where, display, text) for metric, pos, label in nones)
    units = Counter(f.unit for f in facts if unit_kind(f.unit) == "money")
    zero_unit = units.most_common(1)[0][0] if units else "元"
    for metric, pos, label, where, display, text in absent:
        year = _year_before(text, pos, bracket_depths(text), report.year)
        facts.append(
            make_fact(
                report,
                metric=metric,
                label=label,
                qualifier=_default_qualifier(metric, report.kind),
                value=Decimal(0),
                unit=zero_unit,
                year=year,
                where=where,
                pos=pos,
                display=display,
            )
        )
    facts.sort(key=lambda f: (f.line, f.snippet))
    return facts
