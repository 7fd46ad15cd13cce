"""`assistant chat`: the interactive REPL (prompt-toolkit for input, rich for output).

In the tradition of pgcli/litecli: persistent history with suggestions, Tab completion of
departments, metrics and meta-commands, a bottom toolbar with the conversation's context.
:class:`ChatApp` takes its input/output/console from the caller so tests can drive it
(:func:`drive_chat`); :func:`assistant.interfaces.chat.run_chat` wires it to the terminal and the
real engine.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.application.current import get_app
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.filters import Condition
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input, create_pipe_input
from prompt_toolkit.output import ColorDepth, DummyOutput, Output
from prompt_toolkit.styles import Style
from rich.console import Console

from assistant.answer.session import Session
from assistant.config import Settings
from assistant.models import Answer
from assistant.repl.commands import COMMANDS, is_command, split_command
from assistant.repl.completer import ReportCompleter
from assistant.repl.render import Renderer, make_console
from assistant.repl.toolbar import engine_note, toolbar_fragments
from assistant.repl.warmup import WAIT_NOTE, RetrievalWarmup

log = logging.getLogger(__name__)

PROMPT = "问> "
STYLE = Style.from_dict(
    {
        "prompt": "bold",
        "toolbar.pinned": "bold",
        "toolbar.note": "italic",
    }
)


class ChatApp:
    """The REPL loop over an engine: read a line, run a meta-command or ask the engine, print.

    ``input``/``output`` are prompt-toolkit's (None = the terminal); ``console`` is where answers
    are printed (None = stdout, coloured unless ``plain``/``color=False``/NO_COLOR).
    """

    def __init__(
        self,
        engine: Any,
        input: Input | None = None,
        output: Output | None = None,
        plain: bool = False,
        *,
        console: Console | None = None,
        history: History | None = None,
        color: bool = True,
        warmup: RetrievalWarmup | None = None,
    ) -> None:
        self.engine = engine
        self.warmup = warmup
        # what the toolbar asks for notes: the warm-up when there is one, else the engine itself
        self.notes: Any = warmup if warmup is not None else engine
        self.session = Session()
        self.console = console or make_console(plain=plain, color=color)
        self.renderer = Renderer(self.console)
        self.show_json = False
        self.last_answer: Answer | None = None
        self.running = True
        self._prompt_args = (input, output, history, plain or not color)
        self._prompt_session: PromptSession[str] | None = None

    @property
    def prompt_session(self) -> PromptSession[str]:
        """The prompt-toolkit session, made on first use (a piped session never needs one)."""
        if self._prompt_session is None:
            self._prompt_session = self._make_prompt_session(*self._prompt_args)
        return self._prompt_session

    def _make_prompt_session(
        self, input: Input | None, output: Output | None, history: History | None, monochrome: bool
    ) -> PromptSession[str]:
        engine = self.engine
        # Refresh the toolbar only when the engine can report progress (a model loading behind the prompt).
        has_notes = hasattr(self.notes, "retrieval_loading") or hasattr(self.notes, "status_note")
        return PromptSession(
            message=[("class:prompt", PROMPT)],
            history=history if history is not None else InMemoryHistory(),
            auto_suggest=AutoSuggestFromHistory(),
            completer=ReportCompleter(
                COMMANDS,
                departments=self._department_names,
                metrics=lambda: engine.metric_names(),
                years=self._years,
            ),
            # Menus popping up under an IME are a nuisance: free text completes on Tab only.
            complete_while_typing=Condition(lambda: is_command(get_app().current_buffer.text)),
            bottom_toolbar=lambda: toolbar_fragments(self.session, self.notes),
            style=STYLE,
            color_depth=ColorDepth.MONOCHROME if monochrome else None,
            include_default_pygments_style=False,
            refresh_interval=0.5 if has_notes else 0,
            input=input,
            output=output,
        )

    # --- name sources for completion (called lazily, on first Tab) --------------------------
    def _department_names(self) -> list[str]:
        return list(self.engine.department_names())

    def _years(self) -> list[str]:
        return sorted({str(r.year) for r in self.engine.reports() if r.year is not None})

    # --- the loop ----------------------------------------------------------------------------
    def stop(self) -> None:
        """End the loop after the current line (:quit)."""
        self.running = False

    def run(self) -> int:
        """Read and handle lines until Ctrl-D or :quit; returns the exit status (0)."""
        self._greet()
        while self.running:
            try:
                text = self.prompt_session.prompt()
            except KeyboardInterrupt:  # Ctrl-C: drop the line, keep the session
                continue
            except EOFError:  # Ctrl-D
                break
            self.handle_text(text)
        return 0

    def _greet(self) -> None:
        self.renderer.note("报告助手：直接输入问题。:help 查看命令，Ctrl-D 退出。")
        note = engine_note(self.notes)
        if note:
            self.renderer.note(note)

    def run_lines(self, lines: Iterable[str]) -> int:
        """The loop for piped input (``assistant chat < questions.txt``): no prompt, no toolbar; each
        line is echoed before its answer so the transcript reads like a conversation."""
        self._greet()
        for raw in lines:
            line = raw.strip()
            if not self.running:
                break
            if line:
                self.renderer.info(f"{PROMPT}{line}")
                self.handle_line(line)
        return 0

    def handle_text(self, text: str) -> None:
        """A submitted input: a pasted block of several lines is several questions, in order."""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        for line in lines:
            if not self.running:
                break
            if len(lines) > 1:  # show which answer belongs to which pasted line
                self.renderer.info(f"{PROMPT}{line}")
            self.handle_line(line)

    def handle_line(self, line: str) -> None:
        """One line: a meta-command or a question."""
        line = line.strip()
        if not line:
            return
        if is_command(line):
            self.run_command(line)
        else:
            self.ask(line)

    def run_command(self, line: str) -> None:
        """Dispatch a meta-command through the registry; unknown names get a suggestion."""
        name, arg = split_command(line)
        cmd = COMMANDS.get(name)
        if cmd is None:
            hint = COMMANDS.suggest(name)
            self.renderer.warn(
                f"未知命令 {name}" + (f"，是不是 {hint}？" if hint else "。") + " :help 列出命令。"
            )
            return
        try:
            cmd.handler(self, arg)
        except Exception as e:  # a failing command must not end the session
            log.debug("meta-command %s failed", name, exc_info=True)
            self.renderer.error(f"{name} 出错：{type(e).__name__}: {e}")

    def ask(self, question: str) -> Answer | None:
        """Ask the engine in the REPL's session and print the answer (and its JSON when :json is on)."""
        # a text question asked while the retrieval side warms up waits for what is left: say so,
        # unless the answer comes at once (numeric questions never wait)
        waiting = None
        if self.warmup is not None and self.warmup.retrieval_loading:
            waiting = threading.Timer(0.3, self._note_waiting)
            waiting.daemon = True
            waiting.start()
        try:
            answer = self.engine.ask(question, self.session)
        except KeyboardInterrupt:
            self.renderer.note("已中断。")
            return None
        except Exception as e:  # a bug in one answer must not end the session
            log.debug("engine.ask failed", exc_info=True)
            self.renderer.error(f"出错了：{type(e).__name__}: {e}")
            return None
        finally:
            if waiting is not None:
                waiting.cancel()
        self.last_answer = answer
        self.session.last_answer = answer  # the engine normally records it; keep :sources consistent if not
        self.renderer.answer(answer)
        if self.show_json:
            self.renderer.json(answer)
        self.console.print()
        return answer

    def _note_waiting(self) -> None:
        if self.warmup is not None and self.warmup.retrieval_loading:
            self.renderer.note(WAIT_NOTE)


def history_for(settings: Settings) -> History:
    """The persistent history file (parents created); in-memory when it cannot be created."""
    path = Path(settings.resolve(settings.repl.history_file))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError as e:
        log.warning("history disabled: %s: %s", path, e)
        return InMemoryHistory()
    return FileHistory(str(path))


def drive_chat(
    engine: Any, keystrokes: str, *, width: int = 100, warmup: RetrievalWarmup | None = None
) -> str:
    """Run a ChatApp on ``keystrokes`` (``"\\r"`` = Enter, ``"\\x03"`` = Ctrl-C, ``"\\x04"`` = Ctrl-D)
    and return what it printed, without colours. The session ends at the end of the keystrokes.
    """
    buffer = io.StringIO()
    console = make_console(buffer, plain=True, width=width)
    with create_pipe_input() as pipe:
        pipe.send_text(keystrokes)
        pipe.close()  # end of the keystrokes = end of input: the prompt raises EOFError, like Ctrl-D
        app = ChatApp(engine, input=pipe, output=DummyOutput(), plain=True, console=console, warmup=warmup)
        app.run()
    return buffer.getvalue()
