"""Report metadata detected from content, and department aliases."""

from pathlib import Path

import pytest

from assistant.ingest.loaders import load_document
from assistant.ingest.metadata import department_aliases, detect_metadata
from assistant.models import Document, SourceLine

CORPUS = Path(__file__).resolve().parent.parent / "corpus"

EXPECTED = {
    "000_db59d6f0fba66678.txt": ("峨山彝族自治县医疗保障局", 2021, "决算"),
    # the report names itself 广元市昭化区医疗保障局 (资金使用单位); prose says 昭化区医疗保障局
    "001_8ee0239607d3cbd9.txt": ("广元市昭化区医疗保障局", 2021, "决算"),
    "002_20041eb3cb8715ee.txt": ("大城县医疗保障局", 2021, "预算"),
    # 预算单位 攀枝花市仁和区医疗保障局 in every table
    "003_d6208e3fa212963b.txt": ("攀枝花市仁和区医疗保障局", 2020, "决算"),
    "004_a15be56197084065.txt": ("固原市医疗保障局", 2020, "决算"),
    "上海市普陀区人民政府办公室25年预算.pdf": ("上海市普陀区人民政府办公室", 2025, "预算"),
    "中共上海市普陀区委社会工作部 2024 年度部门决算.pdf": ("中共上海市普陀区委社会工作部", 2024, "决算"),
}

TITLES = {
    "002_20041eb3cb8715ee.txt": "大城县医疗保障局 2021 年部门预算信息公开情况说明",
    "004_a15be56197084065.txt": "固原市医疗保障局 部门决算(2020 年度)",
    "上海市普陀区人民政府办公室25年预算.pdf": "上海市普陀区2025年区级部门预算",
    "中共上海市普陀区委社会工作部 2024 年度部门决算.pdf": "中共上海市普陀区委社会工作部 2024 年度部门决算",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_metadata(name: str) -> None:
    doc = load_document(CORPUS / name)
    report = detect_metadata(doc)
    assert (report.department, report.year, report.kind) == EXPECTED[name]
    assert report.doc == name and report.sha256 == doc.sha256
    assert report.title
    if name in TITLES:
        assert report.title == TITLES[name]
        assert report.warnings == []
    assert report.department is not None
    assert report.aliases == department_aliases(report.department)


def test_short_names_are_aliases_of_full_names() -> None:
    assert "昭化区医疗保障局" in department_aliases("广元市昭化区医疗保障局")
    assert "仁和区医疗保障局" in department_aliases("攀枝花市仁和区医疗保障局")
    assert "仁和区医保局" in department_aliases("攀枝花市仁和区医疗保障局")


def test_metadata_not_from_file_name(tmp_path) -> None:
    p = tmp_path / "固原市医疗保障局2020决算.txt"
    p.write_text("一些与报告无关的文字\n第二行\n", encoding="utf-8")
    report = detect_metadata(load_document(p))
    assert report.department is None and report.year is None and report.kind is None
    assert any("department" in w for w in report.warnings)
    assert any("year" in w for w in report.warnings)
    assert any("kind" in w for w in report.warnings)


def test_frequency_fallback_and_comparison_year() -> None:
    texts = [
        "第一部分 概况",
        "某某市财政局是市政府工作部门。",
        "2023年，某某市财政局支出决算比2022年增加10万元。",
        "某某市财政局2023年度决算情况说明",
    ]
    doc = Document(
        doc="x.txt",
        path="x.txt",
        sha256="0" * 64,
        filetype="txt",
        lines=[SourceLine(line=i, text=t, raw=t) for i, t in enumerate(texts, 1)],
    )
    report = detect_metadata(doc)
    assert report.department == "某某市财政局"
    assert report.year == 2023
    assert report.kind == "决算"


@pytest.mark.parametrize(
    ("name", "must"),
    [
        ("峨山彝族自治县医疗保障局", ["峨山县医疗保障局", "峨山县医保局", "峨山医保局", "峨山"]),
        ("上海市普陀区人民政府办公室", ["普陀区人民政府办公室", "普陀区政府办", "区政府办", "政府办"]),
        (
            "中共上海市普陀区委社会工作部",
            ["普陀区委社会工作部", "普陀区社工部", "区社工部", "社会工作部", "社工部"],
        ),
        ("固原市医疗保障局", ["固原市医保局", "固原医保局", "固原"]),
        ("仁和区医疗保障局", ["仁和区医保局", "仁和区", "仁和"]),
        ("大城县医疗保障局", ["大城县医保局", "大城医保局", "大城"]),
        ("某某县卫生健康局", ["某某县卫健局", "卫健局"]),
        ("某某市人力资源和社会保障局", ["某某市人社局", "人社局"]),
        ("双江拉祜族佤族布朗族傣族自治县教育局", ["双江县教育局", "双江"]),
    ],
)
def test_aliases(name: str, must: list[str]) -> None:
    aliases = department_aliases(name)
    for a in must:
        assert a in aliases, (name, a, aliases)
    assert name not in aliases
    assert all(a for a in aliases)
    assert len(set(aliases)) == len(aliases)
    assert aliases == sorted(aliases, key=lambda a: (-len(a), a))
    assert department_aliases(name) == aliases  # deterministic


def test_aliases_no_broken_forms() -> None:
    aliases = department_aliases("峨山彝族自治县医疗保障局")
    assert not any(a.endswith("自治") or "自治医保" in a for a in aliases)
    assert department_aliases("") == []
