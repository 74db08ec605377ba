"""Typed storage errors: environment problems the user can understand and act on.

Each error carries the database ``path`` it is about and a message that names
that file, so the UI can show ``str(error)`` as is (DESIGN §13: say it, keep
working). Programming errors (bad SQL in the app itself, wrong arguments) are
not translated into these; they go to the crash handler.

Messages never contain row data, only file names, versions and SQLite's own
error text, so no secret can leak through an exception.
"""

from __future__ import annotations

import errno
from pathlib import Path

import peewee

from aether_qt.core.errors import ExplainedError
from aether_qt.storage.space import FreeSpace, measure


class StorageError(ExplainedError):
    """Base of every storage error.

    Attributes:
        path: the database (or folder) the problem is about.
        detail: the underlying technical reason (SQLite or OS error text).
    """

    def __init__(self, message: str, *, path: Path, detail: str = "") -> None:
        """Build the error from a complete user-facing ``message``."""
        super().__init__(message)
        self.path = path
        self.detail = detail

    @property
    def user_message(self) -> str:
        """The text to show in a banner or dialog."""
        return str(self)


class DatabaseLockedError(StorageError):
    """Another program (or another Aether) holds a lock on the database."""

    def __init__(self, path: Path, *, detail: str = "database is locked") -> None:
        """Describe the lock on ``path``."""
        super().__init__(
            f"The database {path} is locked by another program (is Aether already running?). "
            "Close it and try again.",
            path=path,
            detail=detail,
        )


class DatabaseCorruptError(StorageError):
    """The file is not an SQLite database or its pages are damaged."""

    def __init__(self, path: Path, *, detail: str) -> None:
        """Describe the damage found in ``path``."""
        super().__init__(
            f"The database {path} is damaged ({detail}). "
            "Restore a backup copy or move the file away to start fresh.",
            path=path,
            detail=detail,
        )


class DatabaseUnreadableError(StorageError):
    """The file cannot be opened: permissions, a folder in its place, a bad path."""

    def __init__(self, path: Path, *, detail: str) -> None:
        """Describe why ``path`` cannot be opened."""
        super().__init__(
            f"The database {path} cannot be opened ({detail}). "
            "Check that it is a file you may read and write.",
            path=path,
            detail=detail,
        )


class SchemaTooNewError(StorageError):
    """The database was written by a newer Aether than this one.

    Attributes:
        db_version: the newest migration recorded in the database.
        app_version: the newest migration this app knows.
    """

    def __init__(self, path: Path, *, db_version: int, app_version: int) -> None:
        """Describe the version mismatch of ``path``."""
        super().__init__(
            f"The database {path} has schema version {db_version}, but this version of Aether "
            f"only knows up to version {app_version}. Update Aether to open it.",
            path=path,
            detail=f"schema {db_version} > {app_version}",
        )
        self.db_version = db_version
        self.app_version = app_version


class MigrationError(StorageError):
    """A migration could not be applied (or an applied one was changed).

    Attributes:
        migration: file name of the migration concerned (``0002_policy.sql``).
    """

    def __init__(self, path: Path, *, migration: str, detail: str) -> None:
        """Describe the failure of ``migration`` on ``path``."""
        super().__init__(
            f"Updating the database {path} failed in migration {migration}: {detail}. "
            "The database was left unchanged.",
            path=path,
            detail=detail,
        )
        self.migration = migration


class DataKeyError(StorageError):
    """The encrypted database cannot be opened with the data key at hand (wrong, missing, or a damaged file).

    Nothing is written: the file stays exactly as it was, and no new database
    is ever created in its place.
    """

    def __init__(self, path: Path, *, detail: str) -> None:
        """Describe why ``path`` cannot be decrypted."""
        super().__init__(
            f"Your memories in {path} are locked: {detail}. Nothing was changed. Unlock the keyring "
            "that holds Aether's data key (or restore the key file) and start Aether again.",
            path=path,
            detail=detail,
        )


class DiskFullError(StorageError):
    """The disk (or the database's size limit) is full.

    Attributes:
        space: the space in the database's folder when the error was raised (the
            folder, what Aether wants there, what is free), or ``None`` when it
            could not be measured.
    """

    def __init__(
        self, path: Path, *, detail: str = "database or disk is full", space: FreeSpace | None = None
    ) -> None:
        """Describe the full disk under ``path``, with the numbers of ``space`` when known."""
        numbers = f" {space.sentence()}." if space is not None else ""
        super().__init__(
            f"The disk holding {path} is full.{numbers} Free some space; until then Aether is read-only.",
            path=path,
            detail=detail,
        )
        self.space = space


# Primary SQLite result codes (the low byte of an extended code) by category.
_CODE_CATEGORIES: dict[int, str] = {
    3: "unreadable",  # SQLITE_PERM
    5: "locked",  # SQLITE_BUSY
    6: "locked",  # SQLITE_LOCKED
    8: "unreadable",  # SQLITE_READONLY
    10: "unreadable",  # SQLITE_IOERR
    11: "corrupt",  # SQLITE_CORRUPT
    13: "full",  # SQLITE_FULL
    14: "unreadable",  # SQLITE_CANTOPEN
    26: "corrupt",  # SQLITE_NOTADB
}

# Fallback when an exception carries no result code (wrapped or older drivers).
_MESSAGE_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("database is locked", "locked"),
    ("database table is locked", "locked"),
    ("file is not a database", "corrupt"),
    ("malformed", "corrupt"),
    ("database or disk is full", "full"),
    ("unable to open", "unreadable"),
    ("readonly database", "unreadable"),
    ("disk i/o error", "unreadable"),
)

_UNREADABLE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR, errno.EROFS})
_SQLITE_IOERR = 10


def _unwrap(exc: BaseException) -> BaseException:
    """Return the driver's exception hidden inside a peewee wrapper, if any."""
    if isinstance(exc, peewee.PeeweeException):
        orig = getattr(exc, "orig", None)  # peewee >= 3.17 keeps the driver error here
        if isinstance(orig, BaseException):
            return orig
        if exc.args and isinstance(exc.args[0], BaseException):
            return exc.args[0]
    return exc


def _category(exc: BaseException, detail: str) -> str | None:
    """Classify ``exc`` as locked / corrupt / full / unreadable, or ``None``."""
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return "full"
        if exc.errno in _UNREADABLE_ERRNOS:
            return "unreadable"
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _CODE_CATEGORIES:
        return _CODE_CATEGORIES[code & 0xFF]
    lowered = detail.lower()
    for needle, category in _MESSAGE_CATEGORIES:
        if needle in lowered:
            return category
    return None


def _io_error(exc: BaseException, detail: str) -> bool:
    """Whether ``exc`` is SQLite's generic I/O error (what it raises when its shared memory cannot grow)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF == _SQLITE_IOERR
    return "disk i/o error" in detail.lower()


def is_disk_full(exc: BaseException, path: Path) -> bool:
    """Whether ``exc`` (or an error it was raised from) means the disk holding ``path`` is full.

    The policy layer uses this to tell a write that failed for want of space,
    which the user can fix and after which writing may resume, from any other
    failure.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(translate_sqlite_error(current, path), DiskFullError):
            return True
        current = current.__cause__ or current.__context__
    return False


def translate_sqlite_error(exc: BaseException, path: Path) -> StorageError:
    """Map a sqlite3, peewee or OS error about ``path`` to a typed storage error.

    The SQLite result code decides when the driver provides one, else the
    message text. An error that matches nothing known becomes a plain
    :class:`StorageError` carrying the original text, so callers can still show
    it; they should treat it as unexpected and log its traceback.

    Args:
        exc: the exception caught around a database operation.
        path: the database file the operation was about.

    Returns:
        The typed error, to raise with ``raise translate_sqlite_error(e, p) from e``.
    """
    inner = _unwrap(exc)
    if isinstance(inner, StorageError):
        return inner
    detail = str(inner) or type(inner).__name__
    if isinstance(inner, OSError) and inner.strerror:
        detail = inner.strerror
    category = _category(inner, detail)
    space = measure(path.parent) if category in ("full", "unreadable") else None
    if category == "unreadable" and _io_error(inner, detail) and space is not None and not space.enough:
        category = "full"  # SQLite reports a failed write to its WAL or shared memory as an I/O error
    if category == "locked":
        return DatabaseLockedError(path, detail=detail)
    if category == "corrupt":
        return DatabaseCorruptError(path, detail=detail)
    if category == "full":
        return DiskFullError(path, detail=detail, space=space)
    if category == "unreadable":
        return DatabaseUnreadableError(path, detail=detail)
    return StorageError(f"The database {path} reported an error: {detail}", path=path, detail=detail)
