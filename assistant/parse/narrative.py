"""Numbers stated in the prose of a report (情况说明), as citable facts.

Text exports wrap sentences over lines and PDF lines are short, so consecutive lines of a paragraph are
joined into one buffer that remembers, for every character, the line (and page) it came from. The buffer
is split into sentences at 。, and every number followed by a unit is attributed to the metric named
closest before it in the same clause (a lexicon term, a ``…(项)`` budget item, or the last segment of a
``类-款-项`` path), with a qualifier from the words around it and the year the sentence gives it.

Precision matters more than recall: a number whose metric is unclear, whose unit does not fit the metric,
or that is a year, a date, an ordinal, a threshold (≥90%) or an approximation (800余万元) is skipped.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from assistant.models import Document, Fact, Report
from assistant.parse.lexicon import (
    COUNT_VARIANTS,
    METRICS,
    all_terms,
    canonical_metric,
    metric_kind,
    normalize_label,
    to_yuan,
    unit_kind,
)

__all__ = ["extract_narrative_facts", "NARRATIVE_EXCLUDED_TERMS"]

# Lexicon terms that are fine in a question but too loose in report prose: 采购 also means 药品集中采购,
# 车辆 occurs in 车辆租赁费, 结余 in 结余分配, 人数 in 参保人数.
NARRATIVE_EXCLUDED_TERMS: frozenset[str] = frozenset({
    "采购", "出国", "公车", "车辆", "结余", "人数", "在职", "编制", "工资", "买了多少东西", "花了多少钱",
    "吃喝", "买车", "多少人", "几辆车", "多少辆车", "有几辆车", "接待了几批", "几批次", "接待了多少人",
    "本年收入", "本年支出", "项目经费", "财政拨款", "一般公共服务", "社会保障和就业", "卫生健康",
    "医疗卫生", "农林水", "住房保障", "科学技术", "商品和服务", "工资福利", "运行经费", "公务用车",
    "全部收入", "全部支出", "部门收入", "执行进度",
})

_QUOTE_CHARS = frozenset("“”\"‘’'「」『』")
_SENTENCE_END = frozenset("。!?！？")
_CLAUSE_BOUNDARY = frozenset("，；;。!?！？、")
_HEADING_RE = re.compile(
    r"^(?:第[一二三四五六七八九十\d]+部分|[一二三四五六七八九十]+、|\([一二三四五六七八九十]+\)|"
    r"\d+\s*[、.．](?!\d)|\(\d+\)|[①②③④⑤⑥⑦⑧⑨⑩])"
)
_SENTENCE_PUNCT_RE = re.compile(r"[，。；;:、]")
_THRESHOLD_START_RE = re.compile(r"^[≥≤≧≦<>=＝～~]")
_NUMBER_RE = re.compile(r"(?<![\d.,A-Za-z])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?")
_YEAR_RE = re.compile(r"((?:19|20)\d{2})\s*年")
_UNITS_LONGEST = sorted(
    ("元", "千元", "万元", "亿元", "%", "人", "万人", "人次", "万人次", "批次", "辆", "个", "台(套)", "台",
     "家", "次", "件", "户", "名"),
    key=len,
    reverse=True,
)
# Context before a number that says it is not a stated value of a metric.
_SKIP_BEFORE_RE = re.compile(r"(?:第|单价|单价在|≥|≤|≧|≦|<|>|=|超过|不低于|不高于|低于|高于|约|近|逾)\s*$")
# Context after the unit: thresholds and approximations.
_SKIP_AFTER_RE = re.compile(r"^\s*(?:\(含\))?\s*(?:余|多|左右|以上|以下|以内|上下|及以上|及以下)")
_CHANGE_RE = re.compile(r"(增加|减少|增长|下降|降低|增多|减|上升|提高|节约|多|少)")
_DECREASE_RE = re.compile(r"(减少|下降|降低|减|节约|少)")
_COMPARISON_RE = re.compile(r"(?:比|较|与|同比|相比)\s*(?:上年|上一年|去年|((?:19|20)\d{2})\s*年度?)")
# What may stand between a metric and its number without changing what the number means.
_GAP_FILLER_RE = re.compile(
    r"\([^()]{0,20}\)|财政拨款|一般公共预算|支出决算数|支出预算数|支出决算|支出预算|决算数|预算数|年初预算|"
    r"全年预算|调整预算|决算|预算|支出|收入|总额|合计|总计|共计|金额|安排|累计|实际|执行数|分别|"
    r"(?:19|20)\d{2}\s*年度?|年度|本年|全年|为|是|达到|达|共|计|的|了|:|数|中|其中|资金|经费|费用"
)
_CHANGE_FILLER_RE = re.compile(
    r"(?:比|较|与|同比|相比)\s*(?:上年|上一年|去年|(?:19|20)\d{2}\s*年度?)?|"
    r"增加|减少|增长|下降|降低|增多|减|上升|提高|了|为|达|分别|"
    r"决算数|预算数|年初预算|全年预算|调整预算|预算|决算|度|年|数|的|:"
)
_RATE_FILLER_RE = re.compile(r"^(?:占.*|完成.*|执行率.*|预算执行率.*)$")
# Noun phrases accepted as a metric when the lexicon knows none (label as written).
_FALLBACK_SUFFIX_RE = re.compile(r"(?:费|费用|经费|支出|收入|补助|资金|人数|人次|率)$")
_FALLBACK_LEAD_RE = re.compile(
    r"^(?:[和及与、]|其中|包括|主要|全区|全县|全市|全局|我局|我单位|本部门|本单位|单位|共|累计|全年|本年度|本年|"
    r"年度|截至目前|目前|已|另|总|合计)+"
)
_FALLBACK_TRAIL_RE = re.compile(r"(?:为|达到|达|共计|合计|总计|共|计|约|是|有|了)+$")
_FALLBACK_GENERIC = frozenset({"金额", "资金", "费用", "支出", "收入", "经费", "合计", "总计", "总额"})
_PAREN_ITEM_RE = re.compile(r"\((类|款|项)\)")
_PATH_ITEM_RE = re.compile(r"([^，。；;、:\s]+?-)+([^，。；;、:\s\-]+?)科目")
_NONE_RE = re.compile(r"(?:无|没有)(?:财政拨款)?")
_MIN_TERM_LEN = 2


@dataclass
class _Char:
    """One character of a paragraph buffer and where it came from."""

    ch: str
    line: int
    page: int | None


@dataclass
class _Match:
    """A metric mention in a sentence: [start, end) in the match string."""

    start: int
    end: int
    metric: str
    label: str


@dataclass
class _Sentence:
    """A sentence: the match string (quotes and most spaces dropped), its char map and display text."""

    text: str
    chars: list[_Char]
    display: str
    topic: _Match | None = None
    facts: list[Fact] = field(default_factory=list)


@lru_cache_terms := None  # placeholder removed below (keeps ruff quiet about reassignments)


def _narrative_terms() -> dict[str, list[tuple[str, str]]]:
    """Lexicon terms usable in prose, grouped by first character, longest first."""
    by_first: dict[str, list[tuple[str, str]]] = {}
    for term, canonical in all_terms():
        if len(term) < _MIN_TERM_LEN or term in NARRATIVE_EXCLUDED_TERMS:
            continue
        by_first.setdefault(term[0], []).append((term, canonical))
    return by_first


_TERMS_BY_FIRST: dict[str, list[tuple[str, str]]] | None = None


def _terms() -> dict[str, list[tuple[str, str]]]:
    global _TERMS_BY_FIRST
    if _TERMS_BY_FIRST is None:
        _TERMS_BY_FIRST = _narrative_terms()
    return _TERMS_BY_FIRST
