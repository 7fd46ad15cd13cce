"""The REPL's meta-commands (``:help``, ``:use`` …), registered in one table by a decorator.

``:help`` is generated from the table, and the completer offers its names, so a command added here
is documented and completed without touching anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.repl.app import ChatApp

Handler = Callable[["ChatApp", str], None]
# A Chinese IME types the full-width colon; many CLIs use /help, /quit, so the slash works too.
PREFIXES = (":", "：", "/")


@dataclass(frozen=True)
class Command:
    """One meta-command: its name (with the colon), argument synopsis, help line and aliases."""

    name: str
    handler: Handler
    help: str
    args: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)


class CommandRegistry:
    """Meta-commands by name and alias, in registration order."""

    def __init__(self) -> None:
        self._commands: list[Command] = []
        self._by_name: dict[str, Command] = {}

    def command(
        self, name: str, help: str, args: str = "", aliases: tuple[str, ...] = ()
    ) -> Callable[[Handler], Handler]:
        """Decorator registering ``handler(app, arg)`` as meta-command ``name``."""

        def register(handler: Handler) -> Handler:
            cmd = Command(name=name, handler=handler, help=help, args=args, aliases=aliases)
            for key in (name, *aliases):
                if key in self._by_name:
                    raise ValueError(f"meta-command {key} registered twice")
                self._by_name[key] = cmd
            self._commands.append(cmd)
            return handler

        return register

    def commands(self) -> list[Command]:
        """The commands in registration order (the order of :help)."""
        return list(self._commands)

    def names(self, aliases: bool = False) -> list[str]:
        """Command names (and aliases when asked), for completion."""
        if aliases:
            return list(self._by_name)
        return [c.name for c in self._commands]

    def get(self, name: str) -> Command | None:
        """The command called ``name`` (``:use`` or an alias), or None."""
        return self._by_name.get(name)

    def suggest(self, name: str) -> str | None:
        """The closest known name, for "unknown command" messages."""
        close = get_close_matches(name, self.names(aliases=True), n=1, cutoff=0.5)
        return close[0] if close else None


def is_command(line: str) -> bool:
    """Whether an input line is a meta-command rather than a question."""
    return line.lstrip().startswith(PREFIXES)


def split_command(line: str) -> tuple[str, str]:
    """``":use 峨山县医保局"`` → ``(":use", "峨山县医保局")``; the full-width colon and / are folded."""
    text = line.strip()
    if text.startswith(("：", "/")):
        text = ":" + text[1:]
    name, _, arg = text.partition(" ")
    return name.lower(), arg.strip()


COMMANDS = CommandRegistry()


# --- helpers -----------------------------------------------------------------------------------
def department_aliases(engine: Any) -> dict[str, str]:
    """Every known department name or alias → its canonical name, from the engine's reports."""
    mapping: dict[str, str] = {}
    for r in engine.reports():
        if r.department:
            mapping.setdefault(r.department, r.department)
            for alias in r.aliases:
                mapping.setdefault(alias, r.department)
    for name in engine.department_names():
        mapping.setdefault(name, name)  # names without a report: canonical as far as we know
    return mapping


def resolve_department(engine: Any, text: str) -> tuple[str | None, list[str]]:
    """The canonical department ``text`` designates, or (None, candidates) when it is unknown/ambiguous.

    Exact names and aliases win; otherwise a unique canonical department whose name or alias
    contains ``text``. With no known departments at all (no index yet) ``text`` is taken as is.
    """
    mapping = department_aliases(engine)
    if not mapping:
        return text, []
    if text in mapping:
        return mapping[text], []
    from assistant.answer.names import match_departments  # short forms by rule (商务委, 规划资源局)
    from assistant.store.vocabulary import fold

    vocab = getattr(engine, "vocab", None)
    named = match_departments(fold(text), vocab) if vocab is not None else None
    if named is not None and named.unknown is None and len(named.departments) == 1:
        return named.departments[0], []
    hits = sorted({canon for name, canon in mapping.items() if text in name})
    if len(hits) == 1:
        return hits[0], []
    return None, hits


# --- the commands ------------------------------------------------------------------------------
@COMMANDS.command(":help", "列出命令", aliases=(":h", ":?"))
def cmd_help(app: ChatApp, arg: str) -> None:
    app.renderer.help(COMMANDS)


@COMMANDS.command(":docs", "已索引的报告：部门、年份、类型、文件")
def cmd_docs(app: ChatApp, arg: str) -> None:
    app.renderer.reports(app.engine.reports())


@COMMANDS.command(":use", "固定部门（后续问题默认问这个部门）；不带参数则取消", args="[部门]")
def cmd_use(app: ChatApp, arg: str) -> None:
    if not arg:
        app.session.pinned_department = None
        app.renderer.note("已取消固定部门。")
        return
    canonical, candidates = resolve_department(app.engine, arg)
    if canonical is None:
        if candidates:
            app.renderer.warn(f"“{arg}”可能指：" + "、".join(candidates[:8]) + "。请写得更具体些。")
        else:
            app.renderer.warn(f"没有找到部门“{arg}”；:docs 列出已索引的报告。")
        return
    app.session.pinned_department = canonical
    app.renderer.note(f"已固定部门：{canonical}")


@COMMANDS.command(":year", "固定年份；不带参数则取消", args="[年份]")
def cmd_year(app: ChatApp, arg: str) -> None:
    if not arg:
        app.session.pinned_year = None
        app.renderer.note("已取消固定年份。")
        return
    digits = arg.removesuffix("年").strip()
    if not (digits.isdigit() and len(digits) == 4):
        app.renderer.warn(f"年份应为四位数字，例如 :year 2021（收到“{arg}”）。")
        return
    app.session.pinned_year = int(digits)
    app.renderer.note(f"已固定年份：{digits}")


@COMMANDS.command(":reset", "清除对话上下文（包括 :use 和 :year）")
def cmd_reset(app: ChatApp, arg: str) -> None:
    app.session.reset()
    app.last_answer = None
    app.renderer.note("已清除上下文。")


@COMMANDS.command(":sources", "上一个回答的完整出处：文件、页、行、原文和计算过程", aliases=(":src",))
def cmd_sources(app: ChatApp, arg: str) -> None:
    app.renderer.sources(app.last_answer)


@COMMANDS.command(":json", "切换：每个回答后打印 JSON 回答对象")
def cmd_json(app: ChatApp, arg: str) -> None:
    app.show_json = not app.show_json
    app.renderer.note("JSON 输出：" + ("开" if app.show_json else "关"))


@COMMANDS.command(":facts", "某个指标背后的数据（按 :use/:year 过滤）", args="<指标>")
def cmd_facts(app: ChatApp, arg: str) -> None:
    if not arg:
        app.renderer.warn("用法：:facts <指标>，例如 :facts 三公经费（Tab 补全指标名）")
        return
    pinned_dept, pinned_year = app.session.pinned_department, app.session.pinned_year
    facts = app.engine.facts(metric=arg, year=pinned_year)
    if pinned_dept:
        facts = [f for f in facts if f.department == pinned_dept]
    app.renderer.facts(facts)


@COMMANDS.command(
    ":audit", "审阅报告：勾稽关系、表与正文、部门名称、年份、目录（按 :use 过滤）", args="[部门|文件]"
)
def cmd_audit(app: ChatApp, arg: str) -> None:
    from pathlib import Path

    from assistant.audit.run import audit_files, format_finding

    reports = app.engine.reports()
    if arg:
        hits = [r for r in reports if arg in r.doc]
        if not hits:
            canonical, candidates = resolve_department(app.engine, arg)
            if canonical is None:
                app.renderer.warn(f"没有找到报告“{arg}”；:docs 列出已索引的报告。")
                return
            hits = [r for r in reports if r.department == canonical]
        reports = hits
    elif app.session.pinned_department:
        reports = [r for r in reports if r.department == app.session.pinned_department]
    run = audit_files([Path(r.path) for r in reports])
    show = {"error": app.renderer.error, "warning": app.renderer.warn, "info": app.renderer.note}
    for f in run.findings:
        for k, text in enumerate(format_finding(f)):
            (show[f.severity] if k == 0 else app.renderer.info)(text)
    for name, reason in run.skipped:
        app.renderer.warn(f"{name}：{reason}（已跳过）")
    app.renderer.note(run.summary())


@COMMANDS.command(":quit", "退出（也可以按 Ctrl-D）", aliases=(":q", ":exit"))
def cmd_quit(app: ChatApp, arg: str) -> None:
    app.stop()
