"""Department (and metric) names in a question, by general rules rather than lists.

A department is named by its full name, by an alias derived from its structure (store aliases:
峨山县医保局, 普陀区) or by a short form that keeps the characters of its name in order
(商务委 ⊂ 商务委员会, 规划资源局 ⊂ 规划和自然资源局, 万里街道 ⊂ 万里街道办事处), optionally after a place
prefix of the department's own (普陀区, 区, 峨山县). Candidates come from keys derived at build time
(assistant.naming.department_keys: place + first and last character of the body), so a question
looks up only its own phrases. The phrase covering most of the question wins; equal scores for
different departments are a tie (no department chosen). A phrase that reads as a department
(…局 …委 …部 …街道) but matches none is ``unknown``: the answer is "not found", never the figure of
a department that merely shares its place (峨山县卫健局 is not 峨山县医疗保障局).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.models import Record
from assistant.naming import department_forms
from assistant.store.vocabulary import StoreVocabulary, Vocabulary

# Characters a department's short form can end with (the last or first character of a type word).
END_CHARS = frozenset("局委办部厅院镇乡处室会心道所站馆队社署联")
MAX_PHRASE = 24  # longest phrase (place + body) tried as a department name
MIN_SHORT_BODY = 3  # a short form keeps at least three characters of the body (医保局, 社工部)
MAX_CANDIDATES = 50  # departments one short-form key may name before it names none in particular
# What reads as a department name: a type word not continued by a common word (部门, 办公费, 委托).
_DEPT_LIKE = re.compile(
    r"(委员会|办公室|办公厅|办事处|街道|中心|局|委(?!托|员(?!会))|办(?!公(?!室|厅)|法|理|事(?!处)|员|学|案|件|结)"
    r"|(?<![干全内外])部(?!门|分|署|长|件|位)|厅|院(?!校)|镇)"
)
# Where a department phrase starts at the latest: after these words (那峨山县卫健局呢, 和昭化区财政局).
_PHRASE_STOPS = (
    "请问",
    "告诉我",
    "查询",
    "查一下",
    "那么",
    "的",
    "和",
    "与",
    "及",
    "跟",
    "同",
    "比",
    "较",
    "那",
    "年",
    "是",
    "在",
    "对",
    "或",
    "呢",
    "吗",
    "了",
)
# Level characters that end a division name (峨山县, 上海市普陀区, 普陀区委 start with one).
_LEVELS = "省市县区州旗盟"
# Words after which a department's name starts a phrase of its own.
_BOUNDARIES = ("请问", "那么", "那", "和", "与", "及", "跟", "同", "比", "或", "问", "查询", "对比")
_GENERIC_BEFORE = re.compile(
    r"(这|那|哪|各|几|本|该|每|其他|其它|所有|全部)[个些家]?[一二三四五六七八九十两\d]*[个家]?$"
)
# Subordinate units named after their department (仁和区医疗保障事务中心 of 仁和区医疗保障局).
_UNIT_SUFFIX = re.compile(r"(中心|所|站|队|馆)$")


def _is_cjk(ch: str) -> bool:
    # a comparison, not a regex: a CJK character class costs a millisecond to compile on every cold ask
    return "\u4e00" <= ch <= "\u9fff"


def _starts_with_place(phrase: str) -> bool:
    """The phrase starts with a division name: one to eight Chinese characters and a level (峨山县)."""
    for k in range(1, min(9, len(phrase))):
        if not _is_cjk(phrase[k - 1]):
            return False
        if phrase[k] in _LEVELS:
            return True
    return False


class DepartmentMatch(Record):
    """The departments a question names, with the character spans of the (folded) question they
    cover, their score, the candidates of a tie and a department-like phrase matching none."""

    departments: list[str] = []
    spans: list[tuple[int, int]] = []
    score: int = 0
    ambiguous: list[str] = []
    clarify: list[str] = []  # a tie of departments named with their place (two 普陀区医保局): ask which
    unknown: str | None = None


def abbreviation_gaps(short: str, full: str) -> int | None:
    """How many runs of ``full``'s characters ``short`` skips when read in order inside ``full`` with
    the same first and last character (商务委 in 商务委员会: 0 … 社工部 in 社会工作部: 2); None when
    it is no such short form. The fewest gaps over every alignment."""
    if not short or not full or short[0] != full[0] or short[-1] != full[-1] or len(short) > len(full):
        return None
    n, m = len(short), len(full)
    inf = m + 1
    # best[i][j]: fewest gaps with short[:i+1] placed and short[i] at full[j]
    best = [[inf] * m for _ in range(n)]
    best[0][0] = 0
    for i in range(1, n):
        for j in range(i, m):
            if full[j] != short[i]:
                continue
            for k in range(i - 1, j):
                if best[i - 1][k] < inf:
                    best[i][j] = min(best[i][j], best[i - 1][k] + (0 if k == j - 1 else 1))
    gaps = best[n - 1][m - 1]
    return None if gaps >= inf else gaps


def short_form_score(short: str, full: str) -> int | None:
    """How well ``short`` abbreviates ``full`` in order (see abbreviation_gaps), higher is better:
    the share of ``full`` it keeps, less a little per gap; None when it is no short form. Serves
    department bodies and metric names alike (公车运行费 → 公务用车运行维护费)."""
    gaps = abbreviation_gaps(short, full)
    if gaps is None:
        return None
    return 1000 * len(short) // len(full) - 10 * gaps


def best_short_forms(short: str, candidates: list[str]) -> list[str]:
    """The candidates ``short`` abbreviates best (several on a tie), in the given order."""
    scored = [(s, c) for c in candidates if (s := short_form_score(short, c)) is not None]
    if not scored:
        return []
    top = max(s for s, _ in scored)
    return [c for s, c in scored if s == top]


def metric_short_forms(phrase: str, vocab: Vocabulary | StoreVocabulary) -> list[str]:
    """Metrics whose term ``phrase`` (already folded) abbreviates best (公车运行费 → 公务用车运行维护费);
    several on a tie, none when no term keeps its characters in order."""
    if len(phrase) < MIN_SHORT_BODY:
        return []
    terms = vocab.terms_by_ends({phrase[0] + phrase[-1]})
    out: list[str] = []
    for t in best_short_forms(phrase, sorted(terms)):
        if terms[t] not in out:
            out.append(terms[t])
    return out


# A residue phrase names a metric when it keeps at least this share (per mille) of the term's characters.
MIN_METRIC_SHARE = 600


def metrics_named_by(phrase: str, vocab: Vocabulary | StoreVocabulary) -> list[str]:
    """The metrics a phrase no longer name matched names by part of a term: a term that contains it
    (个人和家庭的补助 ⊂ 对个人和家庭的补助) or that it abbreviates in order (公车运行费 → 公务用车运行维护费),
    scored by the share of the term it keeps. Several on a tie (the caller must not guess), none when
    no term keeps enough of it."""
    if len(phrase) < MIN_SHORT_BODY:
        return []
    scored: dict[str, int] = {}
    for term, metric in vocab.terms_containing(phrase):
        scored[metric] = max(scored.get(metric, 0), 1000 * len(phrase) // len(term))
    terms = vocab.terms_by_ends({phrase[0] + phrase[-1]})
    for term in sorted(terms):
        s = short_form_score(phrase, term)
        if s is not None:
            scored[terms[term]] = max(scored.get(terms[term], 0), s)
    if not scored or max(scored.values()) < MIN_METRIC_SHARE:
        return []
    top = max(scored.values())
    return sorted(m for m, s in scored.items() if s == top)


def _body_score(place: str, body_p: str, dept: str) -> int | None:
    """Score of phrase ``place + body_p`` as a short form of ``dept``; None when it is none."""
    forms = department_forms(dept)
    if place not in forms.places:
        return None
    best = None
    for body, ends in forms.bodies:
        for e in ends:
            full = body[: e + 1]
            if body_p != full and len(body_p) < MIN_SHORT_BODY:
                continue
            s = short_form_score(body_p, full)
            if s is not None and (best is None or s > best):
                best = s
    return best


def _phrase_keys(q: str, exact: list[tuple[int, int]]) -> dict[str, list[tuple[int, int, int]]]:
    """Lookup key → (start, end, split) of every phrase of ``q`` that ends on an END_CHARS character:
    ``place|ab`` for the phrase q[start:end] split into place q[start:split] and body q[split:end].
    A phrase inside an ``exact`` alias span is left out: it could not beat that alias."""
    keys: dict[str, list[tuple[int, int, int]]] = {}
    for j in range(2, len(q) + 1):
        if q[j - 1] not in END_CHARS:
            continue
        i = j - 1
        while i > 0 and j - i < MAX_PHRASE and _is_cjk(q[i - 1]):
            i -= 1
        for start in range(i, j - 1):
            if any(a <= start and j <= b for a, b in exact):
                continue
            for split in range(start, j - 1):
                keys.setdefault(f"{q[start:split]}|{q[split]}{q[j - 1]}", []).append((start, j, split))
    return keys


def _is_place_only(alias: str) -> bool:
    return q_end_type(alias) is None


def q_end_type(text: str) -> str | None:
    """The type word a department-like phrase ends with (局, 委员会 …), or None."""
    m = _DEPT_LIKE.search(text)
    return m.group(0) if m and m.end() == len(text) else None


def _unknown_phrase(
    q: str, start_type: int, end_type: int, taken: list[tuple[int, int]], places: list[tuple[int, int]]
) -> str | None:
    """The department-like phrase ending with the type word q[start_type:end_type], read back to a
    stop word, a non-Chinese character or a matched department (a place we know is read through:
    仁和区… though 和 is a stop word); None when it names no particular one (这五个医保局, 各部门,
    a bare type word)."""
    i = start_type
    while i > 0 and end_type - i < 16 and _is_cjk(q[i - 1]) and not any(a < i <= b for a, b in taken):
        place = next((a for a, b in places if a < i <= b), None)
        if place is not None:
            i = place
            continue
        if any(q[:i].endswith(w) for w in _PHRASE_STOPS) and end_type - i >= 3:
            break
        i -= 1
    phrase = q[i:end_type]
    body = phrase[: len(phrase) - (end_type - start_type)]
    if len(body) < 2 or _GENERIC_BEFORE.search(q[:start_type]) or _GENERIC_BEFORE.search(body):
        return None
    # A department is named with its place (峨山县卫健局) or on its own (教育局…, 那卫健局呢); a word
    # inside a sentence that merely ends like one (共举办, 对乡镇卫生院, 医保局医保服务中心) is none.
    placed = _starts_with_place(phrase) or any(a == i for a, _ in places)
    bounded = i == 0 or not _is_cjk(q[i - 1]) or any(q[:i].endswith(w) for w in _BOUNDARIES)
    # 普陀区的商务委: a department of a place; 大城县医保局的医保服务中心: a part of a department
    of_place = q[:i].endswith("的") and not any(a < i - 1 <= b for a, b in taken)
    return phrase if placed or bounded or of_place else None


def match_departments(
    q: str, vocab: Vocabulary | StoreVocabulary, masked: Sequence[tuple[int, int]] = ()
) -> DepartmentMatch:
    """The departments question ``q`` (folded) names; ``masked`` spans (metric names the caller
    found) are never read as department-like phrases."""
    # (start, end) → {department: score}, filled only for spans still free when their length comes
    # up (a generic alias inside a longer name, 医保局 in 峨山县医保局, is never expanded); exact
    # aliases score as a full short form; place-only aliases (普陀区, 峨山) are marked apart.
    spans: dict[tuple[int, int], dict[str, int]] = {}
    exact: dict[tuple[int, int], list[str]] = {}
    place_only: set[tuple[int, int]] = set()
    for alias, depts in vocab.aliases_in(q).items():
        for m in re.finditer(re.escape(alias), q):
            span = (m.start(), m.end())
            exact[span] = depts
            if _is_place_only(alias):
                place_only.add(span)
    # Short-form candidates, scored lazily: a span is scored only while no longer span has taken
    # its characters. A key that more than MAX_CANDIDATES departments share (医保局 alone, 区医保局
    # among thousands) names none in particular and is not read at all.
    phrase_keys = _phrase_keys(q, [sp for sp in exact if sp not in place_only])
    pending: dict[tuple[int, int], list[tuple[int, str]]] = {}
    for key, depts in vocab.departments_by_keys(set(phrase_keys), MAX_CANDIDATES).items():
        if len(depts) > MAX_CANDIDATES:
            continue
        for start, end, split in phrase_keys[key]:
            pending.setdefault((start, end), []).extend((split, d) for d in depts)
    chosen: list[tuple[tuple[int, int], list[str], int]] = []
    taken = bytearray(len(q))
    for length in sorted({b - a for a, b in [*exact, *pending]}, reverse=True):
        group = sorted(
            sp for sp in {*exact, *pending} if sp[1] - sp[0] == length and not any(taken[sp[0] : sp[1]])
        )
        for sp in group:
            bucket = spans.setdefault(sp, dict.fromkeys(exact.get(sp, ()), 1000 * length + 1000))
            for split, d in pending.get(sp, ()):
                sc = _body_score(q[sp[0] : split], q[split : sp[1]], d)
                if sc is not None:
                    bucket[d] = max(bucket.get(d, 0), 1000 * length + sc)
        # the best score first, then leftmost; spans never overlap
        for sp in sorted((sp for sp in group if spans[sp]), key=lambda sp: (-max(spans[sp].values()), sp[0])):
            if any(taken[sp[0] : sp[1]]):
                continue
            taken[sp[0] : sp[1]] = b"\x01" * length
            top = max(spans[sp].values())
            chosen.append((sp, sorted(d for d, v in spans[sp].items() if v == top), top))
    chosen.sort()
    unknown = None
    # 大城县医保局 when only 峨山彝族自治县医疗保障局 is ours: 县医保局 / 医保局 matched, but the question
    # puts another place before it. That department is not ours, whatever it shares with one of ours.
    for sp, _, _ in chosen:
        foreign = None if sp in place_only else _foreign_place(q, sp)
        if foreign is not None:
            unknown = q[foreign : sp[1]]
            chosen = [c for c in chosen if not (c[0][0] < sp[1] and foreign < c[0][1])]
            break
    skip = bytearray(len(q))
    for a, b in masked:
        skip[a:b] = b"\x01" * (b - a)
    # Department-like phrases no department covers; one that runs on into the next (普陀区委 in
    # 普陀区委宣传部) gives way to it.
    phrases: list[tuple[int, int]] = []
    real = [sp for sp, _, _ in chosen if sp not in place_only]
    places = [sp for sp, _, _ in chosen if sp in place_only]
    for m in _DEPT_LIKE.finditer(q):
        if any(taken[m.start() : m.end()]) or any(skip[m.start() : m.end()]):
            continue
        phrase = _unknown_phrase(q, m.start(), m.end(), real, places)
        if phrase is not None:
            start = m.end() - len(phrase)
            phrases = [p for p in phrases if not start <= p[0] < m.end()] + [(start, m.end())]
    for start, end in [] if unknown is not None else phrases:
        unit = _subordinate_unit(q[start:end], vocab)
        if unit is not None:
            chosen = [c for c in chosen if not (c[0][0] < end and start < c[0][1])]
            chosen.append(((start, end), [unit], 1000 * (end - start)))
            chosen.sort()
            continue
        unknown = q[start:end]
        # the unknown department's own place (峨山县 of 峨山县卫健局) names none of ours
        chosen = [c for c in chosen if not (c[0] in place_only and c[0][0] < end and start < c[0][1])]
        break
    # dicts as ordered sets: a name thousands of departments share must not cost their square
    departments: dict[str, None] = {}
    ambiguous: dict[str, None] = {}
    clarify: dict[str, None] = {}
    covered: list[tuple[int, int]] = []
    score = 0
    for sp, depts, s in chosen:
        covered.append(sp)
        score += s
        if len(depts) == 1:
            departments.setdefault(depts[0])
        else:
            ambiguous.update(dict.fromkeys(depts))
            if (
                sp not in place_only
                and len(depts) <= MAX_CANDIDATES
                and _names_a_place(q[sp[0] : sp[1]], depts)
            ):
                clarify.update(dict.fromkeys(depts))
    named = [d for d in departments if unknown is None or d not in ambiguous]
    # model_construct: the values are built here, and validating would build the model's schema,
    # ~20 ms of every cold `assistant ask`
    return DepartmentMatch.model_construct(
        departments=named,
        spans=covered,
        score=score,
        ambiguous=list(ambiguous),
        clarify=list(clarify),
        unknown=unknown,
    )


def _names_a_place(phrase: str, depts: list[str]) -> bool:
    """The phrase starts with a place of these departments (普陀区医保局), unlike a bare type name
    (医保局): a tie between them is a question to ask, not a name nobody in particular bears."""
    return all(
        any(p and phrase.startswith(p) and len(p) < len(phrase) for p in department_forms(d).places)
        for d in depts
    )


def _foreign_place(q: str, sp: tuple[int, int]) -> int | None:
    """Where another place starts when a matched name is read after it: its level character is the
    match's first (大城 + 县医保局) or the match has no place and follows one (大城县 + 医保局); None
    when nothing but a stop word or a determiner (这个区社工部) comes before."""
    start = sp[0]
    head = q[: start + 1] if q[start] in _LEVELS else q[:start]
    if not head or head[-1] not in _LEVELS:
        return None
    i = len(head) - 1
    while i > 0 and len(head) - 1 - i < 8 and _is_cjk(head[i - 1]):
        i -= 1
    place = head[i:]
    if len(place) < 3 or _GENERIC_BEFORE.search(head[:-1]) or any(w in place for w in _PHRASE_STOPS):
        return None
    return i


def _subordinate_unit(phrase: str, vocab: Vocabulary | StoreVocabulary) -> str | None:
    """The one department whose place and body stem begin ``phrase`` when it names a unit
    (…中心, …所) of it: 仁和区医疗保障事务中心 → 攀枝花市仁和区医疗保障局."""
    if not _UNIT_SUFFIX.search(phrase):
        return None
    keys = {
        f"{phrase[:k]}#{phrase[k:j]}" for k in range(1, len(phrase) - 2) for j in range(k + 2, len(phrase))
    }
    found = {d for depts in vocab.departments_by_keys(keys).values() for d in depts}
    return next(iter(found)) if len(found) == 1 else None
