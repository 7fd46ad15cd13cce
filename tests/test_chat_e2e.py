"""The REPL driven end to end through prompt-toolkit's pipe input, on the real engine and corpus."""

from __future__ import annotations

from assistant.repl.app import drive_chat


def test_question_followup_sources_use_docs(engine) -> None:
    keys = (
        "峨山县医保局2021年三公经费多少\r"
        "其中公务接待费呢？\r"
        ":sources\r"
        ":use 固原市医保局\r"
        "2020年基本工资支出多少元\r"
        ":docs\r"
        "\x04"
    )
    out = drive_chat(engine, keys, width=200)
    assert "5,406.00元" in out  # 三公经费 决算数
    assert "5,600.00元" in out  # its 预算数
    assert "公务接待费" in out
    assert "000_db59d6f0fba66678.txt" in out  # :sources names the file
    assert "390,223.00元" in out  # pinned 固原市医疗保障局, 基本工资
    assert "上海市普陀区人民政府办公室" in out and "2025" in out  # :docs lists the reports
