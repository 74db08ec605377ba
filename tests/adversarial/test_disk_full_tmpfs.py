"""The home on a real, small tmpfs, filled by the test: what a user meets when the disk fills.

Issue 13, deliverable 4. A 2 MiB tmpfs is mounted under the test's folder (root
only; skipped with the reason otherwise) and the home lives on it; the folder
the user approved for writes is *not* on it, so a refused write is refused by
the policy, not by the file system. The test fills the disk with its own filler
file and later deletes it, as a user freeing space would.

What must hold, through the real companion (policy runtime, gate, effectors,
conductor and memory, reflex replies):

* side effects are denied, because their audit row cannot be written: no file
  appears in the approved folder without an ``allow`` row for it;
* chat keeps answering;
* the posture names the storage problem: the data folder, the space Aether
  wants and the space there is;
* nothing is corrupted: both databases pass ``PRAGMA integrity_check``,
  ``aether audit verify`` exits 0, and every memory written before the fill is
  still there, also after a writer was killed while the disk was full;
* when space returns, the next side effect is allowed and audited and the
  posture clears, without a restart.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from disk_support import SmallDisk, app_db_integrity, audit_db_integrity, small_disk
from keyring_support import no_keyring

from aether_qt.companion import Companion
from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.policy.decisions import ApprovalChoice
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.storage.errors import DiskFullError, StorageError
from aether_qt.storage.space import human_size

FACTS = ("my sister's name is Mira", "my dog is called Rex", "I was born in Lisbon")
STORAGE_FLAG = "storage_full"


@pytest.fixture(autouse=True)
def _reflex_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No keyring (keys in the opt-in file), no embedder (memory is FTS5 only): fast and local."""
    monkeypatch.setenv("AETHER_NO_EMBEDDER", "1")
    with no_keyring():
        yield


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with small_disk(tmp_path / "disk", size="2m") as mounted:
        yield mounted


def open_companion(paths: AppPaths) -> Companion:
    return Companion.open(paths, allow_key_file=True, install_guard=False, load_model=False)


def audit_verify(paths: AppPaths) -> subprocess.CompletedProcess[str]:
    """``aether audit verify`` in its own process, as a user would run it."""
    home = paths.data_dir.parent
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    env.pop("AETHER_HOME", None)
    argv = [sys.executable, "-m", "aether_qt.cli", "--home", str(home), "--allow-key-file", "audit", "verify"]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)


def allowed_files(comp: Companion) -> set[str]:
    """Files the audit log says the gate allowed to be created."""
    assert comp.runtime.audit is not None
    return {
        row.resource
        for row in comp.runtime.audit.rows()
        if row.capability == "files.create" and row.decision == "allow"
    }


def write_turn(comp: Companion, path: Path) -> bool:
    """Ask for a file in a turn and approve it once, as the user would; True when it was written."""
    report = comp.conductor.run_turn(f"write {path} hello from the full disk")
    assert report is not None
    if report.ticket_id:
        decision, _ = comp.conductor.answer(report.ticket_id, ApprovalChoice.ALLOW_ONCE)
        assert decision.kind in ("allow", "deny"), decision
    return path.is_file()


def test_a_full_home_denies_side_effects_keeps_chatting_and_recovers_without_restart(
    disk: SmallDisk, tmp_path: Path
) -> None:
    paths = resolve_paths(disk.root / "home")
    docs = tmp_path / "docs"  # the approved folder is on another disk: only the policy can refuse
    docs.mkdir()
    with PolicyRuntime.open(paths, allow_key_file=True) as runtime:  # as `aether policy roots add`
        runtime.set_roots((docs,))
    with open_companion(paths) as comp:
        for fact in FACTS:
            report = comp.conductor.run_turn(f"remember that {fact}")
            assert report is not None and report.outcome == "Answered", report
        assert write_turn(comp, docs / "before.txt")
        assert not [f for f in comp.runtime.posture() if f.flag == STORAGE_FLAG]

        disk.fill(margin=4096)
        written = [write_turn(comp, docs / f"full-{i}.txt") for i in range(6)]
        # a row or two may still fit in the WAL's last page; then the gate must refuse
        assert written[-3:] == [False] * 3, written
        created = {str(p) for p in docs.iterdir()}
        assert created <= allowed_files(comp), "a file was written without its allow row"

        chat = comp.conductor.run_turn("hello")
        assert chat is not None and chat.outcome == "Answered" and chat.reply.strip(), chat

        [flag] = [f for f in comp.runtime.posture() if f.flag == STORAGE_FLAG]
        assert "audit_broken" not in {f.flag for f in comp.runtime.posture()}, "the cause is named"
        assert flag.space is not None
        assert flag.space.folder == paths.data_dir
        assert flag.space.free <= 4096 < flag.space.wanted
        assert str(paths.data_dir) in flag.message
        assert human_size(flag.space.wanted) in flag.message
        assert human_size(flag.space.free) in flag.message
        assert not comp.runtime.check_storage(), "nothing was freed: still refused"

        disk.release()
        assert write_turn(comp, docs / "after.txt"), "space returned: the next write is allowed"
        assert str(docs / "after.txt") in allowed_files(comp)
        flags = {f.flag for f in comp.runtime.posture()}
        assert STORAGE_FLAG not in flags and "audit_broken" not in flags, flags
        assert comp.memory is not None
        kept = {item.text for item in comp.memory.list_items()}
        assert set(FACTS) <= kept

    assert app_db_integrity(paths) == "ok"
    assert audit_db_integrity(paths) == "ok"
    verified = audit_verify(paths)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_check_again_resumes_before_any_side_effect(disk: SmallDisk) -> None:
    """The banner's "Check again" (``check_storage``) resumes the gate as soon as there is room."""
    paths = resolve_paths(disk.root / "home")
    with open_companion(paths) as comp:
        disk.fill()
        report = comp.conductor.run_turn("remember that my cat is Tom")
        assert report is not None and report.outcome == "Denied", report
        assert STORAGE_FLAG in {f.flag for f in comp.runtime.posture()}
        disk.release()
        assert comp.runtime.check_storage()
        assert not comp.runtime.gate.degraded
        assert STORAGE_FLAG not in {f.flag for f in comp.runtime.posture()}
        report = comp.conductor.run_turn("remember that my cat is Tom")
        assert report is not None and report.outcome == "Answered", report
    assert audit_verify(paths).returncode == 0


def test_opening_a_home_on_a_full_disk_says_the_disk_is_full(disk: SmallDisk) -> None:
    paths = resolve_paths(disk.root / "home")
    with open_companion(paths) as comp:
        report = comp.conductor.run_turn(f"remember that {FACTS[0]}")
        assert report is not None and report.outcome == "Answered"
    disk.fill()
    with pytest.raises(DiskFullError) as raised:
        PolicyRuntime.open(paths, allow_key_file=True)
    assert raised.value.space is not None and raised.value.space.folder == paths.data_dir
    assert str(paths.data_dir) in str(raised.value)
    disk.release()
    with open_companion(paths) as comp:
        assert comp.memory is not None
        assert FACTS[0] in {item.text for item in comp.memory.list_items()}


# ---------------------------------------------------------------- a writer killed on a full disk


def _writer(paths: AppPaths, go_fd: int, ack_fd: int) -> None:  # pragma: no cover - forked child
    """Remember facts forever; ``ok <text>`` after each kept one, ``full`` after each refused one."""
    try:
        comp = open_companion(paths)
        os.write(ack_fd, b"ready\n")
        os.read(go_fd, 1)  # the parent filled the disk
        i = 0
        while True:
            text = f"fact {i} is {'x' * 300}"
            report = comp.conductor.run_turn(f"remember that {text}")
            kept = report is not None and report.outcome == "Answered" and "remember" in report.reply
            os.write(ack_fd, (f"ok {text}\n" if kept else "full\n").encode())
            i += 1
    finally:
        os._exit(3)


def _lines(fd: int, until: str, timeout: float) -> list[str]:
    """Read lines from ``fd`` until one equals ``until`` (or the timeout)."""
    data, end = b"", time.monotonic() + timeout
    while time.monotonic() < end:
        if select.select([fd], [], [], 0.05)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
            if f"\n{until}\n".encode() in b"\n" + data:
                break
    return data.decode().splitlines()


def test_a_writer_killed_while_the_disk_is_full_leaves_databases_that_open(disk: SmallDisk) -> None:
    paths = resolve_paths(disk.root / "home")
    with open_companion(paths) as comp:
        for fact in FACTS:
            report = comp.conductor.run_turn(f"remember that {fact}")
            assert report is not None and report.outcome == "Answered"
    rng = random.Random(13)
    go_r, go_w = os.pipe()
    ack_r, ack_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        _writer(paths, go_r, ack_w)
    os.close(ack_w)
    try:
        assert _lines(ack_r, "ready", 30) == ["ready"]
        disk.fill(margin=256 * 1024)  # room for a few rows: the write-ahead logs fill mid-write
        os.write(go_w, b"g")
        lines = _lines(ack_r, "full", 60)
        assert lines and lines[-1] == "full", lines[-5:]
        time.sleep(rng.uniform(0.0, 0.05))  # kill it while it keeps trying on the full disk
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    lines += _lines(ack_r, "", 0.2)
    acknowledged = [line[3:] for line in lines if line.startswith("ok ")]
    assert acknowledged, "no fact fitted before the disk was full"

    try:  # still full: a clear error or a runtime that says so, never a new empty database
        runtime = PolicyRuntime.open(paths, allow_key_file=True)
    except StorageError as exc:
        assert isinstance(exc, DiskFullError), exc
    else:
        with runtime:
            assert STORAGE_FLAG in {f.flag for f in runtime.posture()}
    disk.release()
    assert app_db_integrity(paths) == "ok"
    assert audit_db_integrity(paths) == "ok"
    with open_companion(paths) as comp:  # the next start records the crash and goes on
        assert comp.memory is not None
        kept = {item.text for item in comp.memory.list_items(limit=1000)}
        assert set(FACTS) <= kept
        assert set(acknowledged) <= kept
    verified = audit_verify(paths)
    assert verified.returncode == 0, verified.stdout + verified.stderr
