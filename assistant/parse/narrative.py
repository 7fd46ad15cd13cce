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
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from itertools import chain

from assistant.models import Document, Fact, Report
from assistant.parse.lexicon import (
    COUNT_VARIANTS,
    METRICS,
    STOCK_METRICS,
    all_terms,
    canonical_metric,
    metric_kind,
    to_yuan,
    unit_kind,
)

__all__ = ["extract_narrative_facts", "iter_paragraphs", "NARRATIVE_EXCLUDED_TERMS", "Sentence", "is_table_line",
           "NUMBER_RE"]

# Lexicon terms that are fine in a question but too loose in report prose: 采购 also means 药品集中采购,
# 采购金额 is also what SMEs won, 车辆 occurs in 车辆租赁费, 结余 in 结余分配, 人数 in 异地就医人数.
NARRATIVE_EXCLUDED_TERMS: frozenset[str] = frozenset({
    "采购", "采购金额", "采购总额", "出国", "公车", "车辆", "结余", "人数", "在职", "编制", "工资",
    "买了多少东西", "花了多少钱", "吃喝", "买车", "多少人", "几辆车", "多少辆车", "有几辆车", "接待了几批",
    "几批次", "接待了多少人", "本年收入", "本年支出", "项目经费", "财政拨款", "一般公共服务",
    "社会保障和就业", "卫生健康", "医疗卫生", "农林水", "住房保障", "科学技术", "商品和服务", "工资福利",
    "运行经费", "公务用车", "全部收入", "全部支出", "部门收入", "执行进度", "一共收入", "一共支出",
    "收入一共", "支出一共", "公务接待", "一般公共预算财政拨款",
})

_QUOTE_CHARS = frozenset("“”\"‘’「」『』")
_SENTENCE_END = frozenset("。!?！？")
_BOUNDARY = frozenset("，；;。!?！？、")
_OPEN_BRACKETS = "《【〔["
_CLOSE_BRACKETS = "》】〕]"


def _one_of(chars: str | frozenset[str]) -> re.Pattern[str]:
    return re.compile("[" + re.escape("".join(sorted(chars))) + "]")


_SENTENCE_END_RE = _one_of(_SENTENCE_END)
# A character _sentences must look at one by one: a quote (dropped) or whitespace (dropped or kept).
_SPECIAL_RE = re.compile("[\\s" + re.escape("".join(sorted(_QUOTE_CHARS))) + "]")
_NON_SPACE_RE = re.compile(r"\S")  # \s is str.isspace()
_BOUNDARY_RE = _one_of(_BOUNDARY | {","})  # a comma is one unless inside a number (see _boundaries)
_OPEN_BRACKET_RE = _one_of(_OPEN_BRACKETS)
_COMPARISON_END_RE = re.compile(r"(?:比|较|与|同比)$")
_HEADING_RE = re.compile(
    r"^(?:第[一二三四五六七八九十\d]+部分|[一二三四五六七八九十]+、|\([一二三四五六七八九十]+\)|"
    r"\d+\s*[、.．](?!\d)|\(\d+\)|[①②③④⑤⑥⑦⑧⑨⑩])\s*"
)
_TITLE_END_RE = re.compile(r"(?:情况|说明|原因|概况|职能|设置|解释|预算|决算|措施|问题|目标)$")
_SENTENCE_PUNCT_RE = re.compile(r"[，。；;:、,]")
_PAGE_NUMBER_RE = re.compile(r"^[-—–\s]*(?:第\s*)?\d{1,3}(?:\s*页)?[-—–\s]*$")
_THRESHOLD_START_RE = re.compile(r"^[≥≤≧≦<>=＝～~]")
# A number not glued to a letter, digit, dot or comma before it. Written to start with its first digit
# (the lookbehind checks the character before it) so a search skips to the next digit: the same
# matches as (?<![\d.,A-Za-z])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?, three times faster.
_NUMBER_RE = re.compile(r"\d(?<![\d.,A-Za-z]\d)(?:\d{0,2}(?:,\d{3})+|\d*)(?:\.\d+)?")
# The same shape, for table lines: (?<![\d.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\d.,]|\s*年).
_LINE_NUMBER_RE = re.compile(r"\d(?<![\d.,]\d)(?:\d{0,2}(?:,\d{3})+|\d*)(?:\.\d+)?(?![\d.,]|\s*年)")
_YEAR_RE = re.compile(r"((?:19|20)\d{2})年")
_UNITS_LONGEST = sorted(
    ("元", "千元", "万元", "亿元", "%", "人", "万人", "人次", "万人次", "批次", "辆", "个", "台(套)", "台",
     "家", "次", "件", "户", "名"),
    key=len,
    reverse=True,
)
# The same units as one pattern: alternatives are tried in order, so the longest unit wins.
_UNIT_RE = re.compile("|".join(re.escape(u) for u in _UNITS_LONGEST))
# Context right before a number that says it is not a stated value: ordinals, unit prices, thresholds.
_SKIP_BEFORE_RE = re.compile(r"(?:第|单价|单价在|≥|≤|≧|≦|<|>|=|超过|不低于|不高于|不少于|低于|高于|约|近|逾)$")
# Context right after the unit: thresholds, approximations, things that did not happen.
_SKIP_AFTER_RE = re.compile(r"^(?:\(含\))?(?:余|多|左右|以上|以下|以内|上下|及以上|及以下|百分点|没有|未|-|~|至)")
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
_FALLBACK_GENERIC = frozenset({"金额", "资金", "费用", "支出", "收入", "经费", "合计", "总计", "总额", "补助"})
_FALLBACK_BAD_RE = re.compile(r"[\d比较增减降占完成]|其他$|确保|力争|目标|不低于|计划|预计")
_CJK_LABEL_RE = re.compile(r"^[\u3400-\u9fff()]+$")
_PAREN_ITEM_RE = re.compile(r"\((?:类|款|项)\)")
_PATH_ITEM_RE = re.compile(r"(?:[^，。；;、:\s]+?-)+([^，。；;、:\s-]+?)科目")
_CONDITIONAL_RE = re.compile(r"(?:和?(?:收入|支出|收支))*的")
_NONE_RE = re.compile(r"(?:无|没有)(?:财政拨款)?")
_DIGIT_RE = re.compile(r"\d")  # what _NUMBER_RE needs
_FUNDING_PREFIXES = ("一般公共预算", "财政拨款", "政府性基金", "国有资本经营")
_SCOPE_RE = re.compile(r"政府性基金|国有资本经营")
_ACQUIRE_RE = re.compile(r"购置|新增|处置|购买|拟")
_LAST_YEAR_RE = re.compile(r"(?<![比较与])(?:上年末|上年度|上一年)")


@dataclass
class _Where:
    """Where each character of a sentence's match text came from (parallel to the text)."""

    lines: list[int]
    pages: list[int | None]


@dataclass
class _Match:
    """A metric mention in a sentence: [start, end) in the match text."""

    start: int
    end: int
    metric: str
    label: str
    kind: str  # "term" (lexicon), "item" (…(项) / 类-款-项 path)


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


@lru_cache(maxsize=1)
def _terms_by_first() -> dict[str, list[tuple[str, str]]]:
    """Lexicon terms usable in prose, grouped by first character, longest first."""
    by_first: dict[str, list[tuple[str, str]]] = {}
    for term, canonical in all_terms():
        if len(term) < 2 or term in NARRATIVE_EXCLUDED_TERMS:
            continue
        by_first.setdefault(term[0], []).append((term, canonical))
    return by_first


def _is_table_line(text: str) -> bool:
    """Table rows and indicator tables: tab-separated, thresholds, or several bare numbers."""
    if "\t" in text or _THRESHOLD_START_RE.match(text):
        return True
    if not _SENTENCE_PUNCT_RE.search(text):
        return len(_LINE_NUMBER_RE.findall(text)) >= 2
    return False


def _is_title(text: str) -> bool:
    """A section title (short, or a numbered heading ending like one), kept out of the next sentence."""
    body = _HEADING_RE.sub("", text)
    if _SENTENCE_PUNCT_RE.search(body) or _LINE_NUMBER_RE.search(body):
        return False
    return len(body) <= 20 or (body != text and bool(_TITLE_END_RE.search(body)))


def _paragraphs(doc: Document) -> Iterator[tuple[str, list[tuple[int, int | None, int]]]]:
    """Consecutive prose lines joined; headings, titles and table rows break paragraphs.

    A paragraph is its text and the (line, page, number of characters) of its pieces, in order
    (see _origins).
    """
    parts: list[str] = []
    pieces: list[tuple[int, int | None, int]] = []
    for sl in doc.lines:
        text = sl.text.strip()
        if not text:
            continue  # blank lines inside paragraphs are common in exports (000 alternates them)
        if _PAGE_NUMBER_RE.match(text):
            continue  # a page number between two halves of a sentence
        if _is_table_line(text):
            if parts:
                yield "".join(parts), pieces
            parts, pieces = [], []
            continue
        title = _is_title(text)
        if (title or _HEADING_RE.match(text)) and parts:
            yield "".join(parts), pieces
            parts, pieces = [], []
        if parts and parts[-1][-1].isdigit() and text[0].isdigit():
            parts.append(" ")  # never glue two numbers across a line break
            pieces.append((sl.line, sl.page, 1))
        parts.append(text)
        pieces.append((sl.line, sl.page, len(text)))
        if title:
            yield "".join(parts), pieces
            parts, pieces = [], []
    if parts:
        yield "".join(parts), pieces


def _origins(pieces: list[tuple[int, int | None, int]]) -> tuple[list[int], list[int | None]]:
    """The line and the page of every character of a paragraph."""
    lines: list[int] = []
    pages: list[int | None] = []
    for line, page, n in pieces:
        lines.extend([line] * n)
        pages.extend([page] * n)
    return lines, pages


def _sentences(para: str, lines: list[int], pages: list[int | None]) -> Iterator[tuple[str, _Where, str]]:
    """Split a paragraph at 。: (match text, where each match character came from, display text).

    The match text drops quotes, and spaces except one between two numbers.
    """
    start = 0  # index in para of the sentence start
    ends = [m.end() for m in _SENTENCE_END_RE.finditer(para)]
    if not ends or ends[-1] < len(para):
        ends.append(len(para))
    for end in ends:
        if not _SPECIAL_RE.search(para, start, end):
            # the common case: every character is kept as it is
            if start < end:
                yield para[start:end], _Where(lines[start:end], pages[start:end]), para[start:end].strip()
            start = end
            continue
        # quotes dropped; a space kept (as " ") only between two numbers
        kept: list[str] = []
        spans: list[tuple[int, int]] = []  # the para range each kept piece comes from
        last = ""  # last kept character
        pos = start
        for m in _SPECIAL_RE.finditer(para, start, end):
            i = m.start()
            if pos < i:
                kept.append(para[pos:i])
                spans.append((pos, i))
                last = para[i - 1]
            pos = i + 1
            if para[i].isspace() and last.isdigit():
                nm = _NON_SPACE_RE.search(para, i + 1)
                if nm is not None and nm.group().isdigit():
                    kept.append(" ")
                    spans.append((i, i + 1))
                    last = " "
        if pos < end:
            kept.append(para[pos:end])
            spans.append((pos, end))
        if kept:
            where = _Where(list(chain.from_iterable(lines[a:b] for a, b in spans)),
                           list(chain.from_iterable(pages[a:b] for a, b in spans)))
            yield "".join(kept), where, para[start:end].strip()
        start = end


def _bracket_depths(text: str) -> list[int]:
    """Nesting depth of 《》【】〔〕 at each position (numbers inside titles are not facts)."""
    if not _OPEN_BRACKET_RE.search(text):
        return [0] * len(text)  # a closing bracket alone leaves the depth at 0
    depth, out = 0, []
    for ch in text:
        if ch in _OPEN_BRACKETS:
            depth += 1
        out.append(depth)
        if ch in _CLOSE_BRACKETS:
            depth = max(0, depth - 1)
    return out


def _item_matches(text: str) -> list[_Match]:
    """Budget items named as ``…(项)`` / ``(款)`` / ``(类)`` or as a quoted 类-款-项 path before 科目."""
    out: list[_Match] = []
    if "科目" in text and "-" in text:  # both are literal parts of the pattern
        for m in _PATH_ITEM_RE.finditer(text):
            label = m.group(1)
            out.append(_Match(m.start(), m.end(), canonical_metric(label) or label, label, "item"))
    for m in _PAREN_ITEM_RE.finditer(text):
        start = m.start()
        while start > 0 and text[start - 1] not in _BOUNDARY and text[start - 1] not in ")::":
            start -= 1
        label = _HEADING_RE.sub("", text[start:m.start()]).strip()
        if not label or len(label) > 30 or any(start < o.end and m.end() > o.start for o in out):
            continue
        # label as written keeps the (款) right before a (项): 行政运行 exists under several 款
        parent = next((o for o in out if o.end == start and o.label.endswith("(款)")), None)
        written = (parent.label if parent else "") + text[start:m.end()]
        out.append(_Match(start, m.end(), canonical_metric(label) or label, written, "item"))
    return out


def _span_mask(n: int, spans: list[_Match]) -> bytearray:
    """1 at every position covered by one of the spans (a per-position test is linear, not quadratic)."""
    mask = bytearray(n)
    for m in spans:
        mask[max(m.start, 0):min(m.end, n)] = b"\x01" * (min(m.end, n) - max(m.start, 0))
    return mask


@lru_cache(maxsize=1)
def _term_regex() -> tuple[re.Pattern[str], dict[str, str]]:
    """One pattern for all prose terms, and term -> canonical metric.

    Alternatives are grouped by first character and keep the longest-first order of _terms_by_first,
    so at each position the pattern picks the term the per-position scan would pick.
    """
    by_first = _terms_by_first()
    alts = [re.escape(first) + "(?:" + "|".join(re.escape(t[1:]) for t, _ in terms) + ")"
            for first, terms in by_first.items()]
    canonical = {t: c for terms in by_first.values() for t, c in terms}
    return re.compile("|".join(alts)), canonical


def _term_matches(text: str, taken: list[_Match]) -> list[_Match]:
    """Lexicon terms, longest first at each position, left to right, not starting inside item spans."""
    rx, canonical = _term_regex()
    out: list[_Match] = []
    blocked = _span_mask(len(text), taken) if taken else None
    i = 0
    while (m := rx.search(text, i)) is not None:
        start = m.start()
        if blocked is not None and blocked[start]:
            i = start + 1  # no term may start inside an item span
            continue
        term = m.group()
        out.append(_Match(start, m.end(), canonical[term], term, "term"))
        i = m.end()
    return out


def _boundaries(text: str, matches: list[_Match]) -> list[int]:
    """Clause boundary positions (，；、。 and a comma not inside a number), not inside metric names."""
    out = []
    blocked = _span_mask(len(text), matches) if matches else None
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
    return int(last.group(1)) == year and "预算" in text[last.end():pos]


def _year_before(text: str, pos: int, depths: list[int], default: int | None, clause_start: int = 0) -> int | None:
    """Last year named before pos that is not a comparison base (比2020年) or inside 《…》; 上年末 in
    the clause means the year before the report's."""
    year = None
    for m in _YEAR_RE.finditer(text, 0, pos):
        if depths[m.start()] or _COMPARISON_END_RE.search(text[max(0, m.start() - 2):m.start()]):
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


def _make_fact(report: Report, *, metric: str, label: str, qualifier: str | None, value: Decimal, unit: str,
               year: int | None, where: _Where, pos: int, display: str) -> Fact:
    """A narrative Fact citing the number's line and the sentence's last line."""
    return Fact(
        doc=report.doc, department=report.department, year=year, kind=report.kind, metric=metric,
        label=label, qualifier=qualifier, value=value, unit=unit,
        value_yuan=to_yuan(value, unit) if unit_kind(unit) == "money" else None, source="narrative",
        line=where.lines[pos], line_end=max(where.lines[pos], where.lines[-1]), page=where.pages[pos],
        snippet=display, flags=[],
    )


def _sentence_facts(report: Report, text: str, where: _Where, display: str,
                    topic: _Match | None) -> tuple[list[Fact], list[tuple[str, int, str]], _Match | None]:
    """Facts of one sentence, the metrics it says are absent (无…), and the topic it leaves set."""
    items = _item_matches(text)
    numbers = [(nm, hit) for nm in _NUMBER_RE.finditer(text) if (hit := _unit_at(text, nm.end())) is not None]
    if not numbers and not _NONE_RE.search(text):
        # no number with a unit and no 无…: no facts, only the topic (most sentences)
        return [], [], next((m for m in reversed(items) if m.label), topic)
    matches = sorted(items + _term_matches(text, items), key=lambda m: m.start)
    bounds = _boundaries(text, matches)
    scopes = [m.start() for m in _SCOPE_RE.finditer(text) if not any(t.start <= m.start() < t.end for t in matches)]
    depths = _bracket_depths(text)
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
        if depths[start] or _SKIP_BEFORE_RE.search(text[max(0, start - 3):start]):
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
        if (match and len(cands) > 1 and cands[-2].end == match.start
                and match.label.startswith(_FUNDING_PREFIXES)):
            match = cands[-2]
        if match and "占" in text[window_start:match.start]:
            match = None  # 占政府采购支出总额的0%: the named metric is the denominator
        metric = label = base = None
        qualifier: str | None = None
        gap = text[match.end:start] if match else window
        change = bool(_INCREASE_RE.search(gap) or _DECREASE_RE.search(gap))
        if match is None and window == "":
            # 人员经费，1,321,478.92元: a metric alone at the end of the clause before
            before = [m for m in matches if m.end == clause_start - 1 and m.start >= last_unit_end]
            if before:
                match, gap = before[-1], ""
                last_prev = None
        if match is not None and match.metric in STOCK_METRICS and _ACQUIRE_RE.search(
                text[max(0, match.start - 3):match.start]):
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
                fb_kind = "percent" if fb.endswith("率") else "count" if fb.endswith(("人数", "人次")) else "money"
                if fb_kind != ukind:
                    continue
                if ukind == "percent":
                    prev = _Prev(base, metric, label, unit, ukind, None, unit_end)
                    facts.append(_make_fact(report, metric=metric, label=label, qualifier=None, value=value,
                                            unit=unit, year=year, where=where, pos=start, display=display))
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
        facts.append(_make_fact(report, metric=metric, label=label, qualifier=qualifier, value=value, unit=unit,
                                year=year, where=where, pos=start, display=display))
        stated.append((unit_end, facts[-1]))
    facts += _level_with_last_year(report, text, where, display, stated)
    nones = _stated_absent(text, matches)
    new_topic = next((m for m in reversed(items) if m.label), topic)
    return facts, nones, new_topic


# 839万元，与2024年预算持平: no change against last year. 基本持平 (roughly level) states no number.
_LEVEL_RE = re.compile(r"(?<!基本)与(?:上年|上一年|去年|(?:19|20)\d{2}年度?)(?:同期)?(?:预算|决算)?数?(?:相比)?持平")


def _level_with_last_year(report: Report, text: str, where: _Where, display: str,
                          stated: list[tuple[int, Fact]]) -> list[Fact]:
    """A change of 0 (比上年增减) for an amount right before "，与上年持平"."""
    out: list[Fact] = []
    for lv in _LEVEL_RE.finditer(text):
        before = [(end, f) for end, f in stated if end <= lv.start() and f.value_yuan is not None
                  and f.qualifier not in ("比上年增减", "比预算增减")]
        if not before or not re.fullmatch(r"[，,\s]*", text[before[-1][0]:lv.start()]):
            continue
        f = before[-1][1]
        out.append(_make_fact(report, metric=f.metric, label=f.label, qualifier="比上年增减", value=Decimal(0),
                              unit=f.unit, year=f.year, where=where, pos=lv.start(), display=display))
    return out


def _stated_absent(text: str, matches: list[_Match]) -> list[tuple[str, int, str]]:
    """Metrics a sentence says the unit did not have: 无“三公”经费财政拨款支出 → (三公经费, pos)."""
    out: list[tuple[str, int, str]] = []
    for nm in _NONE_RE.finditer(text):
        hit = next((m for m in matches if m.start == nm.end() and m.kind == "term"), None)
        if hit is None or metric_kind(hit.metric) != "money" or _CONDITIONAL_RE.match(text, hit.end):
            continue  # 无政府性基金预算财政拨款收入支出的，仍保留该表格式: an instruction, not a statement
        out.append((hit.metric, hit.start, hit.label))
        rest = text[hit.end:hit.end + 3]
        for here, there in (("收入", "支出"), ("支出", "收入")):
            sibling = hit.metric[: -len(here)] + there if hit.metric.endswith(here) else None
            if sibling and sibling in METRICS and rest.startswith("和" + there):
                out.append((sibling, hit.start, hit.label[: -len(here)] + there))
    return out


def iter_paragraphs(doc: Document) -> Iterator[tuple[str, list[int], list[int | None]]]:
    """Every prose paragraph of ``doc`` as this module reads it (lines joined; headings, titles and table
    rows apart), with the line and page of each character (used by the audit, assistant/audit/)."""
    for para, pieces in _paragraphs(doc):
        yield (para, *_origins(pieces))


# For parse/mentions.py, which reads the same sentences and numbers.
NUMBER_RE = _NUMBER_RE
is_table_line = _is_table_line


Sentence = tuple[str, list[int], list[int | None], str]  # match text, line and page of each character, display


def extract_narrative_facts(doc: Document, report: Report, sentences: list[Sentence] | None = None) -> list[Fact]:
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
    absent: list[tuple[str, int, str, _Where, str, str]] = []
    for para, pieces in _paragraphs(doc):
        if not _DIGIT_RE.search(para) and "无" not in para and "没" not in para:
            continue  # no number and no 无/没有 (not even once quotes are dropped): nothing to find
        topic: _Match | None = None
        for text, where, display in _sentences(para, *_origins(pieces)):
            if sentences is not None and _DIGIT_RE.search(text):
                sentences.append((text, where.lines, where.pages, display))
            found, nones, topic = _sentence_facts(report, text, where, display, topic)
            facts.extend(found)
            absent.extend((metric, pos, label, where, display, text) for metric, pos, label in nones)
    units = Counter(f.unit for f in facts if unit_kind(f.unit) == "money")
    zero_unit = units.most_common(1)[0][0] if units else "元"
    for metric, pos, label, where, display, text in absent:
        year = _year_before(text, pos, _bracket_depths(text), report.year)
        facts.append(_make_fact(report, metric=metric, label=label, qualifier=_default_qualifier(metric, report.kind),
                                value=Decimal(0), unit=zero_unit, year=year, where=where, pos=pos,
                                display=display))
    facts.sort(key=lambda f: (f.line, f.snippet))
    return facts
