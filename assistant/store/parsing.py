"""Parsing the files of a build: one file at a time, or on all cores when there are many."""

from __future__ import annotations

import functools
import os
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.models import Document, Report
from assistant.store.sql import fact_rows, mention_rows

if TYPE_CHECKING:
    from assistant.parse.facts import ParsedReport


@dataclass
class ParsedFile:
    """What the store needs of a parsed file: facts as rows, not Fact objects (cheap to pickle back
    from a worker); the Document only when the retrieval index is built too."""

    doc: Document | None
    report: Report
    rows: list[tuple[object, ...]]
    n_tables: int
    warnings: list[str]
    mentions: list[tuple[object, ...]] = field(default_factory=list)  # numeric mentions as rows


# Files to parse before a process pool pays: every worker warms up once (regexes, pydantic schemas:
# ~0.3 s) and the machine is often shared; measured on 2 busy cores, serial parsing was still as fast
# at 12 files (bench/build_phases.py, see the build report).
PARALLEL_FROM = 8


def parse_file(path: Path) -> tuple[Document, ParsedReport] | str:
    """Load and parse one file; a string is the one-line reason it was skipped."""
    from assistant.ingest.loaders import IngestError, load_document
    from assistant.parse.facts import parse_document

    try:
        doc = load_document(path)
        return doc, parse_document(doc)
    except IngestError as e:
        return e.cause
    except Exception as e:  # a parser bug must not lose the rest of the corpus
        return f"could not be parsed ({type(e).__name__}: {e})"


def _parse_for_store(path: Path, keep_doc: bool) -> ParsedFile | str:
    """parse_file, reduced to what the build keeps (runs in a worker process)."""
    outcome = parse_file(path)
    if isinstance(outcome, str):
        return outcome
    doc, parsed = outcome
    try:
        rows = fact_rows(parsed.facts)
        mentions = mention_rows(parsed.mentions)
    except Exception as e:  # noqa: BLE001 — as in parse_file: one bad report must not stop the build
        return f"could not be parsed ({type(e).__name__}: {e})"
    return ParsedFile(
        doc if keep_doc else None, parsed.report, rows, len(parsed.tables), list(parsed.warnings), mentions
    )


def parse_all(
    pending: list, keep_docs: bool = True
) -> Generator[tuple[int, Path, ParsedFile | str], None, None]:
    """(slot, path, outcome) for every Path in ``pending``, in order; on all cores when there are many."""
    todo = [(i, p) for i, p in enumerate(pending) if isinstance(p, Path)]
    work = functools.partial(_parse_for_store, keep_doc=keep_docs)
    workers = min(os.cpu_count() or 1, 8, len(todo))
    if len(todo) < PARALLEL_FROM or workers < 2:
        for i, p in todo:
            yield i, p, work(p)
        return
    from concurrent.futures import ProcessPoolExecutor

    import assistant.parse.facts  # noqa: F401 — imported once here, inherited by the forked workers

    # Small chunks keep the workers evenly loaded (a PDF takes seconds, a text report 0.1 s); a
    # chunk of 4 already makes the per-task overhead negligible.
    chunksize = max(1, min(4, len(todo) // (workers * 4)))
    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        for (i, p), outcome in zip(
            todo, pool.map(work, [p for _, p in todo], chunksize=chunksize), strict=True
        ):
            yield i, p, outcome
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
