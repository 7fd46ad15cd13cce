"""How the REPL prints: answers, citations, provenance, reports, facts and help, through rich.

Everything goes through one rich Console, so tests can hand in a StringIO and read the transcript.
Texts from reports are printed as rich ``Text`` (never markup): a snippet may contain ``[...]``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, TextIO

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from assistant.models import Answer, AnswerValue, Fact, Report

if TYPE_CHECKING:
    from assistant.repl.commands import CommandRegistry

CITATIONS_SHOWN = 3  # under an answer; :sources shows them all
SNIPPET_WIDTH = 70  # terminal cells of a snippet under an answer
FACTS_SHOWN = 60  # rows of :facts before "… N more"

STYLE_CITATION = "dim"
STYLE_NOT_FOUND = "yellow"
STYLE_ERROR = "bold red"
STYLE_NOTE = "cyan"
STYLE_WARN = "yellow"


def make_console(
    file: TextIO | None = None, *, plain: bool = False, color: bool = True, width: int | None = None
) -> Console:
    """The Console the REPL prints through: no colours with --plain, repl.color = false or NO_COLOR."""
    no_color = plain or not color or "NO_COLOR" in os.environ
    return Console(
        file=file,
        width=width,
        highlight=False,  # rich's number highlighting would colour half of every answer
        color_system=None if no_color else "auto",
        no_color=no_color,
        emoji=False,
        soft_wrap=False,
    )


def shorten(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` terminal cells (CJK characters count 2) with "…"."""
    flat = " ".join(text.split())
    if cell_len(flat) <= width:
        return flat
    out: list[str] = []
    used = 0
    for ch in flat:
        w = cell_len(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def format_number(value: str) -> str:
    """A decimal string with thousands separators, keeping its decimals: "5406.00" → "5,406.00"."""
    try:
        number = Decimal(value.replace(",", ""))
    except InvalidOperation:
        return value
    if not number.is_finite():
        return value
    return f"{number:,f}"


def format_location(doc: str, page: int | None, line_start: int, line_end: int | None = None) -> str:
    """``doc 第3页 第612–613行`` (page left out when unknown)."""
    where = f"第{page}页 " if page is not None else ""
    lines = f"{line_start}" if line_end in (None, line_start) else f"{line_start}–{line_end}"
    return f"{doc} {where}第{lines}行"


def _value_label(v: AnswerValue) -> str:
    return v.metric + (f"（{v.qualifier}）" if v.qualifier else "")


def _answer_citations(answer: Answer) -> list[tuple[str, int | None, int, int | None, str]]:
    """(doc, page, line_start, line_end, snippet) of an answer: its passages, else its values' sources."""
    rows: list[tuple[str, int | None, int, int | None, str]] = []
    seen: set[tuple[str, int]] = set()
    for c in answer.citations:
        if (c.doc, c.line_start) not in seen:
            seen.add((c.doc, c.line_start))
            rows.append((c.doc, c.page, c.line_start, c.line_end, c.snippet))
    for v in answer.values:
        c2 = v.citation
        if (c2.doc, c2.line) not in seen:
            seen.add((c2.doc, c2.line))
            rows.append((c2.doc, c2.page, c2.line, None, c2.snippet))
    return rows


class Renderer:
    """Prints REPL output on one Console."""

    def __init__(self, console: Console) -> None:
        self.console = console

    # --- messages -------------------------------------------------------------------------
    def info(self, message: str) -> None:
        """A plain line."""
        self.console.print(Text(message))

    def note(self, message: str) -> None:
        """A secondary line (state changes, hints)."""
        self.console.print(Text(message, style=STYLE_NOTE))

    def warn(self, message: str) -> None:
        """Something the user may want to fix."""
        self.console.print(Text(message, style=STYLE_WARN))

    def error(self, message: str) -> None:
        """Something went wrong; the REPL carries on."""
        self.console.print(Text(message, style=STYLE_ERROR))

    # --- answers --------------------------------------------------------------------------
    def answer(self, answer: Answer) -> None:
        """The answer text first, a table when it has several values, then its citations dimmed."""
        style = STYLE_NOT_FOUND if answer.kind in ("not_found", "clarify") else ""
        self.console.print(Text(answer.text, style=style))
        if len(answer.values) > 1:
            self.console.print(self.values_table(answer.values))
        elif answer.values and answer.values[0].flags:
            self.console.print(Text("⚠ " + ", ".join(answer.values[0].flags), style=STYLE_WARN))
        cites = _answer_citations(answer)
        for doc, page, start, end, snippet in cites[:CITATIONS_SHOWN]:
            line = f"  ↳ {format_location(doc, page, start, end)}  {shorten(snippet, SNIPPET_WIDTH)}"
            self.console.print(Text(line, style=STYLE_CITATION))
        if len(cites) > CITATIONS_SHOWN:
            more = len(cites) - CITATIONS_SHOWN
            self.console.print(Text(f"  … 另有{more}处出处，:sources 查看全部", style=STYLE_CITATION))

    def values_table(self, values: Sequence[AnswerValue]) -> Table:
        """Several values aligned: department, year, metric, value, unit, source; empty columns left out."""
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        has_dept = any(v.department for v in values)
        has_year = any(v.year is not None for v in values)
        has_flags = any(v.flags for v in values)
        if has_dept:
            table.add_column("部门")
        if has_year:
            table.add_column("年份", justify="right")
        table.add_column("指标")
        table.add_column("数值", justify="right")
        table.add_column("单位")
        table.add_column("出处", style=STYLE_CITATION)
        if has_flags:
            table.add_column("标记", style=STYLE_WARN)
        for v in values:
            row: list[str] = []
            if has_dept:
                row.append(v.department or "")
            if has_year:
                row.append(str(v.year) if v.year is not None else "")
            row += [_value_label(v), format_number(v.value), v.unit, f"{v.citation.doc}:{v.citation.line}"]
            if has_flags:
                row.append(", ".join(v.flags))
            table.add_row(*(Text(cell) for cell in row))
        return table

    def sources(self, answer: Answer | None) -> None:
        """Full provenance of an answer: each value's file/page/line/snippet, the passages, the derivation."""
        if answer is None:
            self.note("还没有回答：先提一个问题。")
            return
        self.console.print(Text(f"问题：{answer.question}  （{answer.kind}）", style="bold"))
        if answer.values:
            self.console.print(Text("数值", style="bold"))
            for i, v in enumerate(answer.values, 1):
                who = " ".join(x for x in (v.department, str(v.year) if v.year is not None else None) if x)
                head = f"  {i}. {_value_label(v)} = {format_number(v.value)}{v.unit}" + (
                    f"  [{who}]" if who else ""
                )
                if v.flags:
                    head += "  ⚠ " + ", ".join(v.flags)
                self.console.print(Text(head))
                c = v.citation
                self.console.print(
                    Text(f"     {format_location(c.doc, c.page, c.line)}", style=STYLE_CITATION)
                )
                self.console.print(Text(f"     {c.snippet}", style=STYLE_CITATION))
        if answer.citations:
            self.console.print(Text("出处", style="bold"))
            for i, cit in enumerate(answer.citations, 1):
                self.console.print(
                    Text(f"  {i}. {format_location(cit.doc, cit.page, cit.line_start, cit.line_end)}")
                )
                for snippet_line in cit.snippet.splitlines() or [""]:
                    self.console.print(Text(f"     {snippet_line}", style=STYLE_CITATION))
        if answer.derivation:
            self.console.print(Text("推导", style="bold"))
            for step in answer.derivation:
                self.console.print(Text(f"  {step}"))
        if not (answer.values or answer.citations or answer.derivation):
            self.note("这个回答没有出处。")

    def json(self, answer: Answer) -> None:
        """The answer object as FORMAT.md's JSON (what `assistant ask --json` prints)."""
        text = json.dumps(answer.model_dump(mode="json"), ensure_ascii=False, indent=2)
        self.console.print(Text(text, style=STYLE_CITATION))

    # --- listings -------------------------------------------------------------------------
    def reports(self, reports: Iterable[Report]) -> None:
        """The indexed reports: department, year, kind, file."""
        rows = sorted(reports, key=lambda r: (r.department or "", r.year or 0, r.kind or "", r.doc))
        if not rows:
            self.note("索引中没有报告（先运行 `assistant index`）。")
            return
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for name, justify in (("部门", "left"), ("年份", "right"), ("类型", "left"), ("文件", "left")):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for r in rows:
            table.add_row(
                Text(r.department or "?"),
                Text(str(r.year) if r.year is not None else "?"),
                Text(r.kind or "?"),
                Text(r.doc, style=STYLE_CITATION),
            )
        self.console.print(table)
        self.console.print(Text(f"{len(rows)} 份报告", style=STYLE_CITATION))

    def facts(self, facts: Sequence[Fact], limit: int = FACTS_SHOWN) -> None:
        """Facts as a table: where each number comes from."""
        if not facts:
            self.note("没有找到这个指标的数据。")
            return
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for name, justify in (
            ("部门", "left"),
            ("年份", "right"),
            ("类型", "left"),
            ("项目", "left"),
            ("口径", "left"),
            ("数值", "right"),
            ("单位", "left"),
            ("出处", "left"),
            ("标记", "left"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for f in facts[:limit]:
            table.add_row(
                Text(f.department or ""),
                Text(str(f.year) if f.year is not None else ""),
                Text(f.kind or ""),
                Text(f.label + (f" [{f.code}]" if f.code else "")),
                Text(f.qualifier or ""),
                Text(format_number(str(f.value))),
                Text(f.unit),
                Text(format_location(f.doc, f.page, f.line, f.line_end), style=STYLE_CITATION),
                Text(", ".join(f.flags), style=STYLE_WARN),
            )
        self.console.print(table)
        extra = f"，仅显示前 {limit} 条" if len(facts) > limit else ""
        self.console.print(Text(f"{len(facts)} 条{extra}", style=STYLE_CITATION))

    def help(self, registry: CommandRegistry) -> None:
        """The meta-commands, generated from the registry, plus the keys."""
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        table.add_column("命令")
        table.add_column("说明")
        for cmd in registry.commands():
            name = f"{cmd.name} {cmd.args}".rstrip()
            if cmd.aliases:
                name += "  (" + ", ".join(cmd.aliases) + ")"
            table.add_row(Text(name, style="bold"), Text(cmd.help))
        self.console.print(table)
        self.console.print(
            Text(
                "直接输入问题即可提问；Tab 补全部门、指标和命令；Ctrl-C 清空当前行；Ctrl-D 退出。",
                style=STYLE_CITATION,
            )
        )
