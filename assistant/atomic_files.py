"""Atomic replacement of files and folders, shared by the fact store and the retrieval index.

A JSON file is written to a temporary name, fsynced and renamed over the old one; a folder is
swapped in with two renames (the old one moved aside, the new one moved in). A reader sees the old
or the new version, never half of one; a process killed between the two renames of a folder swap
leaves ``.<name>.old-<pid>``, which the next build puts back (store/build.py ``_cleanup``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when the file is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to ``path`` via a temporary file, fsync and os.replace."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def fsync_dir(path: Path) -> None:
    """fsync a folder (its renames made durable); a file system that cannot is not an error."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def swap_dir(new: Path, final: Path) -> None:
    """Replace directory ``final`` by ``new`` (two renames; store/build.py _cleanup repairs a kill in
    between)."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.is_symlink() or final.is_file():
        final.unlink()
    elif final.exists():
        os.replace(final, old)
    os.replace(new, final)
    shutil.rmtree(old, ignore_errors=True)


def remove_dir(final: Path) -> None:
    """Delete directory ``final`` (renamed to ``.<name>.del-<pid>`` first: no reader sees it half
    deleted; store/build.py _cleanup finishes the job after a kill)."""
    if final.is_symlink() or final.is_file():
        final.unlink()
        return
    if not final.exists():
        return
    gone = final.with_name(f".{final.name}.del-{os.getpid()}")
    os.replace(final, gone)
    shutil.rmtree(gone, ignore_errors=True)


def remove_stale(directory: Path, pattern: str, older_than: float = 600.0) -> None:
    """Delete what matches ``pattern`` in ``directory`` and was last written more than ``older_than``
    seconds ago: the temporary files and folders of cache writers that died before their rename."""
    for p in Path(directory).glob(pattern):
        try:
            if time.time() - p.lstat().st_mtime <= older_than:
                continue  # perhaps still being written
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        except OSError:
            pass  # gone already


def link_or_copy(src: str, dst: str) -> None:
    """Hard-link ``src`` to ``dst`` (a copy where links are not possible): shutil.copytree's copier."""
    try:
        os.link(src, dst)  # the retrieval builder never writes into an existing file: links are safe
    except OSError:
        shutil.copy2(src, dst)
