"""`assistant index` and `assistant index --check`: the printers over store/build.py."""

from __future__ import annotations

import sys

from assistant.config import Settings
from assistant.interfaces.exits import EXIT_FAILED, EXIT_OK
from assistant.interfaces.progress import BuildProgress
from assistant.store.build import build_index, index_differences


def run_index(settings: Settings, check: bool = False, embed: bool = True, retrieval: bool = True) -> int:
    """CLI body of `assistant index`; exit 0 when everything was indexed, 1 when files were skipped
    (or --check found differences). An index that cannot be built raises StoreError (the CLI's error
    policy prints its one line, exit 2). ``retrieval=False``: the fact store only (see build_index)."""
    if check:
        return check_index(settings)
    with BuildProgress() as progress:  # bars on a terminal, nothing in a pipe
        result = build_index(settings, embed=embed, retrieval=retrieval, log=progress.log, progress=progress)
    for name, reason in result.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    for first, dups in result.duplicates.items():
        print(f"duplicate content: {', '.join(dups)} = {first} (indexed once)")
    print(
        f"{len(result.indexed)} parsed, {len(result.reused)} unchanged, {len(result.skipped)} skipped, "
        f"{result.n_facts} facts → {settings.index_dir}"
    )
    return EXIT_FAILED if result.skipped else EXIT_OK


def check_index(settings: Settings) -> int:
    """`assistant index --check`: print each difference between the index and the corpus (see
    index_differences); exit 0 up to date, 1 otherwise."""
    problems = index_differences(settings)
    for line in problems:
        print(line)
    print("index is up to date" if not problems else f"{len(problems)} difference(s): run `assistant index`")
    return EXIT_OK if not problems else EXIT_FAILED
