"""`assistant audit` on the unmodified corpus: the reports' own inconsistencies (each verified by hand
against the file) and nothing else; rounding as info; the command's output and exit codes; :audit."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from assistant.audit import RULES, audit_document
from assistant.audit.amounts import agreement, sum_agreement
from assistant.audit.context import AuditContext
from assistant.ingest.loaders import load_document
from assistant.interfaces.cli import main

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
DOCS = sorted(p.name for p in CORPUS.iterdir() if not p.name.startswith("."))
D001, D003, D004 = "001_8ee0239607d3cbd9.txt", "003_d6208e3fa212963b.txt", "004_a15be56197084065.txt"

# Every error-severity finding of the corpus, checked against the files by hand.
REAL_ERRORS: dict[str, list[tuple[str, int]]] = {
    # A 2021 决算 that counts its cars "截至2020年12月底" (line 102 says 截至2021年12月31日).
    # "机关运行经费支出125.58元，比2020年增加9.59万元，增长12.46%": 125.58元 less 9.59万元 is negative (元 for
    # 万元), and no reading of the unit gives 12.46%.
    D001: [("report.year", 85), ("narrative.change", 98)],
    # "25.33 万元，比 2019 年增加 8.65 万元，下降 51.84%": an increase of 8.65 on 16.68 is +51.86%, not 下降.
    # "《XX 部门 2020 年部门整体支出绩效评价报告》": the placeholder was never replaced.
    D003: [("narrative.change", 444), ("report.department", 1325)],
    D004: [
        # 公开05表: 210 卫生健康支出 3,320,099.84 (基本 1,308,016.96) but 21011 + 21015 = 1,308,016.96 (基本
        # 73,396.33); 21015 医疗保障管理事务 states 1,234,620.63 (its 行政运行 child), its children add up
        # to 3,246,703.51 and its own columns to 2,012,082.88; 2101501 行政运行 1,234,620.63 = 0.00 + 0.00.
        ("table.identity", 265),
        ("table.identity", 265),
        ("table.identity", 268),
        ("table.identity", 268),
        ("table.identity", 269),
        # 公开06表: 301 工资福利支出 1,292,095.92 but its items add up to 1,289,095.92; 303 对个人和家庭的补助
        # 3,000.00 with every item blank; so 合计 1,420,085.06 ≠ 301 + 302 + 303 = 1,423,085.06.
        # 公开06表 leaves 310 资本性支出 blank (on line 285); the prose of the same section says 资本性支出94,651元.
        ("table.identity", 285),
        ("narrative.blank_cell", 285),
        ("table.identity", 299),
        ("table.identity", 319),
        # "一般公共预算财政拨款基本支出3,470,158.34元，其中：人员经费，1,321,478.92元，公用经费2,051,038.92元":
        # the tables say 基本支出 1,420,085.06, 人员经费 1,292,095.92, 公用经费 127,989.14 (the prose gives
        # the whole spending as 基本支出), and so do its 工资福利支出 / 商品和服务支出 sentences.
        ("narrative.amount", 397),
        ("narrative.amount", 397),
        ("narrative.amount", 397),
        ("narrative.amount", 399),
        ("narrative.amount", 401),
    ],
}


@pytest.fixture(scope="module")
def findings() -> dict[str, list]:
    return {name: audit_document(load_document(CORPUS / name)) for name in DOCS}


@pytest.mark.parametrize("name", DOCS)
def test_errors_are_the_reports_own(findings, name: str) -> None:
    errors = [(f.rule, f.line) for f in findings[name] if f.severity == "error"]
    assert errors == REAL_ERRORS.get(name, [])


def test_the_two_pdfs_pass_every_table_identity(findings) -> None:
    pdfs = [n for n in DOCS if n.endswith(".pdf")]
    assert len(pdfs) == 2
    assert [f for n in pdfs for f in findings[n] if f.rule.startswith("table.")] == []
    for name in pdfs:  # and the parser's own checks (the facts' check_failed flag) agree
        ctx = AuditContext.from_document(load_document(CORPUS / name))
        assert len(ctx.tables) == 9 and [t.failed_checks for t in ctx.tables] == [[]] * 9
        assert not any("check_failed" in f.flags for f in ctx.facts)


def test_findings_name_both_sides(findings) -> None:
    f = next(f for f in findings[D004] if f.rule == "narrative.amount" and "人员经费" in f.message)
    assert f.line == 397 and f.doc == D004
    assert [(v.value, v.line) for v in f.values] == [("1321478.92", 397), ("1292095.92", 318)]
    assert "1,321,478.92" in f.snippet


def test_typography_is_info(findings) -> None:
    infos = {(n[:3], f.line) for n in DOCS for f in findings[n] if f.rule == "typography"}
    # 000: “三公“经费 (a wrong quote); 003: "调整预算数；。" and "事业单位）" without its "（".
    assert infos == {("000", 653), ("003", 300), ("003", 1385)}
    assert all(f.severity == "info" for n in DOCS for f in findings[n] if f.rule == "typography")


def test_rounding_of_yuan_into_wan_is_info_not_error() -> None:
    assert agreement(Decimal("0.45"), "万元", Decimal("4523.00"), "元") == "same"
    assert agreement(Decimal("307.83"), "万元", Decimal("307.82"), "万元") == "rounding"
    assert (
        agreement(Decimal("307.83"), "万元", Decimal("3078210.00"), "元") == "rounding"
    )  # 307.82 rounded up
    assert agreement(Decimal("307.83"), "万元", Decimal("3078150.00"), "元") == "different"
    assert agreement(Decimal("307.85"), "万元", Decimal("307.82"), "万元") == "different"
    assert agreement(Decimal("1321478.92"), "元", Decimal("1292095.92"), "元") == "different"
    assert sum_agreement(Decimal("10.82"), Decimal("10.83"), 2, "万元") == "same"  # the 0.01 tolerance
    assert sum_agreement(Decimal("10.82"), Decimal("10.84"), 4, "万元") == "rounding"
    assert sum_agreement(Decimal("10.82"), Decimal("10.84"), 2, "万元") == "different"
    assert sum_agreement(Decimal("10.82"), Decimal("10.84"), 4, "元") == "different"


def test_rules_table_lists_every_rule(capsys) -> None:
    assert main(["audit", "--rules"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == [r.id for r in RULES]
    assert all(r.doc for r in RULES)


def test_cli_json_lines_and_exit_codes(capsys) -> None:
    assert main(["audit", "--doc", D004, "--json", "--severity", "error"]) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == len(REAL_ERRORS[D004])
    assert set(rows[0]) == {"rule", "severity", "doc", "page", "line", "message", "values", "snippet"}
    assert all(r["doc"] == D004 and r["severity"] == "error" for r in rows)
    assert main(["audit", "--doc", "上海市普陀区人民政府办公室"]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("1 份报告：0 处错误，0 处警告，0 处提示")


def test_cli_usage_errors_are_one_line(capsys, tmp_path) -> None:
    assert main(["audit", "--doc", "no-such-report"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-report" in err
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"not a pdf")
    assert main(["audit", "--doc", str(bad)]) == 2
    assert "broken.pdf" in capsys.readouterr().err


class _Engine:
    """What :audit needs of the engine: the reports (with their paths) and department names."""

    def __init__(self) -> None:
        from assistant.ingest.metadata import detect_metadata

        self._reports = [detect_metadata(load_document(CORPUS / n)) for n in (D001, D004)]

    def reports(self):
        return self._reports

    def department_names(self) -> list[str]:
        return [r.department for r in self._reports if r.department]

    def metric_names(self) -> list[str]:
        return []


def test_repl_audit_command() -> None:
    from assistant.repl.app import drive_chat

    out = drive_chat(_Engine(), ":audit 固原\r:audit\r:audit 不存在的局\r")
    first = out[: out.index("1 份报告")]
    assert "004_a15be56197084065.txt 第397行" in first and "narrative.amount" in first
    assert "001_8ee0239607d3cbd9.txt" not in first
    assert f"2 份报告：{len(REAL_ERRORS[D001]) + len(REAL_ERRORS[D004])} 处错误" in out
    assert "没有找到报告“不存在的局”" in out


def test_a_changed_total_is_found_by_the_table_that_disagrees() -> None:
    # 收支总表 本年支出合计 3470158.34 → 3470159.34: 支出表's 合计 (line 182) no longer agrees with it.
    doc = load_document(CORPUS / D004)
    lines = [
        ln.model_copy(
            update={
                "raw": ln.raw.replace("3470158.34", "3470159.34"),
                "text": ln.text.replace("3470158.34", "3470159.34"),
            }
        )
        if ln.line == 136
        else ln
        for ln in doc.lines
    ]
    assert "3470159.34" in lines[135].raw
    before = {(f.rule, f.line, f.message) for f in audit_document(doc)}
    new = [
        (f.rule, f.line)
        for f in audit_document(doc.model_copy(update={"lines": lines}))
        if (f.rule, f.line, f.message) not in before
    ]
    assert new == [("table.cross", 182)]


def test_a_sum_broken_only_by_a_blank_cell_is_the_blank_cells_finding() -> None:
    from assistant.audit.findings import Finding, FindingValue
    from assistant.audit.rules import _one_per_figure

    def value(label: str, v: str | None, line: int, unit: str = "元") -> FindingValue:
        return FindingValue(label=label, value=v, unit=unit, line=line)

    blank = Finding(
        rule="narrative.blank_cell",
        severity="error",
        doc="d",
        line=12,
        message="blank",
        values=[
            value("302 商品和服务支出（决算数）", None, 12),
            value("正文 商品和服务支出", "0.06", 40, "万元"),
        ],
    )

    def identity(total: str) -> Finding:
        return Finding(
            rule="table.identity",
            severity="error",
            doc="d",
            line=10,
            message=f"sum {total}",
            values=[
                value("合计（决算数）", total, 10),
                value("301 工资福利支出（决算数）", "400.00", 11),
                value("302 商品和服务支出（决算数）", None, 12),
            ],
        )

    assert _one_per_figure([identity("1000.00"), blank]) == [blank]  # 400 + 600 (0.06万元) = 1000
    assert _one_per_figure([identity("1200.00"), blank]) == [identity("1200.00"), blank]


def test_another_places_department_in_a_title() -> None:
    doc = load_document(CORPUS / "002_20041eb3cb8715ee.txt")
    line = next(ln for ln in doc.lines if ln.line == 7)
    raw = line.raw.replace("大城县医疗保障局", "峨山彝族自治县医疗保障局")
    planted = doc.model_copy(
        update={
            "lines": [
                line.model_copy(update={"raw": raw, "text": raw}) if ln.line == 7 else ln for ln in doc.lines
            ]
        }
    )
    new = [(f.rule, f.line, f.message) for f in audit_document(planted)]
    assert new == [
        ("report.department", 7, "「峨山彝族自治县医疗保障局」不是本报告的部门「大城县医疗保障局」")
    ]
