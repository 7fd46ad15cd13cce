"""Report lines that hold what a question asks when no metric name explains it.

"大城县医保局登记的其他固定资产有多少件" names no metric the store knows completely: the lines of
the department's reports that contain the question's words and a number of the unit it asks for
are the candidates. One function (``find_lines``) gathers them, so new kinds of facts (generic
tables, numeric mentions of sentences) plug in as more candidate lines.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

from assistant.answer.coverage import COMPATIBLE
from assistant.answer.passages import PassageSource, open_index_if_built
from assistant.answer.select import FactSelector
from assistant.models import LineHit
from assistant.store.db import query_mentions
from assistant.store.vocabulary import fold

# A number and the unit written after it (24万人, 5.94万元, ≥370000人, 94.30%).
NUMBER_RE = re.compile(
    r"(?<![\d.])(\d[\d,]*(?:\.\d+)?)\s*(万元|亿元|元|万人|人次|批次|%|％|人|名|个|次|件|台|辆|项|分|户|家|天)?"
)
# Numbers that are not amounts: years, dates, ordinals of headings, codes of the classification.
_NOT_AN_AMOUNT = re.compile(
    r"(?<!\d)(19|20)\d{2}\s*(年|—|-)|\d{1,2}\s*月\s*\d{1,2}\s*日|第\s*\d+|^\s*\d+[、.．](?!\d)"
    r"|[（(]\d+[）)]"
)


def residue_score(residue: list[str], texts: list[tuple[str, float]]) -> float:
    """How much of the residue a line holds: each residue part's best coverage by one of ``texts``
    (each with a factor: 0.9 discounts a less specific text), weighted by the part's length (0.0 for
    no residue)."""
    best = (max(coverage(r, t) * factor for t, factor in texts) for r in residue)
    return sum(b * len(r) for b, r in zip(best, residue, strict=True)) / max(1, sum(len(r) for r in residue))


def numbers(text: str) -> list[tuple[str, str | None]]:
    """(number, unit or None) written in a line, without years, dates and heading ordinals."""
    cleaned = _NOT_AN_AMOUNT.sub(" ", text)
    return [(m.group(1).replace(",", ""), m.group(2)) for m in NUMBER_RE.finditer(cleaned)]


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def coverage(words: str, line: str) -> float:
    """How much of ``words`` the line holds: the mean of its characters' and its character pairs' shares."""
    chars = set(re.sub(r"[^\u4e00-\u9fffA-Za-z0-9]", "", words))
    if not chars:
        return 1.0
    pairs = _bigrams(words)
    share = len(chars & set(line)) / len(chars)
    return (share + (len(pairs & _bigrams(line)) / len(pairs) if pairs else share)) / 2


# A table's title line (…绩效目标表, 11、门诊特殊疾病鉴定项目绩效目标表): short, ending with 表.
TABLE_TITLE_RE = re.compile(r"^\s*\S.{2,48}表\s*$")


def project_title(source: PassageSource, doc: str, line: int) -> str:
    """The title of the per-project table (绩效目标表 / 绩效自评表) a line of ``doc`` belongs to, or "".

    Such a table names its project only in its title ("11、门诊特殊疾病鉴定项目绩效目标表"), its rows
    say 专家评审费 =0.6万元: a question naming the project and the row is matched against both."""
    titles = source.titles.get(doc) or []
    i = bisect.bisect_right(titles, (line, "\uffff")) - 1
    return titles[i][1] if i >= 0 else ""


def _candidate_lines(
    source: PassageSource, select: FactSelector, docs: list[str]
) -> list[tuple[str, int, int, int | None, str]]:
    """(doc, line, line_end, page, text) of every sentence and table row of ``docs`` the index holds."""
    out: dict[tuple[str, int, str], tuple[str, int, int, int | None, str]] = {}
    index: Any = open_index_if_built(source)
    for doc in docs:
        cached = source.lines.get(doc)
        if cached is not None:
            out.update(cached)
            continue
        mark = len(out)
        titles: dict[int, str] = {}
        if index is not None and hasattr(index, "spans"):
            for ci in index.chunks_of(doc):
                spans = index.spans(ci)
                for j, (ls, le, _para, page, text) in enumerate(spans):
                    if TABLE_TITLE_RE.match(text):
                        # Another table's title ends the project's table ("" : no project named).
                        titles[ls] = fold(text).strip() if "绩效" in text else ""
                    out.setdefault((doc, ls, text), (doc, ls, le, page, text))
                    # A line naming a project and the next one stating its figures ("（3）“村医通”专网
                    # 费用。" / "全年预算数为9.12万元，执行数为4.66万元"): read together too.
                    if j + 1 < len(spans) and spans[j + 1][0] - le <= 2:
                        nxt = spans[j + 1]
                        joined = text + nxt[4]
                        out.setdefault((doc, ls, joined), (doc, ls, nxt[1], page, joined))
        for f in select.doc_facts(doc):
            # A generic table's row is read with its table's name (a 自评表 names its project there).
            text = (
                f"{f.table_id}：{f.snippet}"
                if f.table_id and not f.table_id.startswith("公开")
                else f.snippet
            )
            out.setdefault((doc, f.line, text), (doc, f.line, f.line_end or f.line, f.page, text))
        if index is not None:  # without the retrieval index the lines are incomplete: not kept
            source.lines[doc] = dict(list(out.items())[mark:])
            source.titles[doc] = sorted(titles.items())
    return list(out.values())


def mentioned_lines(source: PassageSource, select: FactSelector, docs: list[str]) -> list[str]:
    """The text of every candidate line of ``docs``."""
    return [text for *_, text in _candidate_lines(source, select, docs)]


def find_lines(
    source: PassageSource,
    select: FactSelector,
    docs: list[str],
    residue: list[str],
    words: list[str],
    unit: str | None,
    limit: int = 5,
) -> list[LineHit]:
    """Lines of ``docs`` holding the residue's words and a number (in the expected ``unit``, or
    without a unit as table rows state them), best first.

    ``score`` is how much of the residue a line holds; ``context`` how much of the question's other
    content ``words`` (its metric) it holds. The words nobody explained decide, the rest breaks ties.
    """
    if not residue:
        return []
    accept = COMPATIBLE.get(unit or "", None)
    hits: list[LineHit] = []
    for doc, ls, le, page, text in _candidate_lines(source, select, docs):
        folded = fold(text)
        title = project_title(source, doc, ls)
        score = residue_score(residue, [(folded, 1.0), (title + folded, 1.0)])
        if score < 0.3:
            continue
        nums = numbers(folded)
        fitting = [(v, u) for v, u in nums if u and (accept is None or u in accept)]
        bare = [v for v, u in nums if u is None]
        if not fitting and not bare:
            continue
        context = max((coverage(w, folded) for w in words), default=1.0)
        hits.append(
            LineHit(
                doc=doc,
                line=ls,
                line_end=le,
                page=page,
                text=text,
                score=round(score, 4),
                context=round(context, 4),
                numbers=fitting,
                bare=bare,
            )
        )
    hits += _mention_hits(source, select, docs, residue, words, accept)
    hits += _fact_hits(select, docs, residue, words, accept)
    # At equal scores a mention (one number and the phrase it quantifies) before its whole sentence.
    hits.sort(key=lambda h: (-(h.score + h.context / 4), h.doc, h.line, h.phrase is None))
    first: dict[tuple[str, int], LineHit] = {}
    # A sentence is stored both as a passage span and as a fact's snippet: one line, once.
    hits = [h for h in hits if first.setdefault((h.doc, h.line), h) is h]
    return hits[:limit]


def figure_after(h: LineHit, words: list[str], unit: str | None) -> tuple[str, str] | None:
    """The one number of the asked unit written right after one of ``words`` in the line
    (支付医疗救助25321人次、1169.42万元 → 25321人次 after 医疗救助), or None."""
    accept = COMPATIBLE.get(unit or "", None)
    folded = fold(h.text)
    found: set[tuple[str, str]] = set()
    for w in words:
        for m in re.finditer(re.escape(w), folded):
            n = re.match(
                r"(?:支出|收入|金额|资金|费用)?[为是达到共计:：\s]{0,4}" + NUMBER_RE.pattern,
                folded[m.end() :],
            )
            if n and n.group(2) and (accept is None or n.group(2) in accept):
                found.add((n.group(1).replace(",", ""), n.group(2)))
    return next(iter(found)) if len(found) == 1 else None


def _mention_hits(
    source: PassageSource,
    select: FactSelector,
    docs: list[str],
    residue: list[str],
    words: list[str],
    accept: set[str] | None,
) -> list[LineHit]:
    """The numeric mentions of ``docs`` (numbers the parser read from sentences and generic table
    lines with the phrase they quantify) as lines with exactly that one figure."""
    out = []
    for m in query_mentions(select.con, docs, accept):
        phrase = fold(m.phrase)
        where = project_title(source, m.doc, m.line) + fold(m.snippet)
        score = residue_score(residue, [(phrase, 1.0), (where, 0.9)])
        if score < 0.3:
            continue
        # The other words must qualify this number (its phrase), not just occur in its sentence.
        context = max((coverage(w, phrase) for w in words), default=1.0)
        out.append(
            LineHit(
                doc=m.doc,
                line=m.line,
                line_end=m.line,
                page=m.page,
                text=m.snippet,
                score=round(score, 4),
                context=round(context, 4),
                numbers=[(str(m.value), m.unit)],
                phrase=m.phrase,
                bound=m.bound,
            )
        )
    return out


def _fact_hits(
    select: FactSelector, docs: list[str], residue: list[str], words: list[str], accept: set[str] | None
) -> list[LineHit]:
    """The facts of generic tables (a 自评表's 年度资金总额 × 全年预算数/全年执行数/预算执行率) as hits
    with their one figure: the table's name and the row label must hold the residue, the row label
    and column the metric's words."""
    out = []
    for doc in docs:
        for f in select.doc_facts(doc):
            if (
                not f.table_id
                or f.table_id.startswith("公开")
                or (accept is not None and f.unit not in accept)
            ):
                continue
            cell = fold(f"{f.label}{f.qualifier or ''}")
            where = fold(f.table_id) + cell
            score = residue_score(residue, [(where, 1.0)])
            if score < 0.3:
                continue
            context = max((coverage(w, cell) for w in words), default=1.0)
            out.append(
                LineHit(
                    doc=f.doc,
                    line=f.line,
                    line_end=f.line_end or f.line,
                    page=f.page,
                    text=f"{f.table_id}：{f.snippet}",
                    score=round(score, 4),
                    context=round(context, 4),
                    numbers=[(str(f.value), f.unit)],
                    phrase=f"{f.label}（{f.qualifier}）" if f.qualifier else f.label,
                )
            )
    return out


def clear_winner(hits: list[LineHit], min_score: float = 0.75) -> LineHit | None:
    """The best line when it clearly wins: most of the residue found, and well ahead of the next
    line that states a different figure."""
    if not hits or hits[0].score < min_score:
        return None
    best = hits[0]

    def figures(h: LineHit) -> tuple[set[str], set[str]]:
        # Lines that state the same figures with units agree, whatever bare numbers (a 文号's year, a
        # 行次) one of them carries besides: a table row and the line it came from are no rivals.
        return ({v for v, _ in h.numbers}, set() if h.numbers and best.numbers else set(h.bare))

    rival = next((h for h in hits[1:] if figures(h) != figures(best)), None)
    if rival is not None and rival.score + rival.context / 4 > best.score + best.context / 4 - 0.1:
        return None
    return best


# A sentence stating a budget and what was spent of it ("全年预算数为60万元，执行数为58.27万元").
_AMOUNT = r"\s*(?:为|是|:|：)?\s*(\d[\d,]*(?:\.\d+)?)\s*(万元|亿元|元)"
BUDGET_RE = re.compile(r"预算(?:数|资金|金额)?(?:（A）|\(A\))?" + _AMOUNT)
ACTUAL_RE = re.compile(r"(?:执行数|执行金额|实际执行|实际支出|执行)(?:（B）|\(B\))?" + _AMOUNT)


def budget_and_actual(text: str) -> tuple[tuple[str, str], tuple[str, str]] | None:
    """((budget, unit), (actual, unit)) stated in one line, or None."""
    folded = fold(text)
    b, a = BUDGET_RE.search(folded), ACTUAL_RE.search(folded)
    if b is None or a is None:
        return None
    return (b.group(1).replace(",", ""), b.group(2)), (a.group(1).replace(",", ""), a.group(2))


# The words joining two items of a sum (职工医保统筹基金支出加上个人账户支出).
JOINERS = re.compile(r"加上|以及|和|与|及|、")


def items_of(residue: list[str]) -> list[str]:
    """The items a sum names among the unexplained words: the residue split at 和/加上/、 …"""
    out: list[str] = []
    for r in residue:
        out += [p for p in JOINERS.split(r) if len(p) >= 2 and p not in ITEM_NOUNS]
    return out


# What the items are, not an item ("这两个项目一共多少" names its items before 项目).
ITEM_NOUNS = frozenset(("项目", "资金", "经费", "费用", "支出", "科目", "款项"))


# A figure written with the year it is of ("2021年结算率4.77%", "2020年为33.55%", "上年为1,169.42万元").
# Not "与2020年相比增加131.39万元" (a change) nor "比上年减少0.04万元": a year after 与/比/较, or a
# change word between the year and the number, states no figure of that year.
YEAR_FIGURE_RE = re.compile(
    r"(?<![与比较同])(?:(20\d{2})\s*年度?|(上一?年度?|去年))([^\d，。；;,]{0,12}?)"
    r"(\d[\d,]*(?:\.\d+)?)\s*(%|％|万元|亿元|元|万人|人次|人|个|次|件|台|辆)"
)
_CHANGE_WORDS = re.compile(r"相比|相较|对比|比|较|增|减|降|升|多|少|变")


def stated_years(folded: str, report_year: int, accept: set[str] | None = None) -> list[tuple[int, str, str]]:
    """(year, value, unit) of the figures a (folded) line states with their year (上年 = the
    report's year − 1), in units ``accept`` (all when None); changes against a year are not figures."""
    out = []
    for m in YEAR_FIGURE_RE.finditer(folded):
        if _CHANGE_WORDS.search(m.group(3)) or (accept is not None and m.group(5) not in accept):
            continue
        year = int(m.group(1)) if m.group(1) else report_year - 1
        out.append((year, m.group(4).replace(",", ""), m.group(5)))
    return out


YEAR_WINDOW = 14  # lines after the row that may still be its cell (a 偏差原因 wrapped over many lines)
CELL_FRAGMENT = 24  # a wrapped cell's line is short ("2020年为33.55%，主"); a longer one is another row


def year_figures(
    source: PassageSource,
    select: FactSelector,
    docs: list[str],
    residue: list[str],
    unit: str | None,
    report_year: int,
) -> dict[int, list[tuple[str, str, int, int | None, str, str]]] | None:
    """The figures of the one row holding the residue, by the year each is stated for: year →
    [(value, unit, line, page, text, doc)], read from the row and the lines of its cell after it
    until a line states a figure of the unit without a year. None when no row, or several apart,
    hold the residue."""
    accept = COMPATIBLE.get(unit or "", None)
    cands = _candidate_lines(source, select, docs)
    scored = [
        (
            residue_score(residue, [(fold(text), 1.0)]),
            doc,
            ls,
            le,
        )
        for doc, ls, le, _p, text in cands
    ]
    top = max((s for s, *_ in scored), default=0.0)
    if top < 0.95:
        return None
    # Every span holding all of the residue (a row, and the row joined with its neighbours).
    full = [(doc, ls, le) for s, doc, ls, le in scored if s == top]
    if len({d for d, _, _ in full}) != 1:
        return None
    start, end = max(ls for _, ls, _ in full), min(le for _, _, le in full)
    if start > end:  # the spans holding it do not share a line: several rows
        return None
    doc = full[0][0]
    # Each line once, as its shortest span (the index also holds lines joined with their neighbours).
    shortest: dict[int, tuple[int, int | None, str]] = {}
    for d, ls, _le, page, text in cands:
        if (
            d == doc
            and start <= ls <= end + YEAR_WINDOW
            and (ls not in shortest or len(text) < len(shortest[ls][2]))
        ):
            shortest[ls] = (ls, page, text)
    single = [shortest[k] for k in sorted(shortest)]
    out: dict[int, list[tuple[str, str, int, int | None, str, str]]] = {}
    for ls, page, text in single:
        folded = fold(text)
        if ls > end and len(folded.strip()) > CELL_FRAGMENT:
            break  # a whole line after the row is the next row, not this row's wrapped cell
        tagged = stated_years(folded, report_year, accept)
        if not tagged and ls > end and any(u and (accept is None or u in accept) for _, u in numbers(folded)):
            break  # the next row's figure
        for year, value, u in tagged:
            out.setdefault(year, []).append((value, u, ls, page, text, doc))
    return out


def asked_phrases(question: str, residue: list[str], terms: list[str]) -> list[str]:
    """The question's words around each residue stretch: the stretch joined with a metric term written
    right before or after it (参公 + 编制 → 参公编制), and the stretch itself."""
    q = fold(question)
    out = []
    for r in residue:
        out += [p for t in terms for p in (r + t, t + r) if p in q]
        out.append(r)
    return out


def agreed_figure(
    hits: list[LineHit], phrases: list[str], unit: str | None
) -> tuple[LineHit, tuple[str, str]] | None:
    """When several lines tie (a sentence, and the same sentence read with its neighbours), the one
    figure written right after the asked words in every one of them that writes one, provided the
    other tied lines state it too; None when they disagree or none writes it."""
    if not hits or hits[0].score < 0.9:
        return None
    top = hits[0].score + hits[0].context / 4
    tied = [h for h in hits if h.score + h.context / 4 > top - 0.1]
    figs = {h.line: figure_after(h, phrases, unit) for h in tied}
    found = {f for f in figs.values() if f is not None}
    if len(found) != 1:
        return None
    fig = found.pop()
    if not all(any(v == fig[0] for v, _ in h.numbers) for h in tied):
        return None
    return min((h for h in tied if figs[h.line] == fig), key=lambda h: (len(h.text), h.line)), fig
