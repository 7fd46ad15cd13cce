"""The corpus side of a build: which files are reports, their content hashes (with stamps so an
unchanged file is not read again) and the version of the code that parses them."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from assistant.config import Settings
from assistant.store.manifest import sha256_file


def source_stamp(st: os.stat_result) -> list[int]:
    """Size, modification and change times, inode and device of a corpus file: a build that finds a
    file with the stamp it recorded reuses the recorded sha256 instead of reading the file again.

    The change time cannot be set from user space (unlike mtime: touch -d, cp -p, rsync -t), so a
    file rewritten in place or replaced by another one gets another stamp.
    """
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


SUPPORTED = {".txt", ".md", ".pdf", ".docx", ".html", ".htm", ".xlsx", ".xls"}  # = ingest SUPPORTED_SUFFIXES


def corpus_files(settings: Settings) -> tuple[list[Path], list[tuple[str, str]]]:
    """Report files under the corpus paths, sorted by name; and files skipped with a reason.

    Symbolic links (to files or folders) are skipped unless paths.follow_symlinks is true; hidden
    files and folders are ignored; FIFOs, sockets and devices are skipped (reading one would block).
    """
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    follow = settings.paths.follow_symlinks

    def walk(base: Path) -> None:
        for p in sorted(base.rglob("*")):
            if any(part.startswith(".") for part in p.relative_to(base).parts):
                continue
            if p.is_symlink():
                if not follow:
                    skipped.append((p.name, "symbolic link not followed (set paths.follow_symlinks = true)"))
                    continue
                if not p.exists():
                    skipped.append((p.name, "broken symbolic link"))
                    continue
                if p.is_dir():
                    walk(p)  # rglob does not descend into linked folders by itself
                    continue
            if p.is_dir():
                continue
            if not p.is_file():
                skipped.append((p.name, "not a regular file"))
                continue
            if p.suffix.lower() not in SUPPORTED:
                skipped.append((p.name, f"unsupported file type {p.suffix or '(none)'}"))
                continue
            files.append(p)

    for base in settings.corpus_dirs:
        if base.is_file():
            files.append(base)
            continue
        if not base.is_dir():
            skipped.append((str(base), "corpus path not found"))
            continue
        walk(base)
    return sorted(dict.fromkeys(files), key=lambda p: (p.name, str(p))), skipped


def parser_version() -> str:
    """Hash of the ingest and parse code (and of naming.py, which derives a report's aliases): facts
    and metadata made by other code are made again."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for sub in ("ingest", "parse"):
        for p in sorted((root / sub).glob("*.py")):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    h.update((root / "naming.py").read_bytes())
    return h.hexdigest()[:16]


# A file changed within this many seconds of being hashed gets no recorded stamp (it is hashed again
# next time): a write in the same timestamp tick as our read would otherwise leave the stamp as it was.
RACY_SECONDS = 2.0


def source_sha(path: Path, known: dict[str, list]) -> tuple[str, list | None]:
    """sha256 of a corpus file and the stamp to record for it (None: do not trust a stamp next time).

    A file whose stamp (size, mtime, ctime, inode, device) is the one recorded by the previous build
    is not read again; see source_stamp and RACY_SECONDS for why that is safe.
    """
    st = os.stat(path)
    stamp = source_stamp(st)
    rec = known.get(str(path))
    if (
        isinstance(rec, list)
        and len(rec) == len(stamp) + 1
        and rec[:-1] == stamp
        and isinstance(rec[-1], str)
    ):
        return rec[-1], rec
    now = time.time_ns()
    sha = sha256_file(path)
    if source_stamp(os.stat(path)) != stamp or max(st.st_mtime_ns, st.st_ctime_ns) > now - RACY_SECONDS * 1e9:
        return sha, None
    return sha, [*stamp, sha]
