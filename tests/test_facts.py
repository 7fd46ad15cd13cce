"""Facts extracted from the real corpus: exact values, the line (and PDF page) they are cited at,
every amount of the standard tables, and broken inputs in the corpus."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from conftest import CORPUS, write_config

from assistant.config import load_settings
from assistant.models import Fact
from assistant.store.db import load_reports, query_facts

DOC000 = "000_db59d6f0fba66678.txt"
DOC001 = "001_8ee0239607d3cbd9.txt"
DOC002 = "002_20041eb3cb8715ee.txt"
DOC003 = "003_d6208e3fa212963b.txt"
DOC004 = "004_a15be56197084065.txt"
PDF_GOV = "上海市普陀区人民政府办公室25年预算.pdf"
PDF_SOCIAL = "中共上海市普陀区委社会工作部 2024 年度部门决算.pdf"


def find_facts(
    con,
    doc: str,
    term: str,
    value: str,
    *,
    qualifier: str | None = None,
    unit: str | None = None,
    code: str | None = None,
) -> list[Fact]:
    """Facts of exactly ``doc`` whose metric or label contains ``term``, with Decimal ``value`` (and qualifier,
    unit, code when given)."""
    out = []
    for f in query_facts(con, doc=doc, metric=term, like=True):
        if f.doc != doc or f.value != Decimal(value):
            continue
        if qualifier is not None and f.qualifier != qualifier:
            continue
        if unit is not None and f.unit != unit:
            continue
        if code is not None and f.code != code:
            continue
        out.append(f)
    return out


def assert_fact(
    con,
    doc: str,
    term: str,
    value: str,
    *,
    line: int,
    page: int | None = None,
    qualifier: str | None = None,
    unit: str | None = None,
    code: str | None = None,
) -> Fact:
    """A fact with these properties exists and is cited at ``line`` (and ``page``)."""
    found = find_facts(con, doc, term, value, qualifier=qualifier, unit=unit, code=code)
    assert found, (
        f"no fact {term!r}={value} {unit or ''} qualifier={qualifier!r} in {doc}; have: "
        + "; ".join(
            f"{f.label}/{f.qualifier}={f.value}{f.unit}@{f.line}"
            for f in query_facts(con, doc=doc, metric=term, like=True)
            if f.doc == doc
        )[:1500]
    )
    at_line = [f for f in found if f.line == line]
    assert at_line, f"{term}={value} in {doc} cited at lines {[f.line for f in found]}, expected {line}"
    if page is not None:
        assert any(f.page == page for f in at_line), (
            f"{term}={value} pages {[f.page for f in at_line]} ≠ {page}"
        )
    # the cited line of a text file really holds the number
    if doc.endswith(".txt"):
        raw = (CORPUS / doc).read_text(encoding="utf-8").splitlines()[line - 1]
        assert Decimal(value) in amounts_in(raw) | ints_in(raw), (
            f"line {line} of {doc} lacks {value}: {raw!r}"
        )
    return at_line[0]


# ---------------------------------------------------------------------------- report metadata


@pytest.mark.parametrize(
    ("doc", "department", "year", "kind"),
    [
        (DOC000, "峨山彝族自治县医疗保障局", 2021, "决算"),
        (DOC001, "广元市昭化区医疗保障局", 2021, "决算"),
        (DOC002, "大城县医疗保障局", 2021, "预算"),
        (DOC003, "攀枝花市仁和区医疗保障局", 2020, "决算"),
        (DOC004, "固原市医疗保障局", 2020, "决算"),
        (PDF_GOV, "上海市普陀区人民政府办公室", 2025, "预算"),
        (PDF_SOCIAL, "中共上海市普陀区委社会工作部", 2024, "决算"),
    ],
)
def test_report_metadata(store, doc, department, year, kind):
    reports = {r.doc: r for r in load_reports(store)}
    assert doc in reports, sorted(reports)
    r = reports[doc]
    assert (r.department, r.year, r.kind) == (department, year, kind)


def test_all_seven_reports_indexed(store):
    assert len(load_reports(store)) == 7


# ---------------------------------------------------------------------------- exact facts


def test_000_income(store):
    assert_fact(store, DOC000, "一般公共预算财政拨款收入", "11598130.25", line=13, unit="元")


def test_000_sangong(store):
    assert_fact(store, DOC000, "三公经费", "5600.00", line=541, qualifier="预算数", unit="元")
    assert_fact(store, DOC000, "三公经费", "5406.00", line=541, qualifier="决算数", unit="元")


def test_000_reception_counts(store):
    assert_fact(store, DOC000, "国内公务接待批次", "6", line=569)
    assert_fact(store, DOC000, "国内公务接待人次", "85", line=573)


def test_000_basic_expenditure_items(store):
    assert_fact(store, DOC000, "办公费", "18786.97", line=384, unit="元", code="30201")
    assert_fact(store, DOC000, "住房公积金", "303038.00", line=404, unit="元", code="30113")


def test_004_totals(store):
    assert_fact(store, DOC004, "本年支出合计", "3470158.34", line=136, unit="元")
    assert_fact(store, DOC004, "卫生健康支出", "3320099.84", line=118, unit="元")


def test_004_informatisation_project(store):
    assert_fact(
        store, DOC004, "信息化建设", "1818019.76", line=195, qualifier="项目支出", unit="元", code="2101504"
    )
    assert_fact(
        store,
        DOC004,
        "信息化建设",
        "1818019.76",
        line=195,
        qualifier="本年支出合计",
        unit="元",
        code="2101504",
    )


def test_001_narrative(store):
    assert_fact(store, DOC001, "政府采购", "10.05", line=100, unit="万元")
    assert_fact(store, DOC001, "公务接待费", "0.45", line=80, unit="万元", qualifier="决算数")
    assert_fact(store, DOC001, "国内公务接待批次", "10", line=88, unit="批次")
    assert_fact(store, DOC001, "国内公务接待人次", "60", line=88, unit="人次")


def test_003_narrative(store):
    assert_fact(store, DOC003, "本年收入合计", "1592.01", line=151, unit="万元")
    assert_fact(store, DOC003, "政府性基金预算财政拨款收入", "199.28", line=154, unit="万元")
    assert_fact(store, DOC003, "公务接待费", "0.25", line=353, unit="万元", qualifier="决算数")
    assert_fact(store, DOC003, "公务接待费", "0.24", line=414, unit="万元", qualifier="比上年增减")


def test_002_budget(store):
    assert_fact(store, DOC002, "收入", "6325.23", line=65, unit="万元", qualifier="预算数")
    assert_fact(store, DOC002, "三公经费", "6", line=94, unit="万元", qualifier="预算数")


def test_gov_pdf(store):
    assert_fact(store, PDF_GOV, "收入总计", "91016775.35", line=103, page=8, unit="元")
    assert_fact(
        store,
        PDF_GOV,
        "行政运行",
        "12029501.84",
        line=139,
        page=11,
        unit="元",
        code="2010301",
        qualifier="本年支出合计",
    )
    assert_fact(
        store,
        PDF_GOV,
        "行政运行",
        "11919501.84",
        line=139,
        page=11,
        unit="元",
        code="2010301",
        qualifier="基本支出",
    )
    assert_fact(
        store,
        PDF_GOV,
        "行政运行",
        "110000.00",
        line=139,
        page=11,
        unit="元",
        code="2010301",
        qualifier="项目支出",
    )
    assert_fact(store, PDF_GOV, "三公经费", "867.50", line=261, page=21, unit="万元", qualifier="预算数")
    assert_fact(store, PDF_GOV, "机关运行经费", "213.28", line=267, page=21, unit="万元", qualifier="预算数")


def test_social_pdf(store):
    assert_fact(store, PDF_SOCIAL, "本年收入合计", "307.82", line=83, page=5, unit="万元", qualifier="决算数")
    assert_fact(
        store,
        PDF_SOCIAL,
        "行政运行",
        "51.32",
        line=126,
        page=8,
        unit="万元",
        code="2013901",
        qualifier="本年支出合计",
    )
    assert_fact(
        store,
        PDF_SOCIAL,
        "机关事业单位基本养老保险缴费支出",
        "6.18",
        line=132,
        page=8,
        unit="万元",
        code="2080505",
        qualifier="本年支出合计",
    )


def test_every_fact_cites_a_line_holding_its_value(store):
    """For text files: each table fact's cited line contains the number (as written, any formatting)."""
    bad = []
    for doc in (DOC000, DOC004):
        lines = (CORPUS / doc).read_text(encoding="utf-8").splitlines()
        for f in query_facts(store, doc=doc):
            if f.source != "table" or f.doc != doc:
                continue
            span = lines[f.line - 1 : (f.line_end or f.line)]
            vals = set().union(*(amounts_in(s) | ints_in(s) for s in span))
            if f.value not in vals and f.value != 0:
                bad.append(f"{doc}:{f.line} {f.label}/{f.qualifier}={f.value}")
    assert not bad, bad[:20]


# ---------------------------------------------------------------------------- row walking

AMOUNT = re.compile(r"(?<![\d.,])(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+)(?![\d.,]*\d)")
INT = re.compile(r"(?<![\d.,])\d+(?![\d.,]*\d)")


def amounts_in(line: str) -> set[Decimal]:
    """Amounts with a decimal point or thousands separators (not 行次/栏次/codes)."""
    return {Decimal(m.group().replace(",", "")) for m in AMOUNT.finditer(line)}


def ints_in(line: str) -> set[Decimal]:
    return {Decimal(m.group()) for m in INT.finditer(line)}


def _walk(store, doc: str, first: int, last: int) -> list[str]:
    lines = (CORPUS / doc).read_text(encoding="utf-8").splitlines()
    facts = [f for f in query_facts(store, doc=doc) if f.doc == doc]
    by_line: dict[int, set[Decimal]] = {}
    for f in facts:
        for n in range(f.line, (f.line_end or f.line) + 1):
            by_line.setdefault(n, set()).add(f.value)
    missing = []
    for n in range(first, last + 1):
        for amount in sorted(amounts_in(lines[n - 1])):
            if amount not in by_line.get(n, set()):
                missing.append(f"line {n}: {amount} not a fact ({lines[n - 1].strip()[:80]!r})")
    return missing


def test_row_walk_000_table01(store):
    missing = _walk(store, DOC000, 2, 71)
    assert not missing, "\n".join(missing)


def test_row_walk_004_tables01_06(store):
    text = (CORPUS / DOC004).read_text(encoding="utf-8").splitlines()
    first = next(i for i, s in enumerate(text, 1) if s.strip() == "收入支出决算总表")
    last = (
        next(
            i for i, s in enumerate(text, 1) if "三公" in s and s.strip().endswith("支出决算表") and i > first
        )
        - 1
    )
    assert (first, last) == (100, 322)
    missing = _walk(store, DOC004, first, last)
    assert not missing, f"{len(missing)} amounts missing:\n" + "\n".join(missing)


# ---------------------------------------------------------------------------- broken inputs


@pytest.fixture(scope="module")
def bad_corpus_build(tmp_path_factory):
    from assistant.store.build import build_index

    tmp = tmp_path_factory.mktemp("badcorpus")
    corpus = tmp / "corpus"
    corpus.mkdir()
    good = (CORPUS / DOC000).read_bytes()
    (corpus / DOC000).write_bytes(good)
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "junk.txt").write_bytes(bytes(range(256)) * 40 + b"\x00\x00\xff\xfe" * 100)
    (corpus / "gbk_copy.txt").write_bytes(good.decode("utf-8").encode("gb18030"))
    (corpus / "truncated.pdf").write_bytes((CORPUS / PDF_GOV).read_bytes()[:4096])
    cfg = write_config(tmp, [corpus], tmp / "index")
    settings = load_settings(cfg)
    result = build_index(settings, embed=False, log=lambda *a: None)  # must not raise
    from assistant.store.db import open_store

    con = open_store(settings.index_dir)
    yield result, con
    con.close()


def test_bad_files_are_skipped_with_reasons(bad_corpus_build):
    result, _ = bad_corpus_build
    skipped = dict(result.skipped)
    for name in ("empty.txt", "junk.txt", "truncated.pdf"):
        assert name in skipped, f"{name} not skipped; skipped={result.skipped}, indexed={result.indexed}"
        assert skipped[name].strip(), f"{name} skipped without a reason"
    assert DOC000 in result.indexed
    assert "gbk_copy.txt" in result.indexed, result.skipped


def test_good_file_facts_survive_bad_neighbours(bad_corpus_build):
    _, con = bad_corpus_build
    assert_fact(con, DOC000, "一般公共预算财政拨款收入", "11598130.25", line=13, unit="元")
    assert_fact(con, DOC000, "三公经费", "5406.00", line=541, qualifier="决算数", unit="元")


def test_gbk_copy_has_the_same_facts(bad_corpus_build):
    _, con = bad_corpus_build
    utf8 = {(f.metric, f.qualifier, f.value) for f in query_facts(con, doc=DOC000) if f.doc == DOC000}
    gbk = {(f.metric, f.qualifier, f.value) for f in query_facts(con, doc="gbk_copy.txt")}
    assert utf8, "no facts from the UTF-8 file"
    assert gbk == utf8, (
        f"only utf8: {sorted(utf8 - gbk, key=str)[:10]}; only gbk: {sorted(gbk - utf8, key=str)[:10]}"
    )
