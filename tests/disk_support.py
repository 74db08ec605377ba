"""A real small disk for a test: a tmpfs the test mounts, fills and unmounts.

Disk-full handling is tested on a file system that is really full, never with
``PRAGMA max_page_count``: SQLite's write-ahead log, its shared-memory file, the
anchor file and the app's own file writes all meet ENOSPC where they would on a
user's full disk. The test (never the app) fills the disk with a filler file
allocated by ``posix_fallocate``, and frees it again by deleting that file.

Mounting needs root (CI and the development machines run as root); elsewhere,
or where the kernel refuses the mount (a container without ``CAP_SYS_ADMIN``),
the test is skipped with the reason. It is never faked.

:func:`app_db_integrity` is the one place a test reads ``aether.db`` without
the app (with the home's data key).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from app_db_support import connect_app_db

from aether_qt.core.paths import AppPaths

FILLER = "filler.bin"


class SmallDisk:
    """A mounted tmpfs and the test's filler file on it.

    Attributes:
        root: the mount point.
        filler: the file that takes the space (outside the app's home).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / FILLER

    def free(self) -> int:
        """Bytes an unprivileged writer may still allocate (``f_bavail``, as the app measures it)."""
        stats = os.statvfs(self.root)
        return stats.f_bavail * stats.f_frsize

    def fill(self, *, margin: int = 0) -> int:
        """Grow the filler until only ``margin`` bytes (rounded to pages) are free; return what is free."""
        wanted = self.free() - margin
        if wanted > 0:
            with self.filler.open("ab") as handle:
                os.posix_fallocate(handle.fileno(), handle.seek(0, os.SEEK_END), wanted)
        return self.free()

    def release(self) -> int:
        """Delete the filler (the user frees space); return what is free now."""
        self.filler.unlink(missing_ok=True)
        return self.free()


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)


@contextmanager
def small_disk(folder: Path, *, size: str = "2m") -> Iterator[SmallDisk]:
    """Mount a tmpfs of ``size`` on ``folder`` for the block, then unmount it.

    Skips the test when not root or when the mount is refused. An unmount that
    fails because something still holds a file open (a connection the app
    leaked) is done lazily and reported as a failure.
    """
    if os.geteuid() != 0:
        pytest.skip("a real full disk needs root to mount a tmpfs (mount -t tmpfs); not root here")
    folder.mkdir(parents=True, exist_ok=True)
    mounted = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder))
    if mounted.returncode != 0:
        pytest.skip(f"mount -t tmpfs was refused: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield SmallDisk(folder)
    finally:
        done = _run("umount", str(folder))
        if done.returncode != 0:
            holders = _holders(folder)
            _run("umount", "-l", str(folder))
            pytest.fail(f"the tmpfs at {folder} was still busy at the end: {done.stderr.strip()}; {holders}")


def _holders(folder: Path) -> list[str]:
    """``pid: file`` for every open file under ``folder`` (to name a leaked connection)."""
    found = []
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(f"{folder}/"):
            found.append(f"{fd.parts[2]}: {target}")
    return found


def app_db_integrity(paths: AppPaths) -> str:
    """``PRAGMA integrity_check`` of the home's encrypted ``aether.db``, read with its key."""
    conn = connect_app_db(paths)
    try:
        return "; ".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def audit_db_integrity(paths: AppPaths) -> str:
    """``PRAGMA integrity_check`` of the home's ``audit.db`` (never encrypted)."""
    conn = sqlite3.connect(paths.audit_db)
    try:
        return "; ".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()
