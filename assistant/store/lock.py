"""The build lock of an index folder: one build at a time; readers wait while a build commits."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from assistant.store.errors import StoreError

LOCK_NAME = ".build.lock"


_held: set[str] = set()  # index dirs whose build lock this process holds


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold ``index_dir/.build.lock`` exclusively (released by the kernel even on SIGKILL)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(
                f"another `assistant index` is updating {index_dir}; wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        key = str(index_dir.resolve())
        _held.add(key)
        try:
            yield
        finally:
            _held.discard(key)
    finally:
        os.close(fd)


def build_running(index_dir: Path) -> bool:
    """True while another process holds the build lock of ``index_dir``."""
    if str(index_dir.resolve()) in _held:
        return False  # this process is the builder: nobody to wait for
    try:
        fd = os.open(index_dir / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False
