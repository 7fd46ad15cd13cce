"""The index manifest: the layout of index/, checksums and stamps of its files, and the check of
facts.sqlite and retrieval/ against the manifests (see store/db.py for how readers use it).

``index/manifest.json`` (written last by a build) records the format version, the parser version,
every report's sha256 and the sha256 of facts.sqlite and of each file under retrieval/. A build
that is about to swap files in first writes ``manifest.next.json``; a part (facts, retrieval) is
accepted when it matches either manifest, so a build killed between two swaps leaves an index that
still opens. A part that matches neither is damaged or foreign: StoreError, advising to rebuild.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from assistant.store.errors import StoreError

DB_NAME = "facts.sqlite"


MANIFEST_NAME = "manifest.json"


NEXT_MANIFEST_NAME = "manifest.next.json"


MANIFEST_FORMAT = 1


RETRIEVAL_SUBDIR = "retrieval"


def sha256_file(path: Path) -> str:
    """Content hash of a file, read in blocks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree_checksums(directory: Path) -> dict[str, str]:
    """relative path -> sha256 of every regular file under ``directory`` (sorted; {} when absent)."""
    if not directory.is_dir():
        return {}
    out = {}
    for p in sorted(directory.rglob("*")):
        if p.is_file():
            out[p.relative_to(directory).as_posix()] = sha256_file(p)
    return out


def file_stamp(path: Path) -> list[int]:
    """Size, modification time and inode: unchanged since the build wrote the manifest ⇒ same bytes.

    Renames keep all three, so a build records them before it swaps its files in; anything that
    rewrites a file afterwards changes them and the file is hashed in full.
    """
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def tree_stamps(directory: Path) -> dict[str, list[int]]:
    """relative path -> file_stamp of every regular file under ``directory``."""
    if not directory.is_dir():
        return {}
    return {
        p.relative_to(directory).as_posix(): file_stamp(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _manifests(index_dir: Path) -> list[dict[str, Any]]:
    out = []
    for name in (MANIFEST_NAME, NEXT_MANIFEST_NAME):
        try:
            m = read_manifest(index_dir / name)
        except StoreError:
            m = None
        if m is not None:
            out.append(m)
    return out


def facts_digest(index_dir: Path, path: Path) -> str:
    """sha256 of facts.sqlite: taken from a manifest whose recorded stamp the file still has,
    otherwise computed (hashing a large store on every start-up would cost seconds)."""
    stamp = file_stamp(path)
    for m in _manifests(index_dir):
        if m.get("facts", {}).get("stamp") == stamp and m["facts"].get("sha256"):
            return str(m["facts"]["sha256"])
    return sha256_file(path)


def retrieval_digest(index_dir: Path, directory: Path) -> dict[str, str]:
    """tree_checksums of retrieval/, taken from a manifest when every file still has its stamp."""
    stamps = tree_stamps(directory)
    for m in _manifests(index_dir):
        if m.get("retrieval_stamps") == stamps and m.get("retrieval") is not None:
            return dict(m["retrieval"])
    return tree_checksums(directory)


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest at ``path``; None when absent; StoreError when unreadable or foreign."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise StoreError(
            f"{path}: unreadable index manifest ({type(e).__name__}); run `assistant index` to rebuild"
        ) from None
    if (
        not isinstance(data, dict)
        or data.get("manifest_format") != MANIFEST_FORMAT
        or not isinstance(data.get("facts"), dict)
    ):
        raise StoreError(f"{path}: not an index manifest of this version; run `assistant index` to rebuild")
    return data


def _damaged(index_dir: Path, what: str) -> StoreError:
    return StoreError(
        f"{index_dir}: {what} — the index is damaged or was changed by hand; "
        "run `assistant index` to rebuild it"
    )


def verify_index(index_dir: Path, facts_sha: str | None = None) -> dict[str, Any] | None:
    """Check facts.sqlite (hash ``facts_sha`` if given) and retrieval/ against the manifests.

    Returns the manifest the facts match (None for an index built before manifests existed);
    raises StoreError naming what does not match.
    """
    committed = read_manifest(index_dir / MANIFEST_NAME)
    try:
        pending = read_manifest(index_dir / NEXT_MANIFEST_NAME)
    except StoreError:
        pending = None  # a half-written next manifest of a killed build: only the committed one counts
    path = index_dir / DB_NAME
    if facts_sha is None:
        facts_sha = facts_digest(index_dir, path)
    if committed is None:
        if pending is None or pending["facts"].get("sha256") != facts_sha:
            return None  # an index built before manifests existed: only the SQLite format check applies
        committed = pending  # first build killed after its swaps: the next manifest describes them
    candidates = [m for m in (committed, pending) if m is not None]
    facts_ok = [m for m in candidates if m["facts"].get("sha256") == facts_sha]
    if not facts_ok:
        raise _damaged(index_dir, f"{DB_NAME} does not match the index manifest (checksum)")
    retrieval_dir = index_dir / RETRIEVAL_SUBDIR
    if retrieval_dir.exists() and any(m.get("retrieval") is not None for m in candidates):
        got = retrieval_digest(index_dir, retrieval_dir)
        if not any(m.get("retrieval") == got for m in candidates if m.get("retrieval") is not None):
            if any(m.get("retrieval") is not None for m in candidates):
                bad = sorted(set(got) ^ set(committed.get("retrieval") or {})) or sorted(
                    k for k, v in got.items() if (committed.get("retrieval") or {}).get(k) != v
                )
                raise _damaged(
                    index_dir, f"{RETRIEVAL_SUBDIR}/{bad[0] if bad else ''} does not match the index manifest"
                )
    return facts_ok[0]
