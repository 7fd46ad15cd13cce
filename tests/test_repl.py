"""The `assistant chat` REPL driven through a pipe input against a fake engine."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory
from rich.cells import cell_len

from assistant.answer.session import Session
from assistant.config import ReplSettings, Settings
from assistant.models import Answer, AnswerValue, Citation, Fact, Report, ValueCitation
from assistant.repl.app import drive_chat, history_for
from assistant.repl.commands import COMMANDS, resolve_department, split_command
from assistant.repl.completer import ReportCompleter
from assistant.repl.render import format_number, make_console, shorten
from assistant.repl.toolbar import toolbar_text

EMSHAN = "峨山彝族自治县医疗保障局"
ZHAOHUA = "广元市昭化区医疗保障局"
DOC0 = "000_db59d6f0fba66678.txt"
DOC1 = "001_8ee0239607d3cbd9.txt"
SNIPPET = "（一）支出合计 2 5,600.00 5,406.00 [决算数]"


def vc(doc: str = DOC0, line: int = 612, page: int | None = 3, snippet: str = SNIPPET) -> ValueCitation:
    return ValueCitation(doc=doc, line=line, page=page, snippet=snippet)


class FakeEngine:
    """Canned answers; records every call so tests can see sessions and what was loaded."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.sessions: list[Session] = []  # snapshots, as each question found its session

    def ask(self, question: str, session: Session | None = None) -> Answer:
        self.calls.append("ask")
        assert session is not None
        self.sessions.append(copy.deepcopy(session))
        if question == "崩溃":
            raise RuntimeError("boom")
        if "三公经费是多少" in question:
            session.departments, session.year, session.metric = [EMSHAN], 2021, "三公经费"
            return Answer(
                question=question,
                kind="lookup",
                text=f"{EMSHAN}2021年“三公”经费支出决算数为5,406.00元（预算数5,600.00元）。",
                values=[
                    AnswerValue(
                        value="5406.00",
                        unit="元",
                        metric="三公经费",
                        qualifier="决算数",
                        department=EMSHAN,
                        year=2021,
                        citation=vc(),
                    )
                ],
                citations=[
                    Citation(doc=DOC0, line_start=612, line_end=613, page=3, snippet=SNIPPET + "\n第二行")
                ],
            )
        if question == "其中公务接待费呢？":
            dept = session.pinned_department or (session.departments[0] if session.departments else "？")
            return Answer(
                question=question,
                kind="lookup",
                text=f"{dept}公务接待费5,406.00元。",
                values=[
                    AnswerValue(
                        value="5406.00",
                        unit="元",
                        metric="公务接待费",
                        department=dept,
                        year=session.year,
                        citation=vc(line=640, snippet="公务接待费 5,406.00"),
                    )
                ],
            )
        if question == "执行率":
            return Answer(
                question=question,
                kind="computed",
                text="执行率96.54%。",
                values=[AnswerValue(value="96.54", unit="%", metric="预算执行率", citation=vc())],
                derivation=["5,406.00 / 5,600.00 × 100 = 96.54%"],
            )
        if question == "各局三公经费":
            return Answer(
                question=question,
                kind="lookup",
                text="两个局的三公经费：",
                values=[
                    AnswerValue(
                        value="5406.00",
                        unit="元",
                        metric="三公经费",
                        department=EMSHAN,
                        year=2021,
                        citation=vc(),
                    ),
                    AnswerValue(
                        value="12345678.9",
                        unit="元",
                        metric="三公经费",
                        department=ZHAOHUA,
                        year=2021,
                        citation=vc(doc=DOC1, line=88),
                        flags=["conflict"],
                    ),
                ],
            )
        return Answer(question=question, kind="not_found", text=f"没有找到：{question}")

    def reports(self) -> list[Report]:
        self.calls.append("reports")
        return [
            Report(
                doc=DOC1,
                path=f"corpus/{DOC1}",
                sha256="b",
                department=ZHAOHUA,
                aliases=["昭化区医保局"],
                year=2021,
                kind="决算",
            ),
            Report(
                doc=DOC0,
                path=f"corpus/{DOC0}",
                sha256="a",
                department=EMSHAN,
                aliases=["峨山县医保局", "峨山医保局"],
                year=2021,
                kind="决算",
            ),
        ]

    def facts(self, metric: str | None = None, doc: str | None = None, year: int | None = None) -> list[Fact]:
        self.calls.append("facts")
        rows = [
            Fact(
                doc=DOC0,
                department=EMSHAN,
                year=2021,
                kind="决算",
                metric="三公经费",
                label="支出合计",
                qualifier="决算数",
                value=Decimal("5406.00"),
                unit="元",
                source="table",
                line=612,
                page=3,
                snippet=SNIPPET,
            ),
            Fact(
                doc=DOC1,
                department=ZHAOHUA,
                year=2021,
                kind="决算",
                metric="三公经费",
                label="三公经费",
                qualifier="决算数",
                value=Decimal("0.45"),
                unit="万元",
                source="narrative",
                line=90,
                snippet="三公经费0.45万元",
                flags=["conflict"],
            ),
        ]
        return [
            f for f in rows if (metric is None or f.metric == metric) and (year is None or f.year == year)
        ]

    def department_names(self) -> list[str]:
        self.calls.append("department_names")
        return [EMSHAN, "峨山县医保局", "峨山医保局", ZHAOHUA, "昭化区医保局"]

    def metric_names(self) -> list[str]:
        self.calls.append("metric_names")
        return ["三公经费", "公务接待费", "基本支出"]


def chat(engine: FakeEngine, *lines: str) -> str:
    """Type each line followed by Enter; the input then ends (like Ctrl-D)."""
    return drive_chat(engine, "".join(line + "\r" for line in lines))


# --- questions ----------------------------------------------------------------------------------
def test_question_prints_answer_then_citation() -> None:
    out = chat(FakeEngine(), "峨山县医保局2021年三公经费是多少")
    answer_at = out.index("“三公”经费支出决算数为5,406.00元")
    cite_at = out.index(f"↳ {DOC0} 第3页 第612–613行")
    assert answer_at < cite_at
    assert "[决算数]" in out  # report text is printed literally, never as rich markup


def test_follow_up_uses_the_session() -> None:
    engine = FakeEngine()
    out = chat(engine, "峨山县医保局2021年三公经费是多少", "其中公务接待费呢？")
    assert f"{EMSHAN}公务接待费5,406.00元" in out
    assert engine.sessions[1].departments == [EMSHAN] and engine.sessions[1].year == 2021
    assert engine.sessions[1].last_answer is not None


def test_multi_value_answer_is_an_aligned_table() -> None:
    out = chat(FakeEngine(), "各局三公经费")
    rows = [line for line in out.splitlines() if "三公经费" in line and "元" in line and "：" not in line]
    assert len(rows) == 2
    assert "5,406.00" in rows[0] and "12,345,678.9" in rows[1] and "conflict" in rows[1]
    # the value column is right-aligned in terminal cells, CJK department names notwithstanding
    ends = [
        cell_len(r[: r.index(v) + len(v)]) for r, v in zip(rows, ["5,406.00", "12,345,678.9"], strict=True)
    ]
    assert ends[0] == ends[1]


def test_not_found_and_engine_error_keep_the_session_going() -> None:
    out = chat(FakeEngine(), "崩溃", "别的问题")
    assert "出错了：RuntimeError: boom" in out
    assert "没有找到：别的问题" in out


# --- meta-commands --------------------------------------------------------------------------------
def test_sources_shows_full_provenance() -> None:
    out = chat(FakeEngine(), ":sources", "峨山县医保局2021年三公经费是多少", "执行率", ":sources")
    assert "还没有回答" in out
    tail = out[out.rindex("问题：执行率") :]
    assert "预算执行率 = 96.54%" in tail
    assert f"{DOC0} 第3页 第612行" in tail and SNIPPET in tail
    assert "推导" in tail and "5,406.00 / 5,600.00 × 100 = 96.54%" in tail


def test_sources_lists_passages_line_by_line() -> None:
    out = chat(FakeEngine(), "峨山县医保局2021年三公经费是多少", ":src")
    tail = out[out.index("问题：") :]
    assert "三公经费（决算数） = 5,406.00元" in tail
    assert f"1. {DOC0} 第3页 第612–613行" in tail
    assert "     第二行" in tail


def test_use_pins_canonical_department() -> None:
    engine = FakeEngine()
    out = chat(engine, ":use 峨山县医保局", "其中公务接待费呢？", ":use", "其中公务接待费呢？")
    assert f"已固定部门：{EMSHAN}" in out
    assert engine.sessions[0].pinned_department == EMSHAN
    assert f"{EMSHAN}公务接待费" in out
    assert "已取消固定部门" in out
    assert engine.sessions[1].pinned_department is None


def test_use_partial_and_ambiguous_names() -> None:
    engine = FakeEngine()
    assert resolve_department(engine, "昭化") == (ZHAOHUA, [])
    assert resolve_department(engine, "医保局") == (None, sorted([EMSHAN, ZHAOHUA]))
    out = chat(engine, ":use 医保局", ":use 不存在的局")
    assert "可能指" in out and "没有找到部门“不存在的局”" in out


def test_year_pins_and_validates() -> None:
    engine = FakeEngine()
    out = chat(engine, ":year 2021年", "问题", ":year 21", ":year", "问题")
    assert "已固定年份：2021" in out and "年份应为四位数字" in out and "已取消固定年份" in out
    assert engine.sessions[0].pinned_year == 2021
    assert engine.sessions[1].pinned_year is None


def test_reset_forgets_context_and_pins() -> None:
    engine = FakeEngine()
    chat(engine, ":use 昭化区医保局", "峨山县医保局2021年三公经费是多少", ":reset", "问题")
    assert engine.sessions[-1] == Session()


def test_docs_lists_reports() -> None:
    out = chat(FakeEngine(), ":docs")
    rows = [line for line in out.splitlines() if ".txt" in line]
    assert len(rows) == 2
    assert (
        EMSHAN in rows[0] and "2021" in rows[0] and "决算" in rows[0] and DOC0 in rows[0]
    )  # sorted by department
    assert "2 份报告" in out


def test_json_toggle() -> None:
    out = chat(FakeEngine(), ":json", "执行率", ":json", "别的")
    assert "JSON 输出：开" in out and "JSON 输出：关" in out
    start = out.index("{")
    end = out.index("\n}", start) + 2
    obj = json.loads(out[start:end])
    assert obj["kind"] == "computed" and obj["values"][0]["value"] == "96.54"
    assert obj["derivation"] == ["5,406.00 / 5,600.00 × 100 = 96.54%"]
    assert out.count('"question"') == 1  # off again for the last question


def test_facts_table_filtered_by_pins() -> None:
    out = chat(FakeEngine(), ":facts 三公经费", ":use 昭化区医保局", ":facts 三公经费", ":facts")
    first = out[: out.index("已固定部门")]
    assert "5,406.00" in first and "0.45" in first and "2 条" in first
    second = out[out.index("已固定部门") :]
    assert "0.45" in second and "5,406.00" not in second and "1 条" in second
    assert "用法：:facts <指标>" in out


def test_help_is_generated_from_the_registry() -> None:
    out = chat(FakeEngine(), ":help")
    for cmd in COMMANDS.commands():
        assert cmd.name in out and cmd.help in out
    assert {":help", ":docs", ":use", ":year", ":reset", ":sources", ":json", ":facts", ":quit"} <= set(
        COMMANDS.names()
    )


def test_unknown_command_suggests() -> None:
    out = chat(FakeEngine(), ":sorces")
    assert "未知命令 :sorces，是不是 :sources？" in out


def test_full_width_colon() -> None:
    assert split_command("：USE  峨山县医保局 ") == (":use", "峨山县医保局")
    out = chat(FakeEngine(), "：help")
    assert ":sources" in out


# --- keys -----------------------------------------------------------------------------------------
def test_ctrl_d_exits() -> None:
    engine = FakeEngine()
    out = drive_chat(engine, "\x04问题\r")
    assert "没有找到" not in out and "ask" not in engine.calls


def test_quit_stops_reading() -> None:
    engine = FakeEngine()
    out = chat(engine, ":quit", "问题")
    assert "ask" not in engine.calls and "没有找到" not in out
    assert "ask" not in FakeEngine().calls
    out = drive_chat(FakeEngine(), "\x1b[200~:q\n问题\x1b[201~\r")
    assert "没有找到" not in out  # a pasted block stops at :q too


def test_ctrl_c_clears_the_line() -> None:
    engine = FakeEngine()
    out = drive_chat(engine, "丢掉的问题\x03留下的问题\r")
    assert "丢掉的问题" not in out and "没有找到：留下的问题" in out
    assert len(engine.sessions) == 1


def test_pasted_block_is_several_questions() -> None:
    engine = FakeEngine()
    out = drive_chat(engine, "\x1b[200~峨山县医保局2021年三公经费是多少\n\n其中公务接待费呢？\x1b[201~\r")
    assert "问> 峨山县医保局2021年三公经费是多少" in out and "问> 其中公务接待费呢？" in out
    assert f"{EMSHAN}公务接待费5,406.00元" in out
    assert len(engine.sessions) == 2


def test_opens_without_touching_the_engine() -> None:
    # The engine loads its index/model lazily; opening the REPL must not force it.
    engine = FakeEngine()
    drive_chat(engine, ":help\r:json\r")
    assert engine.calls == []


def test_engine_note_is_shown() -> None:
    class LoadingEngine(FakeEngine):
        retrieval_loading = True

    out = drive_chat(LoadingEngine(), "")
    assert "加载检索模型…" in out


# --- toolbar, completion, console, history ----------------------------------------------------------
def test_toolbar_shows_pinned_or_remembered_context() -> None:
    s = Session()
    assert "部门: —" in toolbar_text(s) and "年份: —" in toolbar_text(s)
    s.departments, s.year = [EMSHAN, ZHAOHUA], 2021
    assert f"部门: {EMSHAN}、{ZHAOHUA} │ 年份: 2021 │" in toolbar_text(s)
    s.pinned_department, s.pinned_year = ZHAOHUA, 2020
    assert f"部门: {ZHAOHUA}（固定） │ 年份: 2020（固定）" in toolbar_text(s)

    class Noting:
        status_note = "正在加载模型 e5-small"

    assert "正在加载模型 e5-small" in toolbar_text(s, Noting())


def completions(completer: ReportCompleter, text: str) -> list[str]:
    return [
        c.text for c in completer.get_completions(Document(text), CompleteEvent(completion_requested=True))
    ]


def test_completion() -> None:
    engine = FakeEngine()
    completer = ReportCompleter(
        COMMANDS,
        engine.department_names,
        engine.metric_names,
        lambda: [str(r.year) for r in engine.reports()],
    )
    assert engine.calls == []  # names are fetched on first use
    assert completions(completer, ":u") == [":use"]
    assert ":sources" in completions(completer, ":s")
    assert completions(completer, ":use 峨山县")[0] == "峨山县医保局"
    assert set(completions(completer, ":use 保障局")) == {EMSHAN, ZHAOHUA}  # contains, not only starts with
    assert completions(completer, ":facts 公务") == ["公务接待费"]
    assert completions(completer, ":year 20") == ["2021"]
    assert completions(completer, "峨山县医保局2021年三公") == ["三公经费"]
    assert EMSHAN in completions(completer, "请问峨山彝族")
    assert completions(completer, "峨山县医保局") == []  # complete already
    # the replacement covers the typed tail only
    first = next(completer.get_completions(Document("请问昭化"), CompleteEvent()))
    assert (first.text, first.start_position) == ("昭化区医保局", -2)


def test_completion_survives_a_failing_engine() -> None:
    def broken() -> list[str]:
        raise FileNotFoundError("no index")

    completer = ReportCompleter(COMMANDS, broken, broken)
    assert completions(completer, "峨山") == []


def test_console_colour_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert make_console(plain=True).color_system is None
    assert make_console(color=False).color_system is None
    monkeypatch.setenv("NO_COLOR", "1")
    assert make_console().color_system is None


def test_history_file_created(tmp_path: Path) -> None:
    settings = Settings(repl=ReplSettings(history_file=str(tmp_path / "deep" / "dir" / "history")))
    history = history_for(settings)
    assert isinstance(history, FileHistory)
    assert (tmp_path / "deep" / "dir" / "history").exists()


def test_text_helpers() -> None:
    assert (
        format_number("5406.00") == "5,406.00" and format_number("0") == "0" and format_number("n/a") == "n/a"
    )
    assert shorten("峨山彝族自治县医疗保障局", 10) == "峨山彝族…"
    assert shorten("a  b\nc", 10) == "a b c"


# --- piped input -------------------------------------------------------------------------------
def test_piped_lines_give_a_plain_transcript_and_slash_commands_work() -> None:
    import io

    from assistant.repl.app import ChatApp

    buffer = io.StringIO()
    engine = FakeEngine()
    app = ChatApp(engine, plain=True, console=make_console(buffer, plain=True, width=100))
    status = app.run_lines(
        ["峨山县医保局2021年三公经费是多少\n", "\n", "/help\n", "/quit\n", "这一行不会被问到\n"]
    )
    out = buffer.getvalue()
    assert status == 0
    assert "问> 峨山县医保局2021年三公经费是多少" in out
    assert "“三公”经费支出决算数为5,406.00元" in out
    assert ":sources" in out  # /help listed the commands
    assert "这一行不会被问到" not in out and len(engine.sessions) == 1  # /quit ended the loop
    assert app._prompt_session is None  # no terminal UI was built for piped input
    assert split_command("/use 峨山") == (":use", "峨山")
