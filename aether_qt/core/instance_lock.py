"""The exclusive lock that makes one app the only one running on a home.

The desktop app takes an ``flock`` on ``<data>/aether.lock`` before it opens a
database and holds it, through the open file, for its whole life. The kernel
releases the lock when the process ends, however it ends, so a crash or a
``kill -9`` never leaves a stale lock: there is nothing to clean up and no
pid to trust. The holder writes its pid into the file, only so that a second
start can name it in a message.

The file is opened close-on-exec: a browser or a shell command started by an
effector must not inherit the lock and keep the home locked after the app has
gone. No Qt here: the lock is plain POSIX and testable without a QApplication.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

LOCK_FILE = "aether.lock"
_MAX_PID_TEXT = 32


class InstanceLock:
    """An exclusive, process-wide lock on one home, held until :meth:`release` or the process ends.

    Use :meth:`acquire`; a context manager releases the lock on exit.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self._path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path) -> InstanceLock | None:
        """Take the lock of the home whose data folder is ``data_dir``, without waiting.

        Returns:
            The held lock, or ``None`` when another process holds it.

        Raises:
            OSError: the data folder or the lock file cannot be created or opened.
        """
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = data_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)  # a crashed holder's pid may still be in the file
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        return cls(path, fd)

    @property
    def path(self) -> Path:
        """The lock file."""
        return self._path

    @property
    def held(self) -> bool:
        """True until :meth:`release`."""
        return self._fd is not None

    def release(self) -> None:
        """Give the lock up (idempotent). The pid stays in the file; only the lock tells who runs."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor of the open file drops the flock

    def __enter__(self) -> InstanceLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def holder_pid(data_dir: Path) -> int | None:
    """The pid the lock's holder wrote, or ``None`` when unknown (for messages only, never for decisions)."""
    try:
        with (data_dir / LOCK_FILE).open("rb") as file:
            text = file.read(_MAX_PID_TEXT).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None
