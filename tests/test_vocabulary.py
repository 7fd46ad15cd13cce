"""The stored vocabulary (table ``terms``, looked up by SQL) understands questions exactly as the
in-memory one built from the same store, and opening it loads nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from assistant.answer.understand import understand
from assistant.store.manifest import DB_NAME
from assistant.store.vocabulary import StoreVocabulary, Vocabulary, fold, open_vocabulary, write_vocabulary

REPO = Path(__file__).resolve().parent.parent
EXTRA = [
    "峨山县医保局2021年三公经费多少",
    "其中公务接待费呢？",
    "那2020年呢",
    "固原市医保局呢？",
    "五个医保局哪个本年支出合计最多",
    "昭化区医保局基本支出占本年支出合计的比例",
    "其中政府性基金呢",
    "峨山医保局有几辆车",
    "普陀区政府办2025年三公经费预算",
    "教育局2021年三公经费",
    "ＡＢＣ２０２１年",
    "仁和区医保局城乡医疗救助支出多少",
    "2010301行政运行是多少",
    "卫生健康支出",
]


@pytest.fixture(scope="module")
def vocabularies(built_settings, tmp_path_factory) -> tuple[Vocabulary, StoreVocabulary, sqlite3.Connection]:
    tmp = tmp_path_factory.mktemp("vocab") / DB_NAME
    shutil.copy(built_settings.index_dir / DB_NAME, tmp)
    con = sqlite3.connect(tmp)
    write_vocabulary(con)
    con.commit()
    aliases: dict[str, list[str]] = {}
    for alias, dept in con.execute("SELECT alias, department FROM aliases ORDER BY alias, department"):
        aliases.setdefault(alias, []).append(dept)
    memory = Vocabulary.build(aliases, list(con.execute("SELECT metric, label FROM labels")))
    return memory, StoreVocabulary(con), con


def questions() -> list[str]:
    lines = (REPO / "tests" / "qa" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    return [i["question"] for i in items] + [c for i in items for c in i.get("context", [])] + EXTRA


def test_store_vocabulary_understands_like_the_in_memory_one(vocabularies) -> None:
    memory, stored, _ = vocabularies
    qs = questions()
    assert len(qs) > 50
    for q in qs:
        assert understand(q, stored) == understand(q, memory), q


def test_store_vocabulary_lookups(vocabularies) -> None:
    memory, stored, _ = vocabularies
    q = fold("峨山县医保局2021年三公经费多少")
    assert stored.aliases_in(q) == memory.aliases_in(q)
    assert stored.aliases_in(q)["峨山县医保局"] == ["峨山彝族自治县医疗保障局"]
    assert stored.terms_in(q)["三公经费"] == "三公经费"
    assert sorted(stored.terms_containing("政府性基金")) == sorted(memory.terms_containing("政府性基金"))
    assert stored.terms_containing("政府性基金")
    assert stored.department_names() == memory.department_names()
    assert stored.metric_names() == memory.metric_names()
    assert stored.aliases_in(fold("今天天气怎么样")) == {}


def test_open_vocabulary_prefers_the_table(vocabularies, built_settings) -> None:
    _, _, con = vocabularies
    assert isinstance(open_vocabulary(con), StoreVocabulary)
    # A store written before the table existed still works, in memory.
    old = sqlite3.connect(f"file:{built_settings.index_dir / DB_NAME}?mode=ro", uri=True)
    if old.execute("SELECT 1 FROM sqlite_master WHERE name = 'terms'").fetchone() is None:
        assert isinstance(open_vocabulary(old), Vocabulary)
    # Reports are indexed by department: a lookup by department does not scan every report's JSON.
    plan = " ".join(
        str(r)
        for r in con.execute(
            "EXPLAIN QUERY PLAN SELECT json FROM reports WHERE json_extract(json, '$.department') IN (?)",
            ("x",),
        )
    )
    assert "reports_by_department" in plan


def test_generic_row_labels_are_not_metric_names(vocabularies) -> None:
    memory, stored, _ = vocabularies
    for word in ("合计", "小计", "总计"):
        assert word not in memory.term_index
        assert stored.terms_in(word) == {}
    # …so 合计 in a question still asks for a sum.
    q = understand("区社工部2024年工资福利支出和商品和服务支出合计", stored)
    assert q.operation == "sum" and q.metric_terms[:2] == ["工资福利支出", "商品和服务支出"]


def test_a_built_index_is_opened_without_loading_names(built_settings) -> None:
    from assistant.answer.engine import Engine

    # The build wrote the terms table: the engine looks names up, it does not load them.
    engine = Engine(built_settings)
    assert isinstance(engine.vocab, StoreVocabulary)
    assert engine.catalog._all is None and engine.catalog._by_doc == {}
    engine.ask("峨山县医保局2021年三公经费多少")
    assert engine.catalog._all is None  # one department's question loaded one department's reports
    assert len(engine.reports()) == 7
