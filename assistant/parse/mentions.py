"""Numeric mentions: every number written with a unit that no fact holds, with the phrase it quantifies.

Facts need a metric the parser can name; most numbers of a report's prose have none it knows
(救助住院及门诊3679人次, 全区62家医药机构, 特困人员参保缴费资助标准为每人每年180元). They are kept here with
their line so that a question the facts cannot answer can still find "the line that contains the
question's words and a number of the expected unit" (the answer side; store accessor
``assistant.store.db.query_mentions``).

A mention is read from
  - the sentences of the prose (split as narrative.py splits them): the phrase is the words before the
    number in its clause (after the previous number of the clause), without leading connectives
    (其中, 共, 累计 …) and trailing verbs (为, 达到, 共计 …);
  - table-like lines that no table parser turned into facts (the 绩效指标 rows of PDF text, whose labels
    wrap over the lines above): the phrase is the text before the number on the line, or the short
    text-only lines right above it when the line starts with the number. A bare number right after a
    number and its unit (``>= 2 次 3``: 指标值, 度量单位, 实际完成值) is the same quantity in another
    column: a mention in that unit without a bound.
A number counts only with a unit written right after it (one space allowed): years, dates, ordinals
and codes have none. A number already held by a fact of the same line (same value, sign ignored) is
not repeated. A comparison or approximation written before the number (≥, 不低于, 约 …) is kept as
``bound``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from assistant.models import Document, Fact, Mention, Report
from assistant.parse.lexicon import WRITTEN_UNITS
from assistant.parse.narrative import NUMBER_RE, Sentence, extract_narrative_facts
from assistant.parse.prose import is_table_line

__all__ = ["extract_mentions"]

_UNIT_RE = re.compile("|".join(re.escape(u) for u in WRITTEN_UNITS))
# A unit glued to more CJK text is usually a word, not a unit: 3个工作日 is fine, 2人民 is not.
_NOT_UNIT_AFTER = {"人": "民大员事力才", "分": "别类析钟配管", "名": "称单义", "次": "要序", "件": "事"}
_BOUND_RE = re.compile(
    r"(≥|≤|≧|≦|>=|<=|>|<|=|＝|不低于|不少于|不高于|不超过|超过|低于|高于|约|近|逾|达到|达)\s*$"
)
_CLAUSE_END_RE = re.compile(r"[，,；;。:：!?！？\t]")
_LEAD_RE = re.compile(r"^(?:[和及与、]|其中|包括|主要|共计|共|累计|另|已|此外|同时|并)+")
# Verbs and rate words between a phrase and its number: 资助标准为每人每年180元 → 资助标准.
_TRAIL_RE = re.compile(
    r"(?:为|达到|达|共计|合计|总计|共|计|约|是|有|了|的|:|：|\s|=|＝|≥|≤|>|<|每人每年|每人每月|每人|"
    r"每年|每月|每户|每次|人均|年均|平均)+$"
)
_SKIP_BEFORE_RE = re.compile(r"(?:第|No\.?|编号|序号)\s*$")
_CJK_RE = re.compile(r"[\u3400-\u9fff]")
_DIGIT_RE = re.compile(r"\d")
# A bare number right after a number and its unit on a table line: the same quantity, another column.
_ECHO_RE = re.compile(r"\s+(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?=\s|$)")
MAX_PHRASE = 40
MAX_WRAPPED_LINES = 3  # lines of a wrapped table label read above a line that starts with its number


def _units_after(text: str, end: int) -> tuple[str, int] | None:
    pos = end + 1 if end < len(text) and text[end] == " " else end
    m = _UNIT_RE.match(text, pos)
    if m is None:
        return None
    unit = m.group()
    nxt = text[m.end() : m.end() + 1]
    if nxt and (nxt in _NOT_UNIT_AFTER.get(unit, "") or unit == "万" and _CJK_RE.match(nxt)):
        return None  # 万 alone only as a unit of its own (1.2 万, ≧ 40 万), not 5万份 or 800万余
    return unit, m.end()


def _bound(before: str) -> str | None:
    m = _BOUND_RE.search(before)
    if m is None or m.group(1) in ("达到", "达"):
        return None
    b = m.group(1)
    return {"≧": "≥", "≦": "≤", ">=": "≥", "<=": "≤", "＝": "="}.get(b, b)


def _phrase(text: str) -> str:
    text = _BOUND_RE.sub("", text)
    text = _TRAIL_RE.sub("", _LEAD_RE.sub("", text.strip()))
    return text[-MAX_PHRASE:]


def _numbers(text: str) -> Iterable[tuple[int, int, Decimal, str]]:
    """(start, end of unit, value, unit) of every number with a unit in ``text``."""
    for nm in NUMBER_RE.finditer(text):
        hit = _units_after(text, nm.end())
        if hit is None or _SKIP_BEFORE_RE.search(text, 0, nm.start()):
            continue
        try:
            value = Decimal(nm.group().replace(",", ""))
        except InvalidOperation:
            continue
        yield nm.start(), hit[1], value, hit[0]


def _clause_start(text: str, pos: int) -> int:
    start = 0
    for m in _CLAUSE_END_RE.finditer(text, 0, pos):
        i = m.start()
        if text[i] == "," and 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit():
            continue  # a thousands separator
        start = i + 1
    return start


def extract_mentions(
    doc: Document,
    facts: list[Fact],
    skip_lines: set[int] | None = None,
    sentences: list[Sentence] | None = None,
) -> list[Mention]:
    """The numeric mentions of ``doc``: numbers with a unit that no fact in ``facts`` holds (same line,
    same value), in line order. ``skip_lines``: lines of parsed tables (their numbers are facts or
    cells the table parser chose not to keep). ``sentences``: the sentences with digits that
    extract_narrative_facts collected (read again here when not given)."""
    if sentences is None:
        sentences = []
        extract_narrative_facts(doc, Report(doc=doc.doc, path=doc.path, sha256=doc.sha256), sentences)
    held = {(f.line, abs(f.value)) for f in facts}
    skip = skip_lines or set()
    out: list[Mention] = []
    for text, lines, pages, display in sentences:
        prev_end = 0
        for start, end, value, unit in _numbers(text):
            line = lines[start]
            window_start = max(_clause_start(text, start), prev_end)
            prev_end = end
            if (line, value) in held or line in skip:
                continue
            before = text[window_start:start]
            phrase = _phrase(before)
            if not _CJK_RE.search(phrase):
                continue
            out.append(
                Mention(
                    doc=doc.doc,
                    line=line,
                    page=pages[start],
                    value=value,
                    unit=unit,
                    phrase=phrase,
                    snippet=display,
                    bound=_bound(before),
                )
            )
    out.extend(_line_mentions(doc, held, skip))
    out.sort(key=lambda m: (m.line, m.snippet))
    return out


def _line_mentions(doc: Document, held: set[tuple[int, Decimal]], skip: set[int]) -> list[Mention]:
    """Mentions of table-like lines (see the module doc)."""
    out: list[Mention] = []
    above: list[str] = []  # short text-only lines right above, for labels wrapped around their numbers
    for ln in doc.lines:
        text = ln.text.strip()
        if not text:
            continue
        if not _DIGIT_RE.search(text):
            above = (above + [text])[-MAX_WRAPPED_LINES:] if len(text) <= 20 else []
            continue
        if ln.line in skip or not is_table_line(text):
            above = []
            continue
        prev_end = 0
        for start, end, value, unit in _numbers(text):
            window_start = max(_clause_start(text, start), prev_end)
            prev_end = end
            before = text[window_start:start]
            phrase = _phrase(before)
            if not _CJK_RE.search(phrase) and window_start == 0 and above:
                phrase = _phrase("".join(above))
            if not _CJK_RE.search(phrase):
                continue
            # A number a fact holds is no mention, but the bare 实际完成值 after it still is one.
            if (ln.line, value) not in held:
                out.append(
                    Mention(
                        doc=doc.doc,
                        line=ln.line,
                        page=ln.page,
                        value=value,
                        unit=unit,
                        phrase=phrase,
                        snippet=ln.raw.strip(),
                        bound=_bound(before),
                    )
                )
            # 绩效指标 rows print 指标值, 度量单位, then the 实际完成值 bare: ``>= 2 次 3``.
            m = _ECHO_RE.match(text, end)
            if (
                m is not None
                and _units_after(text, m.end()) is None
                and (ln.line, echo := Decimal(m.group(1).replace(",", ""))) not in held
            ):
                out.append(
                    Mention(
                        doc=doc.doc,
                        line=ln.line,
                        page=ln.page,
                        value=echo,
                        unit=unit,
                        phrase=phrase,
                        snippet=ln.raw.strip(),
                        bound=None,
                    )
                )
        above = []
    return out
