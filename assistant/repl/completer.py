"""Tab completion: meta-commands, department names/aliases and metric names.

Questions are Chinese, without spaces between words, so a free-text completion completes the
longest tail of the text before the cursor that starts a known name ("峨山县医" → "峨山县医疗保障局").
Names are fetched from the engine on first use and cached: building the completer loads nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from assistant.repl.commands import CommandRegistry, split_command

MAX_TAIL = 24  # longest tail of the input tried as the start of a name


class _Lazy:
    """A list computed once, on first use; a failing source counts as empty (completion must not crash)."""

    def __init__(self, source: Callable[[], Iterable[str]]) -> None:
        self._source = source
        self._value: list[str] | None = None

    def get(self) -> list[str]:
        if self._value is None:
            try:
                names = {n for n in self._source() if n}
            except Exception:  # an index that is not built yet: nothing to complete
                names = set()
            self._value = sorted(names, key=lambda n: (len(n), n))
        return self._value


class ReportCompleter(Completer):
    """Completes meta-commands, their arguments, and department/metric names inside questions."""

    def __init__(
        self,
        registry: CommandRegistry,
        departments: Callable[[], Iterable[str]],
        metrics: Callable[[], Iterable[str]],
        years: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self.registry = registry
        self.departments = _Lazy(departments)
        self.metrics = _Lazy(metrics)
        self.years = _Lazy(years or (lambda: []))

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        """Completions for the text before the cursor."""
        text = document.text_before_cursor
        stripped = text.lstrip()
        if stripped.startswith((":", "：")):
            if " " not in stripped:
                yield from self._commands(stripped)
            else:
                yield from self._argument(stripped)
            return
        yield from self._names_in_question(text)

    def _commands(self, typed: str) -> Iterator[Completion]:
        word = ":" + typed[1:]
        for name in self.registry.names(aliases=False):
            if name.startswith(word):
                cmd = self.registry.get(name)
                yield Completion(name, start_position=-len(typed), display_meta=cmd.help if cmd else "")

    def _argument(self, typed: str) -> Iterator[Completion]:
        name, arg = split_command(typed)
        pool = {":use": self.departments, ":facts": self.metrics, ":year": self.years}.get(name)
        if pool is None:
            return
        candidates = pool.get()
        # Users type part of a name ("医保局"): prefix matches first, then names containing it.
        ranked = [c for c in candidates if c.startswith(arg)] + [
            c for c in candidates if arg in c and not c.startswith(arg)
        ]
        for c in ranked:
            if c != arg:
                yield Completion(c, start_position=-len(arg))

    def _names_in_question(self, text: str) -> Iterator[Completion]:
        names = self.departments.get() + self.metrics.get()
        # The longest tail that starts a name wins: after "三公" a lone "公" (公务接待费) is noise.
        for size in range(min(MAX_TAIL, len(text)), 0, -1):
            tail = text[-size:]
            if tail[0].isspace():
                continue
            hits = [name for name in names if name != tail and name.startswith(tail)]
            if hits:
                for name in dict.fromkeys(hits):
                    yield Completion(name, start_position=-size)
                return
