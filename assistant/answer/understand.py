"""Question → Query, by longest match over the names the store already knows.

No jieba and no model here: numeric questions must be understood in milliseconds. The vocabulary
is the departments and their aliases, the lexicon's metric terms and every row label in the store.
"""

from __future__ import annotations

import re
from typing import Any

from assistant.answer.coverage import expected_unit, residue
from assistant.answer.names import match_departments, metrics_named_by
from assistant.answer.scope import asked_scope
from assistant.models import Query
from assistant.parse.lexicon import COUNT_VARIANTS
from assistant.store.vocabulary import StoreVocabulary, Vocabulary, fold

YEAR_RE = re.compile(r"(?<!\d)(20\d{2}|\d{2})\s*年")
QUALIFIER_WORDS = ("预算", "决算", "预算数", "决算数", "调整预算", "调整预算数", "执行数", "年初预算")
COLUMN_TERMS = (
    "基本支出",
    "项目支出",
    "人员经费",
    "公用经费",
    "财政拨款收入",
    "一般公共预算财政拨款",
    "上级补助收入",
    "事业收入",
    "经营收入",
    "其他收入",
)

OPERATIONS: tuple[tuple[str, str], ...] = (
    (r"执行率|完成率|完成.{0,4}预算.{0,4}(比例|百分之|%|多少)|预算执行", "rate"),
    (r"占.{0,20}(比例|比重|百分之|%|多少)|占比|比重", "share"),
    (
        r"哪个.{0,30}(最高|最多|最大)|(最高|最多|最大)的?是哪|(哪个|谁)(更)?(多|高|大)"
        r"|(哪个|谁).{0,30}(更|较)?(多|高|大)(一些|些)?[？?！!。]*$",
        "rank_max",
    ),
    # (?<!多): 哪个…多少 asks for amounts, not for the smallest.
    (
        r"哪个.{0,30}(最低|最少|最小)|(最低|最少|最小)的?是哪|(哪个|谁)(更)?(少|低|小)"
        r"|(哪个|谁).{0,30}(更|较)?(?<!多)(少|低|小)(一些|些)?[？?！!。]*$",
        "rank_min",
    ),
    # (?!上年…): 比上年减少多少 is a change; (?<![减增]): 减少多少 is not 少 + 多少.
    (r"比(?!上一?年|去年|前年).{0,12}(?<![减增])(少了|多了|少|多|差)多少|相差|差额|差了多少", "difference"),
    # 决算 against its own budget (比年初预算增加多少, 与预算相比减少了多少): the budget gap, not last year.
    (
        r"(比|较|与|同)(年初|调整)?预算(数)?(相比|比较)?.{0,4}(增加|减少|增长|下降|超|节约|节省|多|少)",
        "difference",
    ),
    (r"(增长|增加|减少|下降|变化|增减).{0,6}(多少|了多少|几|情况)|比上年|同比|较上年", "change"),
    (r"各项|分别|有哪些|包括哪些|明细|构成|由哪些", "list"),
    (r"(一共|合计|总共|加起来|之和|总和)", "sum"),  # checked on the question without its metric names
)
# Years named relative to the report (the rule: 去年 = the year before the report's year).
RELATIVE_YEARS = {
    "今年": 0,
    "本年度": 0,
    "当年": 0,
    "去年": -1,
    "上年": -1,
    "上一年": -1,
    "上年度": -1,
    "前年": -2,
}
# 比上年 / 较上年 are comparisons, not the year asked about; metric names (本年支出合计) are masked first.
RELATIVE_YEAR_RE = re.compile(r"(?<![比较与同])(上一年|上年度|本年度|今年|去年|上年|当年|前年)")
TEXT_QUESTION_RE = re.compile(
    r"什么是|是什么|职责|职能|机构设置|名词解释|为什么|原因|怎么|如何|包括哪些单位|哪些单位|绩效目标|问题"
)


def longest_matches(text: str, index: dict[str, Any], max_len: int = 40) -> list[tuple[int, str]]:
    """Non-overlapping (position, key) of ``index`` keys in ``text``: longest first, then leftmost."""
    found = []
    for i in range(len(text)):
        for j in range(min(len(text), i + max_len), i + 1, -1):
            if text[i:j] in index:
                found.append((j - i, i, text[i:j]))
    found.sort(key=lambda t: (-t[0], t[1]))
    taken = bytearray(len(text))
    out = []
    for length, i, key in found:
        if not any(taken[i : i + length]):
            taken[i : i + length] = b"\x01" * length
            out.append((i, key))
    return sorted(out)


def understand(question: str, vocab: Vocabulary | StoreVocabulary) -> Query:
    """Parse a question into a Query (departments, year, metric, qualifier, operation) and its residue:
    the content words that none of these explains."""
    q = fold(question)[:500]
    depts, rest, mentions_other, clarify = find_departments(q, vocab)
    # What the department names cover (find_departments masks them with □, keeping positions).
    covered = bytearray(1 if r == "□" and c != "□" else 0 for r, c in zip(rest, q, strict=True))
    year_ms = [
        m for m in YEAR_RE.finditer(rest) if rest[max(0, m.start() - 1) : m.start()] not in ("比", "较", "与")
    ]
    years = sorted({int(m.group(1)) + 2000 if int(m.group(1)) < 100 else int(m.group(1)) for m in year_ms})
    for m in YEAR_RE.finditer(rest):
        covered[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
    # "2020年或2021年": any of several years, so no single year filter.
    year = years[0] if len(years) == 1 else None
    metrics: list[tuple[int, str, str]] = []
    # 多少人次 / 几批次 ask for a count; keep those words from matching metric terms (多少人 = 在职人数).
    unit_m = re.search(r"(人次|批次|辆|团组)", rest)
    masked = re.sub(r"(多少|几)(人次|批次|辆|个|团组)", lambda m: "□" * len(m.group(0)), rest)
    seen_terms: set[str] = set()
    term_index = vocab.terms_in(q)  # masking only hides parts of q, so its terms are among these
    for pos, term in longest_matches(masked, term_index):
        covered[pos : pos + len(term)] = b"\x01" * len(term)
        if term in seen_terms:  # a metric named twice counts once
            continue
        seen_terms.add(term)
        metrics.append((pos, term, term_index[term]))
    for pos, term, _ in metrics:
        masked = masked[:pos] + "□" * len(term) + masked[pos + len(term) :]
    metrics.sort()
    # 接待了多少人次 / 几批次 / 几辆: the count sibling of a money metric.
    if unit_m:
        metrics = [(p, t, COUNT_VARIANTS.get((m, unit_m.group(1)), m)) for p, t, m in metrics]
    operation = "value"
    for pattern, op in OPERATIONS:
        if re.search(pattern, masked if op == "sum" else rest):
            operation = op
            break
    if operation == "sum" and len(metrics) < 2:
        operation = "value"
    qualifier = None
    if re.search(r"调整预算", rest):
        qualifier = "调整预算数"
    elif re.search(r"预算", rest) and not re.search(r"决算", rest):
        qualifier = "预算数"
    elif re.search(r"决算|花了|实际", rest):
        qualifier = "决算数"
    kind = None
    if re.search(r"决算", rest) and operation not in ("rate", "difference"):
        kind = "决算"
    if operation == "share" and len(metrics) >= 2:
        pos, term, _ = metrics[0]
        after_zhan = [m for m in metrics if rest[max(0, m[0] - 1) : m[0]] == "占"]
        if after_zhan and after_zhan[0] is not metrics[-1]:
            # 人员经费占基本支出的比例: what follows 占 is the whole (the denominator).
            metrics = [*(m for m in metrics if m is not after_zhan[0]), after_zhan[0]]
        elif not after_zhan and _names_a_whole(masked, pos, term):
            # 财政拨款支出中基本支出占比: the first named is the whole, the part comes after 中.
            metrics = [*metrics[1:], metrics[0]]
    metric_names = [m for _, _, m in metrics]
    primary = None
    column = None
    for _, _, metric in metrics:
        if metric in COLUMN_TERMS and len(metrics) > 1 and column is None and operation not in ("share",):
            column = metric
            continue
        if primary is None:
            primary = metric
    if primary is None and column is not None:
        primary, column = column, None
    relative_year = None
    if year is None and len(years) == 0:
        rel = RELATIVE_YEAR_RE.search(masked)
        relative_year = rel.group(1) if rel else None
    if (
        operation in ("value", "change")
        and column is None
        and len(metrics) >= 2
        and primary == metrics[0][2]
        and _names_a_whole(masked, metrics[0][0], metrics[0][1])
    ):
        # 总支出中对个人和家庭的补助: the first name is the whole the asked part belongs to.
        primary = metrics[1][2]
    if column is not None and primary in COLUMN_TERMS:
        # 基本支出中人员经费: a part of the column's total (人员经费 ⊂ 基本支出), not a cell of that column.
        pos, term = next((p, t) for p, t, m in metrics if m == column)
        if _names_a_whole(masked, pos, term):
            column = None
    if operation == "value" and not metrics and TEXT_QUESTION_RE.search(rest):
        operation = "text"
    elif TEXT_QUESTION_RE.search(rest) and re.search(r"什么是|是什么|职责|职能|哪些单位|原因|为什么", rest):
        operation = "text"
    if primary is None and operation == "value":
        metric_names = _partial_metrics(rest, vocab)
    left = residue(q, covered, [*depts, *metric_names, *(t for _, t, _ in metrics)])
    if (
        left
        and operation in ("value", "change", "rate")
        and (primary is None or (primary in COLUMN_TERMS and column is None))
    ):
        # 基本支出里给个人和家庭的补助: words that are part of exactly one metric's name name that metric.
        named = [(r, ms[0]) for r in left if len(ms := metrics_named_by(r, vocab)) == 1]
        if len(named) == 1:
            phrase, metric = named[0]
            left = [r for r in left if r != phrase]
            if primary is not None:
                column = primary  # the column term named the whole the part is read in
            primary = metric
            metric_names = [*metric_names, metric]
    return Query(
        text=question,
        departments=depts,
        year=year,
        kind=kind,
        metric=primary,
        metric_terms=metric_names,
        qualifier=qualifier,
        column=column,
        operation=operation,
        mentions_other=mentions_other,
        relative_year=relative_year,
        scope=asked_scope(masked),
        clarify_departments=clarify,
        residue=left,
        expected_unit=expected_unit(q),
    )


def find_departments(q: str, vocab: Vocabulary | StoreVocabulary) -> tuple[list[str], str, bool, list[str]]:
    """(departments named, ``q`` with their names masked by □, whether it names a department the
    corpus lacks, the departments of a tie to ask about) for a folded question; by the rules of
    assistant.answer.names. A name several departments share (医保局 alone) names them all only when
    nothing more particular is named."""
    match = match_departments(q, vocab)
    if match.unknown is not None:
        # Metric names are never read as department names (公立医院): looked up only when needed.
        match = match_departments(
            q, vocab, [(p, p + len(t)) for p, t in longest_matches(q, vocab.terms_in(q))]
        )
    rest = q
    for a, b in match.spans:
        rest = rest[:a] + "□" * (b - a) + rest[b:]
    if match.unknown is not None:
        return [], rest, True, []
    return match.departments or match.ambiguous, rest, False, [] if match.departments else match.clarify


# After a name: it is the whole a part is taken from (基本支出中, 基本支出预算里, 总支出当中).
WHOLE_RE = re.compile(r"的?(预算数?|决算数?|年初预算|调整预算)?的?(其中|当中|里面|中|里|内)")


def _names_a_whole(text: str, pos: int, term: str) -> bool:
    """The term at ``pos`` is followed by 中/其中 (基本支出中人员经费): it names the whole, a part follows."""
    return WHOLE_RE.match(text[pos + len(term) :]) is not None


def _partial_metrics(rest: str, vocab: Vocabulary | StoreVocabulary) -> list[str]:
    """Metrics named by part of their name (其中政府性基金呢 → 政府性基金预算财政拨款支出/收入): every
    metric with a term containing the question's residual words, shortest term first. The engine
    chooses among them with the conversation's context."""
    core = re.sub(r"[？?。!！，,\s□]", "", rest)
    core = re.sub(r"^(那么?|其中|还有|另外)|(呢|是多少|多少|有多少|是|的|了|吗)+$", "", core)
    core = re.sub(r"\d{2,4}年度?", "", core)
    if len(core) < 2 or core in QUALIFIER_WORDS:
        return []
    hits = sorted(vocab.terms_containing(core), key=lambda tm: (len(tm[0]), tm[0]))
    out: list[str] = []
    for _, m in hits:
        if m not in out:
            out.append(m)
    return out[:8]
