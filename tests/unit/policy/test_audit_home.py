"""A home's audit log as a whole (aether_qt/policy/audit_home.py): who holds it, its key, anchor, verify."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from audit_support import app_running, tamper
from keyring_support import no_keyring

from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.policy.audit_anchor import AnchorReading
from aether_qt.policy.audit_home import INSTANCE_LOCK, home_in_use, log_key, read_anchors, verify_home
from aether_qt.policy.runtime import PolicyRuntime


@pytest.fixture
def paths(tmp_path: Path) -> Iterator[AppPaths]:
    """A home that ran one session, keys in the opt-in file (the fail keyring for the whole test)."""
    with no_keyring():
        home = resolve_paths(tmp_path / "home")
        with PolicyRuntime.open(home, allow_key_file=True):
            pass
        yield home


def test_a_home_without_a_lock_file_is_not_in_use(tmp_path: Path) -> None:
    assert not home_in_use(resolve_paths(tmp_path / "home"))


def test_a_lock_held_by_another_process_means_the_home_is_in_use(paths: AppPaths) -> None:
    lock = paths.data_dir / INSTANCE_LOCK
    lock.touch()
    assert not home_in_use(paths)
    with app_running(paths):
        assert home_in_use(paths)
        assert home_in_use(paths)  # probing never takes the lock away from its holder
    assert not home_in_use(paths)  # released when the holder ends


def test_a_lock_path_that_cannot_be_opened_is_not_taken_for_a_running_app(
    paths: AppPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(paths.data_dir)  # a socket's path must be short
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(INSTANCE_LOCK)  # exists, but open() fails (ENXIO), as for a file another user owns
        assert (paths.data_dir / INSTANCE_LOCK).exists()
        assert not home_in_use(paths)


def test_a_lock_that_cannot_be_probed_is_not_taken_for_a_running_app(paths: AppPaths) -> None:
    (paths.data_dir / INSTANCE_LOCK).touch()
    calls: list[int] = []

    def no_lock_service(fd: int, operation: int) -> None:  # NFS without its lock daemon
        calls.append(operation)
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    assert not home_in_use(paths, flock=no_lock_service)
    assert calls == [fcntl.LOCK_EX | fcntl.LOCK_NB]


def test_log_key_is_the_key_the_log_names(paths: AppPaths) -> None:
    with PolicyRuntime.open(paths) as rt:
        assert rt.keys is not None
        expected = (rt.keys.public_key, rt.keys.key_id)
    assert log_key(paths.audit_db) == expected


@pytest.mark.parametrize(
    "spoil",
    [
        lambda db: db.unlink(),
        lambda db: (db.unlink(), db.mkdir()),  # cannot be opened
        lambda db: db.write_bytes(b"not a database" * 100),  # cannot be read
        lambda db: tamper(db, "DELETE FROM meta WHERE key = 'key_id'"),
        lambda db: tamper(db, "UPDATE meta SET value = 'not hex' WHERE key = 'public_key'"),
    ],
    ids=["missing", "folder", "garbage", "no key id", "key not hex"],
)
def test_log_key_of_an_unreadable_log_is_empty(paths: AppPaths, spoil: Callable[[Path], object]) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{paths.audit_db}{suffix}").unlink(missing_ok=True)
    spoil(paths.audit_db)
    assert log_key(paths.audit_db) == (b"", "")


def test_without_keys_the_anchor_is_checked_against_the_key_the_log_names(paths: AppPaths) -> None:
    with_keys = read_anchors(paths, None)
    assert with_keys.anchor is not None and with_keys.invalid == ()
    assert with_keys.anchor.key_id == log_key(paths.audit_db)[1]
    paths.audit_db.unlink()  # no log, no keys: nothing to check the anchor against
    assert read_anchors(paths, None) == AnchorReading(None)


def test_verify_home_with_and_without_keys(paths: AppPaths) -> None:
    report = verify_home(paths, allow_key_file=True)
    assert report.status == "intact" and report.anchored
    paths.key_file.unlink()
    report = verify_home(paths)
    assert report.status == "undecidable" and report.reason is None
    assert "no keys: HMAC not checked" in report.message


def test_verify_home_knows_a_session_is_open_while_the_app_runs(paths: AppPaths) -> None:
    with PolicyRuntime.open(paths) as rt:  # a writer whose session is open
        assert rt.audit is not None
        assert verify_home(paths).reason == "unclosed_session"  # nobody holds the home: a crash
        with app_running(paths):
            assert verify_home(paths).status == "intact"  # the app holds it: its session is open
            assert verify_home(paths, live=False).reason == "unclosed_session"
