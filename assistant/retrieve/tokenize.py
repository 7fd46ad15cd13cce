"""Chinese tokens for BM25: jieba (search mode) with a domain user dictionary and a stopword list.

Text is folded first (NFKC: full-width → half-width, lower case) and thousands separators between
digits are removed, so ``11，598，130.25`` and ``11598130.25`` give the same token. jieba's search mode
emits a long dictionary word *and* its known sub-words (公务接待费 → 公务, 接待, 接待费, 公务接待费), so a
query for 公务接待费 matches 公务接待费支出 and a query for 接待费 still matches 公务接待费.

jieba takes ~1 s to build its prefix dictionary: it is imported lazily and initialised once per
process, with its dictionary cache written under a fixed cache directory (not /tmp) so later
processes load it quickly.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
import unicodedata
from functools import lru_cache
from importlib import resources
from itertools import chain
from pathlib import Path
from typing import Any

__all__ = [
    "tokenize",
    "fold",
    "configure",
    "domain_terms",
    "stopwords",
    "tokenizer_signature",
    "expand_query",
]

# Domain words that must stay whole (jieba's dictionary splits most of them); the lexicon's metric
# terms are added to these when assistant.parse.lexicon is available.
EXTRA_TERMS: tuple[str, ...] = (
    "三公经费",
    "因公出国",
    "因公出国(境)费",
    "因公出国费",
    "公务用车",
    "公务用车购置",
    "公务用车运行维护费",
    "公务用车购置及运行维护费",
    "公务接待费",
    "国内公务接待",
    "外事接待",
    "机关运行经费",
    "城乡医疗救助",
    "医疗救助",
    "城乡居民",
    "基本医疗保险",
    "医疗保障",
    "医保局",
    "医疗保障局",
    "财政拨款",
    "财政拨款收入",
    "一般公共预算",
    "政府性基金",
    "国有资本经营预算",
    "基本支出",
    "项目支出",
    "人员经费",
    "公用经费",
    "年初结转和结余",
    "年末结转和结余",
    "结转结余",
    "政府采购",
    "国有资产",
    "绩效目标",
    "绩效自评",
    "名词解释",
    "部门决算",
    "部门预算",
    "决算数",
    "预算数",
    "社会保障和就业支出",
    "卫生健康支出",
    "住房保障支出",
    "一般公共服务支出",
    "住房公积金",
    "行政运行",
    "事业运行",
    "社会工作部",
    "社工部",
    "人民信访",
    "人民建议征集",
    "党建引领",
    "基层治理",
    "津贴补贴",
    "基本工资",
    "绩效工资",
    "差旅费",
    "邮电费",
    "办公费",
    "印刷费",
    "会议费",
    "培训费",
    "委托业务费",
    "物业管理费",
    "职业年金",
    "养老保险",
    "彩票公益金",
    "执行率",
)
# Bump when the token rules change: the index manifest stores it, a change forces a rebuild.
TOKENIZER_VERSION = 3

_THOUSANDS = re.compile(r"(?<=\d)[,，](?=\d{3}(?!\d))")
_SPACE_BETWEEN_CJK = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")
# A token is kept only if it has a letter, digit or CJK character (drops punctuation and spaces).
_WORDLIKE = re.compile(r"[0-9a-z\u3400-\u9fff]")
# Word bookmarks go, and quotes: “三公”经费 must read as the dictionary word 三公经费 (one regex pass:
# str.translate with a deletion table costs ~10× more on Chinese text).
_DROPPED = re.compile(r"\[bookmark:[^\]]*\]|[“”‘’\"'「」『』]")

_lock = threading.Lock()
_tokenizer: Any = None
_cache_dir: Path | None = None
log = logging.getLogger(__name__)


def configure(cache_dir: str | Path) -> None:
    """Place jieba's dictionary cache under ``cache_dir`` (call before the first tokenize)."""
    global _cache_dir
    _cache_dir = Path(cache_dir)


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "report-assistant" / "jieba"


def fold(text: str) -> str:
    """Fold widths (NFKC), lower-case, drop Word bookmarks and thousands separators inside numbers."""
    text = _DROPPED.sub("", text)
    text = unicodedata.normalize("NFKC", text).lower()
    text = _THOUSANDS.sub("", text)
    # PDF text often has spaces between Chinese characters ("2020 年度 部门"); jieba must see words
    return _SPACE_BETWEEN_CJK.sub("", text)


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """The stopword list of assistant/data/stopwords.txt (folded)."""
    data = resources.files("assistant").joinpath("data/stopwords.txt").read_text(encoding="utf-8")
    words = (fold(w.strip()) for w in data.splitlines())
    return frozenset(w for w in words if w and not w.startswith("#"))


@lru_cache(maxsize=1)
def domain_terms() -> tuple[str, ...]:
    """Folded user-dictionary words: the lexicon's terms (if available) plus EXTRA_TERMS, sorted."""
    terms: set[str] = set(EXTRA_TERMS)
    try:
        from assistant.parse.lexicon import all_terms
    except ImportError:  # the lexicon is optional: the extra terms alone still keep key words whole
        pass
    else:
        terms.update(term for term, _ in all_terms())
    folded = {fold(t).strip() for t in terms}
    return tuple(sorted(t for t in folded if len(t) >= 2 and " " not in t))


def tokenizer_signature() -> str:
    """Identifies the indexing rules (token rules and user dictionary, stopwords, and the chunker's
    rules version) for the index manifest: a change makes the next build re-chunk and re-index."""
    from assistant.retrieve.chunking import CHUNKER_VERSION

    h = hashlib.sha256(f"v{TOKENIZER_VERSION}/c{CHUNKER_VERSION}".encode())
    for t in domain_terms():
        h.update(b"\x00" + t.encode())
    h.update(b"\x01")
    for w in sorted(stopwords()):
        h.update(b"\x00" + w.encode())
    return h.hexdigest()[:16]


# jieba's HMM path cuts a run of letters and digits by this pattern (jieba.finalseg's re_skip:
# "843.11843.11" → 843.11843 . 11); jieba-rs keeps such a run whole, so its non-Han tokens are cut again
_JIEBA_SKIP = re.compile(r"([a-zA-Z0-9]+(?:\.\d+)?%?)")
_NON_HAN = re.compile(r"[^\u4E00-\u9FD5]+")


_RUST_WORDS: set[str] = set()  # words added to rjieba's (process-wide) dictionary


class RustJieba:
    """jieba-rs (``rjieba``), giving jieba's search-mode tokens: its dictionary loads in about half of
    jieba's ~1.3 s (a cold text question pays it) and it segments ~5× faster (a build pays that).
    Same dictionary, same DAG + HMM; the one difference, runs of letters and digits, is cut as jieba
    cuts them. tests/test_tokenize_rjieba.py checks the tokens equal jieba's on every corpus line."""

    def __init__(self) -> None:
        import rjieba

        # the module's own functions, on the dictionary it builds when imported: a second
        # rjieba.Jieba() would build it again (~0.2 s of a cold question)
        self._jieba: Any = rjieba

    def suggest_freq(self, word: str) -> int:
        return int(self._jieba.suggest_freq(word))

    def add_word(self, word: str, freq: int) -> None:
        # once per word and process: the dictionary is shared, and adding a word again would start from
        # its raised frequency (suggest_freq) and raise it further, changing the segmentation
        if word not in _RUST_WORDS:
            _RUST_WORDS.add(word)
            self._jieba.add_word(word, freq, None)

    def cut_for_search(self, text: str, HMM: bool = True) -> list[str]:  # noqa: N803 - jieba's name
        out: list[str] = []
        for tok in self._jieba.cut_for_search(text, HMM):
            if len(tok) > 1 and _NON_HAN.fullmatch(tok):
                out.extend(_jieba_cut_run(tok))
            else:
                out.append(tok)
        return out


@lru_cache(maxsize=100_000)
def _jieba_cut_run(run: str) -> tuple[str, ...]:
    """A run of letters and digits as jieba cuts it (see _JIEBA_SKIP)."""
    return tuple(p for p in _JIEBA_SKIP.split(run) if p)


def _python_jieba() -> Any:
    """jieba.Tokenizer with its dictionary cache under the cache directory (the reference; and the
    segmenter where rjieba is not installed)."""
    import jieba  # lazy: ~1 s on first use

    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    cache_dir = _cache_dir or _default_cache_dir()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=cache_dir, delete=True)
        probe.close()
    except OSError:  # read-only home: fall back to the system temp dir
        cache_dir = Path(tempfile.gettempdir())
    tk.tmp_dir = str(cache_dir)
    tk.cache_file = "jieba.dict.cache"  # jieba stores it with marshal, not pickle
    tk.initialize()
    return tk


def _add_domain_terms(tk: Any) -> Any:
    for term in domain_terms():
        # a high frequency makes the whole word win over its parts in the segmentation path
        tk.add_word(
            term,
            freq=max(
                tk.suggest_freq(term) if isinstance(tk, RustJieba) else tk.suggest_freq(term, tune=False),
                100000,
            ),
        )
    return tk


def _get_tokenizer() -> Any:
    """The process-wide segmenter (RustJieba, or jieba.Tokenizer without rjieba) with the domain
    terms, initialised once (thread-safe)."""
    global _tokenizer
    if _tokenizer is not None:
        return _tokenizer
    with _lock:
        if _tokenizer is not None:
            return _tokenizer
        # speed (cold question): the dictionary words of the texts cut, not all 349k (jieba_few.py)
        from assistant.retrieve.jieba_few import few_texts_jieba

        try:
            tk = few_texts_jieba(_cache_dir or _default_cache_dir()) or RustJieba()
        except ImportError:
            tk = _python_jieba()
        _tokenizer = _add_domain_terms(tk)
    return _tokenizer


def tokenize(text: str) -> list[str]:
    """Tokens of ``text`` for BM25: folded, jieba search-mode words, no stopwords or punctuation."""
    return list(_tokenize_cached(text))


@lru_cache(maxsize=200_000)
def _tokenize_cached(text: str) -> tuple[str, ...]:
    # Reports repeat whole lines and passages (名词解释, 职能, table headers): each text is folded once,
    # and so is each of its segments (a chunk's sentences and rows are its lines' and line units')
    if "[bookmark:" in text:  # a bookmark may span segments: fold drops it from the whole text
        return _segment_tokens(text)
    segments = _SEGMENT_CUT.split(text)
    if len(segments) == 1:
        return _segment_tokens(text.strip())
    return tuple(chain.from_iterable(map(_segment_tokens, map(str.strip, segments))))


# A text's tokens are its segments' tokens in order when it is cut where folding is local and jieba
# has a boundary: at 。！？；!?;| (a table line unit's " | " too), and at a line break following a
# letter, digit or punctuation (fold joins lines only between two CJK characters; the quotes fold
# drops are left out, so the characters either side of the break stay as they are). The cut
# characters and the whitespace around a segment give no token: a segment is looked up stripped.
_SEGMENT_CUT = re.compile(r"[。！？；!?;|]|(?<=[!#-&(-~\uff01-\uff5e、。）》」』】])\n")


# jieba (and jieba-rs) segment each run of CJK / letters / digits / +#&._%- on its own and emit every
# other character alone, so a folded segment's tokens are its pieces' tokens in order: cut at
# characters that are outside every version's runs and give no token (whitespace, punctuation,
# quotes, dashes), each distinct piece is segmented once per process (tests/test_tokenize_rjieba.py
# checks the tokens equal those of the whole text on every corpus text).
_BOUNDARY = re.compile(r"[\s!\"$'()*,/:;<=>?@\[\\\]^`{|}~\u2000-\u206f\u3000-\u303f]+")


@lru_cache(maxsize=500_000)
def _segment_tokens(text: str) -> tuple[str, ...]:
    folded = fold(text)
    if not folded.strip():
        return ()
    return tuple(chain.from_iterable(_piece_tokens(p) for p in _BOUNDARY.split(folded) if p))


@lru_cache(maxsize=500_000)
def _piece_tokens(piece: str) -> tuple[str, ...]:
    out: list[str] = []
    for tok in _get_tokenizer().cut_for_search(piece, HMM=True):
        out.extend(_kept(tok))
    return tuple(out)


@lru_cache(maxsize=200_000)
def _kept(tok: str) -> tuple[str, ...]:
    """What one segmented token contributes: nothing (space, punctuation, stopword), or the token with
    the domain terms inside it. Cached: a corpus has far fewer distinct tokens than tokens."""
    tok = tok.strip()
    if not tok or tok in stopwords() or not _WORDLIKE.search(tok):
        return ()
    if len(tok) > 3:
        # jieba's search mode adds only 2/3-character sub-words: add the domain terms inside a
        # longer word too (三公经费支出 → 三公经费), so both forms of a query match
        return (*_inner_terms(tok, _term_set()), tok)
    return (tok,)


@lru_cache(maxsize=1)
def _term_set() -> frozenset[str]:
    return frozenset(domain_terms())


def _inner_terms(tok: str, terms: frozenset[str]) -> list[str]:
    """Domain terms of 4+ characters strictly inside ``tok``, in order of position."""
    n = len(tok)
    return [tok[i:j] for i in range(n) for j in range(i + 4, n + 1) if (j - i) < n and tok[i:j] in terms]


@lru_cache(maxsize=1)
def _synonyms() -> tuple[tuple[str, str], ...]:
    """(normalised term, canonical metric) of the lexicon, longest first; empty without the lexicon."""
    try:
        from assistant.parse.lexicon import all_terms
    except ImportError:
        return ()
    return tuple((t, c) for t, c in all_terms() if len(t) >= 2)


@lru_cache(maxsize=256)
def expand_query(text: str) -> tuple[str, ...]:
    """Canonical metric names for the lexicon synonyms in ``text`` (出国经费 → 因公出国（境）费,
    招待费 → 公务接待费), longest match first, terms not overlapping; names already in the text are
    not repeated. Used to add the report's own wording to a colloquial query."""
    try:
        from assistant.parse.lexicon import normalize_label
    except ImportError:
        return ()
    q = normalize_label(text)
    taken = [False] * len(q)
    out: list[str] = []
    for term, canonical in _synonyms():
        start = q.find(term)
        while start >= 0:
            end = start + len(term)
            if not any(taken[start:end]):
                for i in range(start, end):
                    taken[i] = True
                name = normalize_label(canonical)
                if name not in q and canonical not in out:
                    out.append(canonical)
            start = q.find(term, end)
    return tuple(out)
