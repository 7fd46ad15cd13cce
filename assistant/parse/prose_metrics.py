"""Where a sentence of report prose names a metric: lexicon terms usable in prose and budget items
(``…(项)``, a quoted 类-款-项 path before 科目), as spans of the sentence (parse/narrative.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from assistant.parse.lexicon import all_terms, canonical_metric
from assistant.parse.prose import BOUNDARY, HEADING_RE

# Lexicon terms that are fine in a question but too loose in report prose: 采购 also means 药品集中采购,
# 采购金额 is also what SMEs won, 车辆 occurs in 车辆租赁费, 结余 in 结余分配, 人数 in 异地就医人数.
NARRATIVE_EXCLUDED_TERMS: frozenset[str] = frozenset(
    {
        "采购",
        "采购金额",
        "采购总额",
        "出国",
        "公车",
        "车辆",
        "结余",
        "人数",
        "在职",
        "编制",
        "工资",
        "买了多少东西",
        "花了多少钱",
        "吃喝",
        "买车",
        "多少人",
        "几辆车",
        "多少辆车",
        "有几辆车",
        "接待了几批",
        "几批次",
        "接待了多少人",
        "本年收入",
        "本年支出",
        "项目经费",
        "财政拨款",
        "一般公共服务",
        "社会保障和就业",
        "卫生健康",
        "医疗卫生",
        "农林水",
        "住房保障",
        "科学技术",
        "商品和服务",
        "工资福利",
        "运行经费",
        "公务用车",
        "全部收入",
        "全部支出",
        "部门收入",
        "执行进度",
        "一共收入",
        "一共支出",
        "收入一共",
        "支出一共",
        "公务接待",
        "一般公共预算财政拨款",
    }
)


_PAREN_ITEM_RE = re.compile(r"\((?:类|款|项)\)")


_PATH_ITEM_RE = re.compile(r"(?:[^，。；;、:\s]+?-)+([^，。；;、:\s-]+?)科目")


@dataclass
class MetricMatch:
    """A metric mention in a sentence: [start, end) in the match text."""

    start: int
    end: int
    metric: str
    label: str
    kind: str  # "term" (lexicon), "item" (…(项) / 类-款-项 path)


@lru_cache(maxsize=1)
def _terms_by_first() -> dict[str, list[tuple[str, str]]]:
    """Lexicon terms usable in prose, grouped by first character, longest first."""
    by_first: dict[str, list[tuple[str, str]]] = {}
    for term, canonical in all_terms():
        if len(term) < 2 or term in NARRATIVE_EXCLUDED_TERMS:
            continue
        by_first.setdefault(term[0], []).append((term, canonical))
    return by_first


def item_matches(text: str) -> list[MetricMatch]:
    """Budget items named as ``…(项)`` / ``(款)`` / ``(类)`` or as a quoted 类-款-项 path before 科目."""
    out: list[MetricMatch] = []
    if "科目" in text and "-" in text:  # both are literal parts of the pattern
        for m in _PATH_ITEM_RE.finditer(text):
            label = m.group(1)
            out.append(MetricMatch(m.start(), m.end(), canonical_metric(label) or label, label, "item"))
    for m in _PAREN_ITEM_RE.finditer(text):
        start = m.start()
        while start > 0 and text[start - 1] not in BOUNDARY and text[start - 1] not in ")::":
            start -= 1
        label = HEADING_RE.sub("", text[start : m.start()]).strip()
        if not label or len(label) > 30 or any(start < o.end and m.end() > o.start for o in out):
            continue
        # label as written keeps the (款) right before a (项): 行政运行 exists under several 款
        parent = next((o for o in out if o.end == start and o.label.endswith("(款)")), None)
        written = (parent.label if parent else "") + text[start : m.end()]
        out.append(MetricMatch(start, m.end(), canonical_metric(label) or label, written, "item"))
    return out


def span_mask(n: int, spans: list[MetricMatch]) -> bytearray:
    """1 at every position covered by one of the spans (a per-position test is linear, not quadratic)."""
    mask = bytearray(n)
    for m in spans:
        mask[max(m.start, 0) : min(m.end, n)] = b"\x01" * (min(m.end, n) - max(m.start, 0))
    return mask


@lru_cache(maxsize=1)
def _term_regex() -> tuple[re.Pattern[str], dict[str, str]]:
    """One pattern for all prose terms, and term -> canonical metric.

    Alternatives are grouped by first character and keep the longest-first order of _terms_by_first,
    so at each position the pattern picks the term the per-position scan would pick.
    """
    by_first = _terms_by_first()
    alts = [
        re.escape(first) + "(?:" + "|".join(re.escape(t[1:]) for t, _ in terms) + ")"
        for first, terms in by_first.items()
    ]
    canonical = {t: c for terms in by_first.values() for t, c in terms}
    return re.compile("|".join(alts)), canonical


def term_matches(text: str, taken: list[MetricMatch]) -> list[MetricMatch]:
    """Lexicon terms, longest first at each position, left to right, not starting inside item spans."""
    rx, canonical = _term_regex()
    out: list[MetricMatch] = []
    blocked = span_mask(len(text), taken) if taken else None
    i = 0
    while (m := rx.search(text, i)) is not None:
        start = m.start()
        if blocked is not None and blocked[start]:
            i = start + 1  # no term may start inside an item span
            continue
        term = m.group()
        out.append(MetricMatch(start, m.end(), canonical[term], term, "term"))
        i = m.end()
    return out
