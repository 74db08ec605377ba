"""The home's exclusive lock: one holder, released by release() or by the holder's death, never inherited."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aether_qt.core.instance_lock import LOCK_FILE, InstanceLock, holder_pid

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from aether_qt.core.instance_lock import InstanceLock
    lock = InstanceLock.acquire(Path(sys.argv[1]))
    print("held" if lock else "busy", flush=True)
    time.sleep(60)
    """
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "home" / "data"


def hold_in_child(data_dir: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(data_dir)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    return child


def test_the_first_acquire_holds_the_home_and_a_second_one_does_not(data_dir: Path) -> None:
    lock = InstanceLock.acquire(data_dir)
    assert lock is not None and lock.held
    assert data_dir.stat().st_mode & 0o777 == 0o700
    assert lock.path == data_dir / LOCK_FILE
    assert lock.path.stat().st_mode & 0o777 == 0o600
    assert InstanceLock.acquire(data_dir) is None  # another open file, even in this process
    assert holder_pid(data_dir) == os.getpid()
    lock.release()
    lock.release()  # idempotent
    assert not lock.held
    with InstanceLock.acquire(data_dir) as again:  # type: ignore[union-attr]
        assert again.held
    assert not again.held


def test_a_killed_holder_leaves_no_stale_lock(data_dir: Path) -> None:
    child = hold_in_child(data_dir)
    try:
        assert InstanceLock.acquire(data_dir) is None
        assert holder_pid(data_dir) == child.pid
    finally:
        child.kill()
        child.wait(timeout=10)
    lock = InstanceLock.acquire(data_dir)
    assert lock is not None, "the kernel dropped the dead holder's lock"
    assert holder_pid(data_dir) == os.getpid(), "the dead holder's pid is overwritten"
    lock.release()


def test_a_child_process_does_not_inherit_the_lock(data_dir: Path) -> None:
    lock = InstanceLock.acquire(data_dir)
    assert lock is not None
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], close_fds=False)
    try:
        lock.release()
        again = None
        deadline = time.monotonic() + 5  # the kernel may drop the child's copy a moment after exec
        while again is None and time.monotonic() < deadline:
            again = InstanceLock.acquire(data_dir)
            time.sleep(0.01)
        assert again is not None, "a child (a browser, a shell command) must not keep the home locked"
        again.release()
    finally:
        child.kill()
        child.wait(timeout=10)


def test_holder_pid_is_none_when_unknown(data_dir: Path) -> None:
    assert holder_pid(data_dir) is None
    data_dir.mkdir(parents=True)
    (data_dir / LOCK_FILE).write_bytes(b"\xff\xfe not a pid")
    assert holder_pid(data_dir) is None
    (data_dir / LOCK_FILE).write_text("12x\n")
    assert holder_pid(data_dir) is None


def test_an_unusable_data_folder_raises_oserror(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError):
        InstanceLock.acquire(blocker / "data")
