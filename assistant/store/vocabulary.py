"""What a question can name: department aliases and metric terms, folded for matching.

Derived from the fact store (its ``aliases`` and ``labels`` tables) plus the metric lexicon. The
build writes it into the store (table ``terms``) so that opening the store costs the same with 7
reports as with 5,000: a question looks up only its own substrings (StoreVocabulary). Stores written
before the table existed get the same vocabulary built in memory (Vocabulary).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable

from assistant.naming import department_keys, department_stems
from assistant.parse.lexicon import all_terms, normalize_label

# Ordinals a row label starts with (一、 （二） 3.): not part of the name a question uses.
_LABEL_ORDINAL_RE = re.compile(r"^[一二三四五六七八九十]+、|^\(?[一二三四五六七八九十\d]+\)|^\d+\.")
MAX_TERM = 40  # longest name looked up in a question
# Row labels that name no metric of their own (the 合计 row of the 三公 table is not "三公经费" to a
# question that says 合计): they stay words of the question (合计 → a sum).
GENERIC_LABELS = frozenset({"合计", "小计", "总计", "共计", "其中", "项目", "金额", "科目", "科目名称"})
_TERMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS terms (term TEXT NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL,
                                  rank INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS terms_by_term ON terms (term, kind);
CREATE INDEX IF NOT EXISTS terms_by_kind_term_rank ON terms (kind, term, rank);
CREATE INDEX IF NOT EXISTS reports_by_department ON reports (json_extract(json, '$.department'));
"""


def fold(text: str) -> str:
    """The matching form of a name or question: NFKC width folding (２０２１ → 2021), quotes and
    whitespace removed."""
    return normalize_label(text)


def substrings(text: str, max_len: int = MAX_TERM) -> set[str]:
    """Every substring of ``text`` of 2 to ``max_len`` characters: the names it could contain."""
    n = len(text)
    return {text[i:j] for i in range(n) for j in range(i + 2, min(n, i + max_len) + 1)}


def fold_vocabulary(
    aliases: dict[str, list[str]], labels: Iterable[tuple[str, str]]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(folded alias → departments, folded term → metric) from raw aliases and (metric, label) pairs.

    Lexicon terms win over row labels; among labels the first (metric, label) in sorted order wins,
    so the result does not depend on the order reports were indexed in.
    """
    folded: dict[str, list[str]] = {}
    for alias in sorted(aliases):
        a = fold(alias)
        if a:
            bucket = folded.setdefault(a, [])
            bucket.extend(d for d in aliases[alias] if d not in bucket)
    terms: dict[str, str] = dict(all_terms())
    for metric, label in sorted(labels):
        for t in (normalize_label(label), normalize_label(metric)):
            t = _LABEL_ORDINAL_RE.sub("", t)
            if len(t) >= 2 and t not in GENERIC_LABELS:
                terms.setdefault(t, metric)
    return folded, terms


def department_index(departments: Iterable[str]) -> dict[str, list[str]]:
    """Short-form keys (``place|ab``, see metadata.department_keys) and subordinate-unit stems
    (``place#stem``) → departments, sorted: derived once at build time so that a question looks up
    only its own phrases, however many departments the store holds."""
    index: dict[str, list[str]] = {}
    for dept in sorted(set(departments)):
        for key in sorted(department_keys(dept) | department_stems(dept)):
            index.setdefault(key, []).append(dept)
    return index


def term_end_key(term: str) -> str:
    """The key a metric's short form is found by: its first and last character (公车运行费 and
    公务用车运行维护费 share 公…费)."""
    return term[0] + term[-1]


def term_end_index(terms: Iterable[str]) -> dict[str, list[str]]:
    """term_end_key → terms (sorted)."""
    index: dict[str, list[str]] = {}
    for t in sorted(set(terms)):
        if len(t) >= 3:
            index.setdefault(term_end_key(t), []).append(t)
    return index


class Vocabulary:
    """The whole vocabulary in memory (tests, and stores without a ``terms`` table)."""

    def __init__(
        self,
        folded_aliases: dict[str, list[str]],
        term_index: dict[str, str],
        aliases: dict[str, list[str]] | None = None,
    ) -> None:
        self.folded_aliases = folded_aliases
        self.term_index = term_index
        self.aliases = aliases if aliases is not None else folded_aliases
        self.dept_index = department_index(d for depts in self.folded_aliases.values() for d in depts)
        self.end_index = term_end_index(term_index)

    @classmethod
    def build(cls, aliases: dict[str, list[str]], labels: Iterable[tuple[str, str]]) -> Vocabulary:
        """From raw aliases (alias → departments) and (metric, label) pairs plus the lexicon."""
        folded, terms = fold_vocabulary(aliases, labels)
        return cls(folded, terms, aliases)

    def aliases_in(self, text: str) -> dict[str, list[str]]:
        """Folded aliases that occur in ``text`` (already folded), with their departments."""
        return {s: self.folded_aliases[s] for s in substrings(text) if s in self.folded_aliases}

    def terms_in(self, text: str) -> dict[str, str]:
        """Metric terms that occur in ``text`` (already folded), with their metric."""
        return {s: self.term_index[s] for s in substrings(text) if s in self.term_index}

    def terms_containing(self, core: str) -> list[tuple[str, str]]:
        """(term, metric) of every term that contains ``core``."""
        return [(t, m) for t, m in self.term_index.items() if core in t]

    def departments_by_keys(self, keys: set[str], limit: int | None = None) -> dict[str, list[str]]:
        """Departments under each of ``keys`` (department_index keys) that has any; at most
        ``limit`` + 1 per key (so a caller sees that a key has more than ``limit``)."""
        end = None if limit is None else limit + 1
        return {k: self.dept_index[k][:end] for k in sorted(keys) if k in self.dept_index}

    def terms_by_ends(self, keys: set[str]) -> dict[str, str]:
        """term → metric of every term whose term_end_key is among ``keys``."""
        return {t: self.term_index[t] for k in sorted(keys) for t in self.end_index.get(k, ())}

    def department_names(self) -> list[str]:
        """Every alias and department name, sorted (for completion)."""
        return sorted(self.aliases)

    def metric_names(self) -> list[str]:
        """Every metric a term names, sorted."""
        return sorted(set(self.term_index.values()))


class StoreVocabulary:
    """The vocabulary as written in the store: lookups by SQL, nothing loaded up front."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def _lookup(self, kind: str, keys: set[str], max_rank: int | None = None) -> list[tuple[str, str]]:
        if not keys:
            return []
        # Sorted keys and ORDER BY: the same rows in the same order every time.
        ordered = sorted(keys)
        rows: list[tuple[str, str]] = []
        ranked = "" if max_rank is None else f" AND rank <= {int(max_rank)}"
        for i in range(0, len(ordered), 900):  # stay under SQLite's bound-parameter limit
            part = ordered[i : i + 900]
            rows += self.con.execute(
                f"SELECT term, target FROM terms WHERE kind = ? AND term IN ({','.join('?' * len(part))}){ranked} "
                "ORDER BY term, rank",
                (kind, *part),
            ).fetchall()
        return rows

    def aliases_in(self, text: str) -> dict[str, list[str]]:
        """Folded aliases that occur in ``text`` (already folded), with their departments."""
        out: dict[str, list[str]] = {}
        for term, dept in self._lookup("alias", substrings(text)):
            out.setdefault(term, []).append(dept)
        return out

    def terms_in(self, text: str) -> dict[str, str]:
        """Metric terms that occur in ``text`` (already folded), with their metric."""
        return dict(self._lookup("term", substrings(text)))

    def departments_by_keys(self, keys: set[str], limit: int | None = None) -> dict[str, list[str]]:
        """Departments under each of ``keys`` (department_index keys) that has any; at most
        ``limit`` + 1 per key (so a caller sees that a key has more than ``limit``): a key many
        departments share costs the same as a rare one (index terms_by_kind_term_rank)."""
        out: dict[str, list[str]] = {}
        for key, dept in self._lookup("dkey", keys, max_rank=limit):
            out.setdefault(key, []).append(dept)
        return out

    def terms_by_ends(self, keys: set[str]) -> dict[str, str]:
        """term → metric of every term whose term_end_key is among ``keys``."""
        found = [t for _, t in self._lookup("tkey", keys)]
        return dict(self._lookup("term", set(found)))

    def terms_containing(self, core: str) -> list[tuple[str, str]]:
        """(term, metric) of every term that contains ``core``."""
        return list(
            self.con.execute(
                "SELECT term, target FROM terms WHERE kind = 'term' AND instr(term, ?) > 0 ORDER BY term",
                (core,),
            )
        )

    def department_names(self) -> list[str]:
        """Every alias and department name, sorted (for completion)."""
        return [
            r[0]
            for r in self.con.execute(
                "SELECT alias FROM aliases UNION SELECT department FROM aliases ORDER BY 1"
            )
        ]

    def metric_names(self) -> list[str]:
        """Every metric a term names, sorted."""
        return [
            r[0] for r in self.con.execute("SELECT DISTINCT target FROM terms WHERE kind = 'term' ORDER BY 1")
        ]


def write_vocabulary(con: sqlite3.Connection) -> None:
    """Fill the ``terms`` table from the store's aliases and labels, and index reports by department
    (call after the last report is written)."""
    folded, terms = fold_vocabulary(_stored_aliases(con), con.execute("SELECT metric, label FROM labels"))
    con.executescript(_TERMS_SCHEMA)
    con.execute("DELETE FROM terms")
    con.executemany(
        "INSERT INTO terms VALUES (?, 'alias', ?, ?)",
        ((a, d, i) for a, depts in folded.items() for i, d in enumerate(depts)),
    )
    con.executemany("INSERT INTO terms VALUES (?, 'term', ?, 0)", terms.items())
    departments = {d for depts in folded.values() for d in depts}
    con.executemany(
        "INSERT INTO terms VALUES (?, 'dkey', ?, ?)",
        ((k, d, i) for k, depts in department_index(departments).items() for i, d in enumerate(depts)),
    )
    con.executemany(
        "INSERT INTO terms VALUES (?, 'tkey', ?, ?)",
        ((k, t, i) for k, ts in term_end_index(terms).items() for i, t in enumerate(ts)),
    )


def open_vocabulary(con: sqlite3.Connection) -> Vocabulary | StoreVocabulary:
    """The store's vocabulary: by SQL when the build wrote it, else built in memory."""
    if con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'terms'").fetchone():
        return StoreVocabulary(con)
    return Vocabulary.build(_stored_aliases(con), con.execute("SELECT metric, label FROM labels"))


def _stored_aliases(con: sqlite3.Connection) -> dict[str, list[str]]:
    """alias → departments, as the store's aliases table holds them (sorted, so the order is stable)."""
    aliases: dict[str, list[str]] = {}
    for alias, dept in con.execute("SELECT alias, department FROM aliases ORDER BY alias, department"):
        aliases.setdefault(alias, []).append(dept)
    return aliases
