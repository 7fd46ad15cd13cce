"""Answers that are passages: definitions, duties, explanations — found by hybrid retrieval.

Also ``supporting_passage``: the narrative sentence that explains a number found by the lookup
engine ("…比上年增加0.24万元。主要原因是…"), to cite next to the fact. It never loads the embedding
model: it reads the chunks and their sentence spans from the retrieval index (opened on first use,
only if already built) and picks by wording and line distance.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from assistant.models import Answer, Citation, Query
from assistant.store.vocabulary import fold

if TYPE_CHECKING:
    from assistant.answer.catalog import ReportCatalog
    from assistant.config import Settings
    from assistant.store.vocabulary import StoreVocabulary, Vocabulary


@dataclass
class PassageSource:
    """What the passage path reads: settings (where the index is), the reports, the department names,
    and the retrieval index once opened (None: not yet; False: unavailable)."""

    settings: Settings
    catalog: ReportCatalog
    vocab: Vocabulary | StoreVocabulary
    _retrieval: Any = None
    # Candidate lines of each report for unexplained words (answer/lines.py), read once per engine.
    lines: dict[str, dict] = field(default_factory=dict)
    # The titles of each report's per-project tables, as (line, title or None) in line order (answer/lines.py).
    titles: dict[str, list] = field(default_factory=dict)


# speed (REPL warm-up): the index may be opened by the REPL's warm-up thread while a question opens
# it; one lock makes the second wait for the first instead of opening it twice.
log = logging.getLogger(__name__)
_OPEN_LOCK = threading.Lock()


def _index(source: PassageSource, prefetch: bool = False):  # noqa: ANN202
    """The retrieval index, opened once per source (one per engine); the embedding model loads on
    first use, or with ``prefetch`` (a search follows) in the background from the open on."""
    with _OPEN_LOCK:
        if source._retrieval is None:
            from assistant.retrieve.index import IndexNotFound, RetrievalIndex

            try:
                source._retrieval = RetrievalIndex.open(
                    source.settings.index_dir, source.settings, prefetch=prefetch
                )
            except IndexNotFound as e:
                log.warning("note: %s", e)  # shown on stderr while no logging is configured
                source._retrieval = False
    return source._retrieval or None


def retrieval_answer(source: PassageSource, q: Query) -> Answer:
    """The best passage(s) for a non-numeric question, cited by file and line span; or not_found."""
    from assistant.retrieve.fusion import definition_term  # numpy: only on the passage path

    index = _index(source, prefetch=True)
    if index is None:
        return Answer(question=q.text, kind="not_found", text="检索索引不可用：请先运行 `assistant index`。")
    term = definition_term(q.text)
    if term and (
        source.vocab.aliases_in(fold(term)) or any(asked.search(term) for asked, _ in SECTION_INTENTS)
    ):
        term = None  # 峨山县医保局的主要职责是什么 asks for a section of a report, not for a defined term
    # The filters as asked, then wider: a year the department has no report for, and a department
    # the conversation carried over (not named in this question) must not hide a passage that exists.
    attempts = [(q.departments or None, q.year)]
    if q.year is not None:
        attempts.append((q.departments or None, None))
    if q.departments and not source.vocab.aliases_in(fold(q.text)):
        attempts.append((None, None))
    hits: list = []
    fallback: tuple[list, tuple[list[str] | None, int | None]] | None = None
    for departments, year in attempts:
        docs = (
            [r.doc for r in source.catalog.of(departments) if year is None or r.year == year]
            if departments
            else []
        )
        found, exact = _passages(index, q.text, term, departments, year, docs)
        if not term:
            # 为什么 / 有没有 / 用在哪里: the sentence of that form about the asked words, if one names them.
            topic = q.text
            for alias in sorted(source.vocab.aliases_in(fold(q.text)), key=len, reverse=True):
                topic = topic.replace(alias, " ")  # the department's name is no part of the topic
            found = _form_sentences(index, q.text, topic, found, docs) or found
        if found and exact:
            hits = found
            break
        if found and fallback is None:  # a definition question without its 名词解释 entry here
            fallback = (found, (departments, year))
    else:
        if fallback is not None:
            hits, (departments, year) = fallback
    if not hits:
        return Answer(question=q.text, kind="not_found", text="在报告中没有找到与这个问题相关的段落。")
    lines = []
    if (departments, year) != attempts[0]:
        scope = "".join(x for x in ["、".join(q.departments), f"{q.year}年" if q.year else ""] if x)
        lines.append(
            f"（{scope}的报告中没有找到，以下来自{'其他年份的报告' if departments else '其他报告'}。）"
        )
    citations = []
    for h in hits:
        c = h.chunk
        rep = source.catalog.report(c.doc)
        dept = rep.department if rep else ""
        page = f"第{c.page}页" if c.page else ""
        head = f"【{dept}｜{c.section}】" if c.section else f"【{dept}】"
        body = "\n".join(f"» {s}" for s in h.highlights) if h.highlights else c.text
        lines.append(f"{head}\n{body}\n（{c.doc} {page}第{c.line_start}–{c.line_end}行）")
        citations.append(
            Citation(doc=c.doc, line_start=c.line_start, line_end=c.line_end, page=c.page, snippet=c.text)
        )
    return Answer(question=q.text, kind="retrieval", text="\n\n".join(lines), citations=citations)


# What a question asks about → the titles of the standard outline's sections that answer it
# (第一部分 部门概况: 一、主要职能 二、机构设置 …; 名词解释; 绩效自评 …).
SECTION_INTENTS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (
        re.compile(r"职责|职能|主要工作|主要任务|负责什么|干什么"),
        re.compile(r"职责|职能|部门概况|基本情况|主要任务"),
    ),
    (
        re.compile(r"机构设置|内设机构|下属单位|哪些单位|单位构成|部门构成"),
        re.compile(r"机构设置|内设机构|单位构成|部门构成|决算单位|预算单位"),
    ),
    (re.compile(r"绩效目标|绩效评价|绩效自评"), re.compile(r"绩效")),
    (re.compile(r"存在的?问题|整改|改进措施"), re.compile(r"问题|整改|改进")),
)


def _passages(
    index: Any, text: str, term: str | None, departments: list[str] | None, year: int | None, docs: list[str]
) -> tuple[list, bool]:
    """The hits to show, and whether they answer the question's form: for a definition question its
    名词解释 entries (one per report); for a question about duties, structure … the hits in the
    sections of the report's outline that hold them, first — and when the ranking found none there,
    the opening passage of that section in each report of ``docs`` (the filtered reports)."""
    hits = index.search(text, departments=departments, year=year, top_k=20)
    if term:
        pattern = re.compile(re.escape(term) + r"[：:]")
        defs = [h for h in hits if pattern.search(_unquote(h.chunk.text))]
        first: dict[str, object] = {}
        defs = [h for h in defs if first.setdefault(h.chunk.doc, h) is h]  # one entry per report
        return (defs[:5], True) if defs else (hits[:2], False)
    for asked, section in SECTION_INTENTS:
        if asked.search(text):
            # Stable: within each group the fused ranking stands.
            hits = sorted(hits, key=lambda h: not section.search(h.chunk.section or ""))
            if not (hits and section.search(hits[0].chunk.section or "")):
                hits = _section_openings(index, docs, section) + hits
            break
    return hits[:2], True


# A sentence answers 有没有 X only when it says X is absent: the asked words follow the negation
# (无政府性基金预算收支, 没有发生…); a 未 elsewhere (…专项经费未支付完) says nothing of X.
ABSENCE = re.compile(r"[无未]|没有|不存在")
ABSENCE_WINDOW = 12  # characters after the negation that must name the topic
# The form a question asks in → the marker a sentence answering it carries (issue #12). A reason
# question wants 主要原因/原因是…; a question whether something exists wants the sentence saying it is
# absent (reports state only absences: 本单位无政府性基金预算收支); a question what money is used
# for wants 主要用于….
ASKED_FORMS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    # Not a bare 原因: a heading (…增减变化原因) names the reasons without giving one.
    (
        re.compile(r"为什么|为何|什么原因|原因"),
        re.compile(r"原因[是为:：]|原因[^。；，]{0,6}(?:是|为)|由于|因为"),
    ),
    (
        re.compile(r"有没有|有无|是否有|是否存在|是否发生|存不存在"),
        ABSENCE,
    ),
    (
        re.compile(r"用在哪|用于哪|用于什么|用在什么|用途|用来做什么|花在哪|花在什么|用到哪"),
        re.compile(r"用于"),
    ),
)
# Words of the question that are its form or filler, not the topic a sentence must name.
_FORM_WORDS = re.compile(
    r"为什么|为何|什么原因|原因|有没有|有无|是否|存不存在|存在|发生|主要|用在|用于|用途|用来|用到|花在|"
    r"哪里|哪些|什么|方面|做|的|了|呢|吗|[0-9０-９.%％年度]|[？?，,。！!\s]"
)
_CJK = r"\u3400-\u9fff\u3000-\u303f\uff00-\uffef"
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")
# A sentence must share this many character pairs with the question's topic to answer it.
MIN_TOPIC_PAIRS = 2


def asked_form(text: str) -> re.Pattern[str] | None:
    """The marker of the sentence a 为什么 / 有没有 / 用在哪里 question asks for, or None."""
    return next((marker for asked, marker in ASKED_FORMS if asked.search(text)), None)


def _form_sentences(index: Any, text: str, topic: str, hits: list, docs: list[str]) -> list:
    """For a question of an asked form: the sentence (with the one before it in its paragraph, which
    names the figure a reason or use follows) carrying the form's marker and sharing the most
    character pairs with the question's topic, one per report, as hits citing its lines; [] when
    none names the topic."""
    from assistant.retrieve.index import Hit

    marker = asked_form(text)
    if marker is None or not hasattr(index, "spans"):
        return []
    topic = _fold(_FORM_WORDS.sub(" ", topic))
    pairs = {topic[i : i + 2] for i in range(len(topic) - 1)} - {""}
    pairs = {p for p in pairs if " " not in p}
    rank = {h.chunk.doc: n for n, h in enumerate(hits)}
    chunk_ids = [ci for d in docs for ci in index.chunks_of(d)] if docs else []
    if not chunk_ids:
        chunk_ids = [ci for d in dict.fromkeys(h.chunk.doc for h in hits) for ci in index.chunks_of(d)]
    best: dict[str, tuple[tuple[int, int, int], Hit]] = {}
    for ci in chunk_ids:
        chunk = index.chunks[ci]
        spans = index.spans(ci)
        for j, (ls, le, para, page, sentence) in enumerate(spans):
            if not marker.search(sentence):
                continue
            prev = spans[j - 1] if j and spans[j - 1][2] == para else None
            if prev is not None:
                ls, page, sentence = prev[0], prev[3], prev[4] + sentence
            folded = _fold(sentence)
            about = folded
            if marker is ABSENCE:
                about = "|".join(folded[m.end() : m.end() + ABSENCE_WINDOW] for m in ABSENCE.finditer(folded))
            shared = sum(p in about for p in pairs)
            if shared < MIN_TOPIC_PAIRS:
                continue
            key = (-shared, len(folded), ls)  # most of the topic; then the tighter sentence, the earlier
            shown = _CJK_GAP.sub("", sentence)  # a PDF's text layer spaces CJK from digits: 于 2024 年
            cited = chunk.model_copy(
                update={"line_start": ls, "line_end": le, "page": page or chunk.page, "text": shown}
            )
            if chunk.doc not in best or key < best[chunk.doc][0]:
                best[chunk.doc] = (key, Hit(chunk=cited, score=float(shared), bm25_score=0.0))
    ordered = sorted(best.values(), key=lambda kh: (kh[0][0], rank.get(kh[1].chunk.doc, len(rank))))
    return [h for _, h in ordered[:2]]


def _section_openings(index: Any, docs: list[str], section: re.Pattern[str]) -> list:
    """The first chunk of the first section matching ``section`` in each of ``docs``, as hits."""
    from assistant.retrieve.index import Hit

    out = []
    for doc in docs:
        for i in index.chunks_of(doc):
            chunk = index.chunks[i]
            if section.search(chunk.section or ""):
                out.append(Hit(chunk=chunk, score=0.0, bm25_score=0.0))
                break
    return out


def _unquote(text: str) -> str:
    return re.sub(r"[“”\"‘’'「」]", "", text)


# ----------------------------------------------------------------------------- supporting passages

# A sentence that explains a figure: why it changed, what it is used for.
REASON_MARKERS = re.compile(r"主要原因|原因是|原因[:：]|主要用于|变动原因|增减原因")
# Sentences farther than this many lines from the fact are not its explanation.
MAX_DISTANCE = 40
_FOLD_DROP = str.maketrans("", "", "“”‘’\"'「」『』 \t\u3000")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_FOLD_DROP)


@lru_cache(maxsize=256)
def _metric_terms(metric: str) -> tuple[str, ...]:
    """The metric's name and its lexicon synonyms of 3+ characters, folded, longest first."""
    terms = {metric}
    try:
        from assistant.parse.lexicon import METRICS
    except ImportError:
        pass
    else:
        terms.update(t for t in METRICS.get(metric, ()) if len(_fold(t)) >= 3)
    return tuple(sorted({_fold(t) for t in terms if t}, key=lambda t: (-len(t), t)))


def open_index_if_built(source: PassageSource) -> Any:
    """The engine's retrieval index, opened now if it exists on disk and was not opened yet; None
    when there is none. Opening reads chunks and BM25 only: the embedding model loads on a search."""
    with _OPEN_LOCK:
        if source._retrieval is None:
            from assistant.retrieve.index import MANIFEST, SUBDIR, IndexNotFound, RetrievalIndex

            if not (source.settings.index_dir / SUBDIR / MANIFEST).exists():
                return None  # not built: leave the engine as it was (retrieval_answer reports it)
            try:
                source._retrieval = RetrievalIndex.open(source.settings.index_dir, source.settings)
            except IndexNotFound:
                return None
    return source._retrieval or None


def _reason_sentences(index: Any, doc: str) -> list[tuple[int, int, int | None, str, str]]:
    """Reason sentences of ``doc``: (line_start, line_end, page, snippet, folded text of the sentence
    and the one before it in its paragraph). Computed once per document and index."""
    cache: dict[str, list[tuple[int, int, int | None, str, str]]] = index.__dict__.setdefault("_reasons", {})
    found = cache.get(doc)
    if found is not None:
        return found
    out: list[tuple[int, int, int | None, str, str]] = []
    seen: set[tuple[int, int, str]] = set()
    for ci in index.chunks_of(doc):
        chunk = index.chunks[ci]
        spans = index.spans(ci)
        for j, (ls, le, para, page, text) in enumerate(spans):
            if not REASON_MARKERS.search(text) or (ls, le, text) in seen:
                continue
            seen.add((ls, le, text))
            prev = spans[j - 1] if j and spans[j - 1][2] == para else None
            if prev is not None:
                ls, page, text = prev[0], prev[3], prev[4] + text
            out.append((ls, le, page if page is not None else chunk.page, text, _fold(text)))
    cache[doc] = out
    return out


def supporting_passage(source: PassageSource, fact_doc: str, line: int, metric: str) -> Citation | None:
    """The narrative sentence explaining the fact of ``metric`` at ``fact_doc`` line ``line``, or None.

    A candidate is a sentence of the same document containing 主要原因 / 原因是 / 主要用于 (…), taken
    together with the sentence before it in its paragraph (the reason often follows the figure:
    "公务接待费支出决算比2019年增加0.24万元，增长1808.27%。主要原因是本年度主要接待…"). It must name
    the metric (its canonical name or a lexicon synonym of 3+ characters) and lie within
    MAX_DISTANCE lines of ``line``; the nearest wins (ties: the earlier one). The citation spans
    both sentences and its snippet is their text.

    Cheap: no embedding model is loaded and nothing is searched. The retrieval index is opened on
    first use (reusing the engine's if a passage answer opened it) and only when it was already
    built; without it the answer is None. After the first call for a document a call is a scan of
    that document's few reason sentences (well under a millisecond).
    """
    index = open_index_if_built(source)
    if index is None or not hasattr(index, "spans"):
        return None
    terms = _metric_terms(metric)
    best: tuple[int, int] | None = None
    pick = None
    for ls, le, page, snippet, folded in _reason_sentences(index, fact_doc):
        if not any(t in folded for t in terms):
            continue
        distance = 0 if ls <= line <= le else min(abs(line - ls), abs(line - le))
        if distance > MAX_DISTANCE:
            continue
        key = (distance, ls)
        if best is None or key < best:
            best, pick = key, (ls, le, page, snippet)
    if pick is None:
        return None
    ls, le, page, snippet = pick
    return Citation(doc=fact_doc, line_start=ls, line_end=le, page=page, snippet=snippet)
