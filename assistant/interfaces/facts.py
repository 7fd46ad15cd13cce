"""`assistant facts`: list stored facts, filterable, as text or JSON lines."""

from __future__ import annotations

import sys

from assistant.config import Settings
from assistant.interfaces.exits import EXIT_NOT_ANSWERED, EXIT_OK
from assistant.store.db import open_store, query_facts


def run_facts(
    settings: Settings, doc: str | None, metric: str | None, year: int | None, conflicts: bool, as_json: bool
) -> int:
    """Print the facts matching the filters; exit 1 when none match (no index: StoreError)."""
    con = open_store(settings.index_dir)
    facts = query_facts(con, doc=doc, metric=metric, year=year, like=True)
    if conflicts:
        facts = [f for f in facts if "conflict" in f.flags]
    for f in facts:
        if as_json:
            print(f.model_dump_json())
        else:
            where = f"{f.doc}:{f.line}" + (f" p{f.page}" if f.page else "")
            code = f" [{f.code}]" if f.code else ""
            flags = f" ({', '.join(f.flags)})" if f.flags else ""
            print(
                f"{where}\t{f.department or '?'} {f.year or '?'}\t{f.metric}{code}\t{f.qualifier or ''}\t"
                f"{f.value} {f.unit}{flags}"
            )
    if not as_json:
        print(f"{len(facts)} facts", file=sys.stderr)
    return EXIT_OK if facts else EXIT_NOT_ANSWERED
