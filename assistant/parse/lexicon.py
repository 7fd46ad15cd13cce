"""Metric lexicon: canonical metric names, their synonyms, qualifiers and units.

Everything here is data: the question parser, the table parser and the narrative extractor all match
against the same terms, so a synonym added once is understood everywhere. Terms are compared after
``normalize_label`` (width folding, quotes and spaces removed), so “三公”经费, "三公"经费 and 三公经费
are one term, as are 因公出国（境）费 and 因公出国(境)费.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from functools import lru_cache

# Canonical metric -> synonyms (data): assistant/parse/metric_terms.py.
from assistant.parse.metric_terms import METRICS  # re-exported: every room reads it here

# The parts a total is made of, for "各项/分别/有哪些" questions (coded rows use their child codes).
COMPONENTS: dict[str, tuple[str, ...]] = {
    "三公经费": ("因公出国（境）费", "公务用车购置及运行维护费", "公务接待费"),
    "公务用车购置及运行维护费": ("公务用车购置费", "公务用车运行维护费"),
    "本年支出合计": ("基本支出", "项目支出"),
    "基本支出": ("人员经费", "公用经费"),
}

# What a metric counts, so a number is only attached to a metric of the same kind (money / count / %).
# Counts that are a stock at a date (车辆数 at 12月31日), not a budget or an outturn: no 预算数/决算数.
STOCK_METRICS: frozenset[str] = frozenset(
    {"车辆数", "编制数", "在职人数", "退休人数", "参保人数", "资产总额", "固定资产"}
)
COUNT_METRICS: frozenset[str] = frozenset(
    {
        "公务接待批次",
        "公务接待人次",
        "国内公务接待批次",
        "国内公务接待人次",
        "外事接待批次",
        "外事接待人次",
        "因公出国（境）团组数",
        "因公出国（境）人次",
        "车辆数",
        "公务用车购置数",
        "编制数",
        "在职人数",
        "退休人数",
        "参保人数",
    }
)
PERCENT_METRICS: frozenset[str] = frozenset({"执行率"})

# When a money metric is followed by a count, the count belongs to a sibling metric: 国内公务接待10批次.
COUNT_VARIANTS: dict[tuple[str, str], str] = {
    ("公务接待费", "批次"): "公务接待批次",
    ("公务接待费", "人次"): "公务接待人次",
    ("公务接待费", "人"): "公务接待人次",
    ("国内公务接待费", "批次"): "国内公务接待批次",
    ("国内公务接待费", "人次"): "国内公务接待人次",
    ("国内公务接待费", "人"): "国内公务接待人次",
    ("外事接待费", "批次"): "外事接待批次",
    ("外事接待费", "人次"): "外事接待人次",
    ("外事接待费", "人"): "外事接待人次",
    ("因公出国（境）费", "次"): "因公出国（境）团组数",
    ("因公出国（境）费", "个"): "因公出国（境）团组数",
    ("因公出国（境）费", "人"): "因公出国（境）人次",
    ("因公出国（境）费", "人次"): "因公出国（境）人次",
    ("公务用车购置及运行维护费", "辆"): "车辆数",
    ("公务用车购置费", "辆"): "公务用车购置数",
}

# Qualifier -> words that signal it, in a question or around a number in a sentence.
# 年初预算 is kept apart from 预算数 because reports state both and they differ (年初预算0万元，全年预算321.02万元).
QUALIFIERS: dict[str, tuple[str, ...]] = {
    "预算数": ("预算数", "预算", "全年预算", "全年预算数", "预算安排", "安排", "计划"),
    "年初预算数": ("年初预算", "年初预算数"),
    "调整预算数": ("调整预算", "调整预算数", "调整后预算"),
    "决算数": ("决算数", "决算", "实际支出", "支出决算", "执行数", "花了", "实际", "用了", "开支"),
    "比上年增减": (
        "比上年",
        "较上年",
        "同比",
        "增减",
        "增加",
        "减少",
        "增长",
        "下降",
        "降低",
        "增多",
        "减少了",
        "多了",
        "少了",
    ),
    "增长率": ("增长率", "增幅", "降幅", "增长百分比", "下降百分比"),
    "占比": ("占比", "比重", "占", "比例"),
    "执行率": ("执行率", "完成率", "完成预算", "完成年初预算", "完成全年预算", "完成调整预算"),
}

# Regex data for qualifiers that need a number shape: 增长12.46% / 下降6.90% -> 增长率.
QUALIFIER_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"(增长|增加|上升|提高|下降|减少|降低|增多)[了为约]?\s*-?\d+(\.\d+)?\s*%", "增长率"),
    (r"占[^，。；%]{0,20}?\d+(\.\d+)?\s*%", "占比"),
    (r"完成[^，。；%]{0,12}?\d+(\.\d+)?\s*%", "执行率"),
    (r"(比|较|与)\s*(上年|\d{4}\s*年)", "比上年增减"),
)

# Unit -> (kind, factor to 元). kind: money / count / percent / area.
UNITS: dict[str, tuple[str, Decimal | None]] = {
    "元": ("money", Decimal(1)),
    "千元": ("money", Decimal(1000)),
    "万元": ("money", Decimal(10000)),
    "亿元": ("money", Decimal(100000000)),
    "%": ("percent", None),
    "人": ("count", None),
    "万人": ("count", None),
    "人次": ("count", None),
    "万人次": ("count", None),
    "批次": ("count", None),
    "批": ("count", None),
    "辆": ("count", None),
    "个": ("count", None),
    "台": ("count", None),
    "台(套)": ("count", None),
    "套": ("count", None),
    "家": ("count", None),
    "次": ("count", None),
    "件": ("count", None),
    "项": ("count", None),
    "户": ("count", None),
    "名": ("count", None),
    "平方米": ("area", None),
}

# Units as reports write them right after a number: UNITS plus count words that need no conversion and
# a bare 万 (绩效 tables write 1.2 万 for 1.2万元 and ≧ 40 万 for 40万人: the unit as written, its kind
# unknown), longest first (so 万人次 wins over 万人 and 人次 over 人).
WRITTEN_UNITS: tuple[str, ...] = tuple(
    sorted(set(UNITS) | {"种", "所", "份", "天", "分", "万"}, key=lambda u: (-len(u), u))
)

_QUOTES = "“”\"‘’'「」『』《》"
_QUOTE_TABLE = str.maketrans("", "", _QUOTES)
_SPACE_RE = re.compile(r"\s+")
_ORDINAL_RE = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.]|\(?[一二三四五六七八九十]+\)|\d+(?:\.\d+)*[、.](?!\d)|\(\d+\))"
)
_TRAILING_PAREN_RE = re.compile(r"\((?:类|款|项|万元|元|个|人|辆|人次|批次|台|套|台\(套\))\)$")
# Suffixes stripped (repeatedly) when a label does not match as written: 公务接待费支出决算 -> 公务接待费.
_TRAILING_WORDS = (
    "支出决算数",
    "支出预算数",
    "支出决算",
    "支出预算",
    "决算数",
    "预算数",
    "调整预算数",
    "决算",
    "预算",
    "合计",
    "情况",
    "金额",
    "支出",
    "数",
)
_FILLER_RE = re.compile(
    r"\d{4}年度?|\d{4}|年度|本年度|本年|全年|一般公共预算|财政拨款|支出|决算|预算|数|合计|总额|金额|情况|安排|"
    r"共计|总计|其中|的|为|是|多少|本部门|本单位|我局|部门|单位|:|\(类\)|\(款\)|\(项\)"
)
_LEADING_WORDS = (
    "一般公共预算财政拨款",
    "财政拨款",
    "本年度",
    "本年",
    "全年",
    "年初",
    "其中:",
    "其中",
    "本部门",
    "本单位",
    "我局",
    "单位",
)


def normalize_label(label: str) -> str:
    """Fold a label for matching: NFKC width folding, quotes and whitespace removed.

    >>> normalize_label("“三公”经费 ")
    '三公经费'
    """
    text = unicodedata.normalize("NFKC", label)
    text = text.translate(_QUOTE_TABLE)
    return _SPACE_RE.sub("", text)


@lru_cache(maxsize=1)
def _term_index() -> dict[str, str]:
    """Normalised term -> canonical metric. The canonical name wins over a clashing synonym."""
    index: dict[str, str] = {}
    for canonical, synonyms in METRICS.items():
        for term in synonyms:
            index.setdefault(normalize_label(term), canonical)
    for canonical in METRICS:
        index[normalize_label(canonical)] = canonical
    return index


def all_terms() -> list[tuple[str, str]]:
    """All (normalised term, canonical metric) pairs, longest term first, for longest-match scanning."""
    return list(_sorted_terms())


@lru_cache(maxsize=1)
def _sorted_terms() -> tuple[tuple[str, str], ...]:
    return tuple(sorted(_term_index().items(), key=lambda tc: (-len(tc[0]), tc[0])))


def metric_kind(metric: str) -> str:
    """What a canonical metric measures: "money", "count" or "percent" (unknown labels count as money)."""
    if metric in COUNT_METRICS:
        return "count"
    if metric in PERCENT_METRICS:
        return "percent"
    return "money"


def _strip_label(text: str) -> str:
    """Remove list ordinals and trailing (类)/(项)/(万元) markers from a normalised label."""
    text = _ORDINAL_RE.sub("", text)
    previous = None
    while previous != text:
        previous = text
        text = _TRAILING_PAREN_RE.sub("", text)
    return text


@lru_cache(maxsize=65536)  # labels repeat across reports and tables; the function is pure
def canonical_metric(label: str) -> str | None:
    """Canonical metric for a label as written, or None when the lexicon does not know it.

    Tries the label as written, then with ordinals, trailing 支出/决算/预算 and leading 财政拨款/本年
    words removed, then the longest known term contained in the label (not for 其他… rows, which are
    residual categories, e.g. 其他商品和服务支出 is not 商品和服务支出).
    """
    index = _term_index()
    text = _strip_label(normalize_label(label))
    if not text:
        return None
    if text in index:
        return index[text]
    candidates = [text]
    for lead in _LEADING_WORDS:
        if text.startswith(lead) and len(text) > len(lead):
            candidates.append(text[len(lead) :])
    for cand in list(candidates):
        stripped = cand
        changed = True
        while changed:
            changed = False
            for tail in _TRAILING_WORDS:
                if stripped.endswith(tail) and len(stripped) > len(tail) + 1:
                    stripped = stripped[: -len(tail)]
                    candidates.append(stripped)
                    changed = True
                    break
    for cand in candidates:
        if cand in index:
            return index[cand]
    # Longest contained term, only when what is left around it is filler (years, 财政拨款, 支出决算…):
    # 其他商品和服务支出 is not 商品和服务支出, 使用非财政拨款结余 is not 结余.
    for term, canonical in all_terms():
        pos = text.find(term)
        if pos >= 0 and not _FILLER_RE.sub("", text[:pos] + "|" + text[pos + len(term) :]).strip("|"):
            return canonical
    return None


@lru_cache(maxsize=1024)  # a report writes a handful of units, thousands of times
def _unit_entry(unit: str) -> tuple[str, Decimal | None] | None:
    return UNITS.get(normalize_label(unit))


def unit_kind(unit: str) -> str | None:
    """Kind of a unit as written ("money", "count", "percent", "area"), or None if unknown."""
    entry = _unit_entry(unit)
    return entry[0] if entry else None


def to_yuan(value: Decimal, unit: str) -> Decimal | None:
    """Convert a money amount to 元 (万元 ×10,000, 亿元 ×100,000,000); None for non-money units."""
    entry = _unit_entry(unit)
    if entry is None or entry[1] is None:
        return None
    return value * entry[1]


def unit_terms() -> list[str]:
    """Units as written (normalised), longest first, for matching a unit right after a number."""
    return sorted(UNITS, key=lambda u: (-len(u), u))


def qualifier_terms() -> list[tuple[str, str]]:
    """All (word, qualifier) pairs, longest word first; a word listed under two qualifiers keeps the first."""
    seen: dict[str, str] = {}
    for qualifier, words in QUALIFIERS.items():
        for word in words:
            seen.setdefault(normalize_label(word), qualifier)
    return sorted(seen.items(), key=lambda wq: (-len(wq[0]), wq[0]))


def canonical_qualifier(text: str) -> str | None:
    """Qualifier signalled by a phrase (longest word match, then number patterns), or None."""
    norm = normalize_label(text)
    for pattern, qualifier in QUALIFIER_PATTERNS:
        if re.search(pattern, norm):
            return qualifier
    for word, qualifier in qualifier_terms():
        if word in norm:
            return qualifier
    return None
