"""Free space in Aether's folders: how much there is, and how much Aether wants.

A full disk is an environment problem the user can fix (DESIGN §13), so it is
shown with the numbers needed to fix it: the folder, the space Aether wants
there and the space there is. Aether wants :data:`RESERVE_BYTES` free in its
data folder: room for the audit log's and the app database's write-ahead logs
to grow by a session's worth of rows, and for the checkpoint that folds them
back into the database files. Below that, writes may fail half-way, which
SQLite survives but the user should hear about before it happens.

Measuring is a ``statvfs`` call (microseconds), cheap enough for every posture
refresh. The free space is ``f_bavail``: what an unprivileged writer may still
allocate, which is what SQLite will meet.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

RESERVE_BYTES: Final = 1 << 20
"""What Aether wants free in its data folder before it writes (1 MiB)."""

_UNITS: Final = ("B", "KiB", "MiB", "GiB", "TiB")


@dataclass(frozen=True, slots=True)
class FreeSpace:
    """The space in one folder's file system, measured once.

    Attributes:
        folder: the folder measured (Aether's data folder).
        free: bytes Aether may still write there.
        wanted: bytes Aether wants free there before it writes.
    """

    folder: Path
    free: int
    wanted: int

    @property
    def enough(self) -> bool:
        """Whether there is at least the space Aether wants."""
        return self.free >= self.wanted

    def sentence(self) -> str:
        """The numbers in words: "Aether needs 1.0 MiB free in /x/data; 4.0 KiB is free"."""
        wanted, free = human_size(self.wanted), human_size(self.free)
        return f"Aether needs {wanted} free in {self.folder}; {free} is free"


def human_size(size: int) -> str:
    """``size`` bytes for people: "512 B", "4.0 KiB", "1.5 MiB"."""
    value = float(max(size, 0))
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns at the last unit


def free_bytes(folder: Path) -> int:
    """Bytes an unprivileged writer may allocate on ``folder``'s file system.

    A folder that does not exist yet is measured at its nearest existing parent
    (where it would be created).

    Raises:
        OSError: the file system cannot be asked (no existing parent, or ``statvfs`` failed).
    """
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    stats = os.statvfs(probe)
    return stats.f_bavail * stats.f_frsize


def measure(folder: Path, *, wanted: int = RESERVE_BYTES) -> FreeSpace | None:
    """The space in ``folder`` against ``wanted``; ``None`` when it cannot be measured.

    ``None`` (rather than zero) because a folder that cannot be measured is not
    known to be full, and a banner must not say it is.
    """
    try:
        return FreeSpace(folder, free_bytes(folder), wanted)
    except OSError:
        return None


__all__ = ["RESERVE_BYTES", "FreeSpace", "free_bytes", "human_size", "measure"]
