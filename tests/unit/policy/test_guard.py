"""The guard's rules, tested in-process without installing the hook.

The installed hook is exercised in subprocesses by ``tests/adversarial/test_guard_attacks.py``
(audit hooks cannot be removed).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

import pytest

from aether_qt.policy.contracts import PolicyError
from aether_qt.policy.guard import (
    WATCHED_EVENTS,
    AuditHook,
    Guard,
    GuardRoots,
    GuardViolation,
    Violation,
    check_event,
    default_temp_dirs,
    make_roots,
)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder.resolve()


@pytest.fixture
def roots(data: Path, tmp_path: Path) -> GuardRoots:
    (tmp_path / "tmp").mkdir()
    return make_roots([data], [tmp_path / "tmp"])


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder.resolve()


# ---------------------------------------------------------------- open
@pytest.mark.parametrize(
    ("mode", "flags"),
    [("w", 0), ("a", 0), ("x", 0), ("r+", 0), (None, os.O_WRONLY), (None, os.O_RDWR), (None, os.O_CREAT)],
)
def test_write_opens_outside_are_violations(
    mode: str | None, flags: int, roots: GuardRoots, outside: Path, data: Path
) -> None:
    reason = check_event("open", (str(outside / "f"), mode, flags), roots)
    assert reason == f"open: write outside the data folder: {outside / 'f'}"
    assert check_event("open", (str(data / "f"), mode, flags), roots) is None


def test_reads_and_descriptors_pass(roots: GuardRoots, outside: Path) -> None:
    assert check_event("open", (str(outside / "f"), "r", os.O_RDONLY), roots) is None
    assert check_event("open", (str(outside / "f"), None, "odd"), roots) is None
    assert check_event("open", (5, "w", os.O_WRONLY), roots) is None


def test_special_and_temp_paths_pass(
    roots: GuardRoots, tmp_path: Path, data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert check_event("open", (os.devnull, "w", 0), roots) is None
    assert check_event("open", (str(data), "w", 0), roots) is None  # the root itself
    assert check_event("open", (os.fsencode(data / "b"), "w", 0), roots) is None  # bytes paths
    with caplog.at_level(logging.DEBUG, logger="aether_qt.policy.guard"):
        assert check_event("open", (tmp_path / "tmp" / "scratch", "w", 0), roots) is None
    assert "temp folder" in caplog.text


def test_symlinks_and_dotdot_resolved(roots: GuardRoots, data: Path, outside: Path) -> None:
    (data / "link").symlink_to(outside / "target")
    assert check_event("open", (str(data / "link"), "w", 0), roots) is not None
    assert check_event("open", (str(data / ".." / "outside" / "f"), "w", 0), roots) is not None
    assert check_event("open", (f"{data}-evil/f", "w", 0), roots) is not None  # prefix is not a parent


def test_relative_paths_resolve_against_cwd(
    roots: GuardRoots, data: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(outside)
    assert check_event("open", ("rel.txt", "w", 0), roots) is not None
    monkeypatch.chdir(data)
    assert check_event("open", ("rel.txt", "w", 0), roots) is None


def test_unresolvable_paths_are_violations(roots: GuardRoots) -> None:
    assert check_event("open", (object(), "w", 0), roots) == "open: unresolvable path"
    assert check_event("open", ("a\x00b", "w", 0), roots) == "open: unresolvable path"


# ---------------------------------------------------------------- other file events
def test_path_events(roots: GuardRoots, data: Path, outside: Path) -> None:
    inside, out = str(data / "a"), str(outside / "a")
    assert check_event("os.remove", (out, -1), roots) is not None
    assert check_event("os.remove", (inside, -1), roots) is None
    assert check_event("os.rename", (inside, out, -1, -1), roots) is not None  # the second path
    assert check_event("os.rename", (inside, inside, -1, -1), roots) is None
    assert check_event("os.truncate", (out, 0), roots) is not None
    assert check_event("os.truncate", (3, 0), roots) is None
    assert check_event("os.mkdir", (out, 0o777, -1), roots) is not None
    assert check_event("os.symlink", (out, inside, -1), roots) is None  # the link lives inside
    assert check_event("shutil.rmtree", (out, None), roots) is not None


def test_dir_fd_relative_paths(roots: GuardRoots, data: Path, outside: Path) -> None:
    out_fd = os.open(outside, os.O_RDONLY)
    in_fd = os.open(data, os.O_RDONLY)
    try:
        assert check_event("os.remove", ("f", out_fd), roots) is not None
        assert check_event("os.remove", ("f", in_fd), roots) is None
        assert check_event("os.remove", (str(data / "f"), out_fd), roots) is None  # absolute wins
    finally:
        os.close(out_fd)
        os.close(in_fd)
    assert check_event("os.remove", ("f", 987_654), roots) is None  # unknown descriptor: a documented gap


# ---------------------------------------------------------------- sockets
@pytest.mark.parametrize(
    "address",
    [
        None,
        "/run/user/1/bus",
        b"\x00abstract",
        ("127.0.0.1", 80),
        ("127.8.9.1", 1),
        ("localhost", 80),
        ("LOCALHOST", 1),
        ("::1", 80, 0, 0),
        ("::ffff:127.0.0.1", 80, 0, 0),
    ],
)
def test_loopback_and_unix_sockets_pass(address: object, roots: GuardRoots) -> None:
    assert check_event("socket.connect", (object(), address), roots) is None


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        (("10.255.255.1", 9), "10.255.255.1:9"),
        (("example.com", 443), "example.com:443"),
        (("2001:db8::1", 80, 0, 0), "2001:db8::1:80"),
        (("fe80::1%eth0", 80, 0, 0), "fe80::1%eth0:80"),
        ((0, 0), "0:0"),
        (("eth0",), "eth0:?"),
        ((), "None:?"),
        (42, "None:?"),
    ],
)
def test_remote_sockets_are_violations(address: object, shown: str, roots: GuardRoots) -> None:
    for event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        assert check_event(event, (object(), address), roots) == f"{event}: non-loopback address {shown}"


# ---------------------------------------------------------------- processes
@pytest.mark.parametrize(
    ("event", "args", "program"),
    [
        ("subprocess.Popen", ("/usr/bin/git", ["git", "push", "--token=hunter2"], None, None), "git"),
        ("subprocess.Popen", (None, ["curl", "-H", "Authorization: hunter2"], None, None), "curl"),
        ("subprocess.Popen", (None, "echo hunter2", None, None), "a program"),
        ("subprocess.Popen", (None, [], None, None), "a program"),
        ("os.system", ("echo hunter2",), "a shell command"),
        ("os.exec", (b"/bin/true", ["true", "hunter2"], None), "true"),
        ("os.exec", (Path("/bin/true"), ["true"], None), "true"),
        ("os.posix_spawn", ("/bin/true", ["true"], {}), "true"),
        ("os.spawn", (0, "/bin/true", ["true"], None), "true"),
        ("os.startfile", ("C:\\x.exe", "open"), "C:\\x.exe"),
    ],
)
def test_process_starts_are_violations_without_arguments(
    event: str, args: tuple[object, ...], program: str, roots: GuardRoots
) -> None:
    reason = check_event(event, args, roots)
    assert reason == f"{event}: starting {program}"
    assert "hunter2" not in reason


def test_unwatched_events_pass(roots: GuardRoots) -> None:
    assert "import" not in WATCHED_EVENTS
    assert check_event("import", ("json", None, None, None, None), roots) is None
    assert check_event("os.fork", (), roots) is None


# ---------------------------------------------------------------- temp dirs
def test_default_temp_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.delenv(name, raising=False)
    assert default_temp_dirs() == (Path("/tmp"),)
    monkeypatch.setenv("TMP", str(tmp_path))
    assert default_temp_dirs() == (tmp_path,)
    monkeypatch.setenv("TMPDIR", "")
    assert default_temp_dirs() == (tmp_path,)


# ---------------------------------------------------------------- the Guard object
@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> list[AuditHook]:
    """Where ``Guard(add_hook=hooks.append)`` registers its hook: a real one could never be removed."""
    monkeypatch.setattr(sys, "dont_write_bytecode", sys.dont_write_bytecode)  # install() sets it
    return []


def test_guard_hook_rules(data: Path, outside: Path, hooks: list[AuditHook]) -> None:
    seen: list[Violation] = []
    guard = Guard([data], temp_dirs=[], on_violation=seen.append, add_hook=hooks.append)
    assert guard.roots.temp == ()
    guard.install()
    [hook] = hooks
    guard.disable()
    hook("open", (str(outside / "f"), "w", 0))  # not enabled: nothing happens
    guard.install()  # enabled again, still one hook
    assert hooks == [hook]
    hook("open", (str(data / "f"), "w", 0))
    hook("compile", (None, "<x>"))
    with pytest.raises(GuardViolation, match="write outside the data folder") as caught:
        hook("open", (str(outside / "f"), "w", 0))
    assert isinstance(caught.value, PolicyError)
    with guard.effector():
        assert guard.effector_running
        hook("open", (str(outside / "f"), "w", 0))
        with guard.suspended():
            assert not guard.effector_running
            with pytest.raises(GuardViolation):
                hook("os.system", ("true",))
        assert guard.effector_running
    assert not guard.effector_running
    assert guard.violations == 2
    assert seen == [
        Violation("open", f"open: write outside the data folder: {outside / 'f'}"),
        Violation("os.system", "os.system: starting a shell command"),
    ]
    guard.disable()
    hook("os.system", ("true",))
    assert guard.violations == 2


def test_guard_does_not_recurse_from_its_callback(data: Path, hooks: list[AuditHook]) -> None:
    calls: list[str] = []

    def callback(violation: Violation) -> None:
        calls.append(violation.event)
        hooks[0]("os.system", ("nested",))  # ignored while the hook runs

    Guard([data], temp_dirs=[], on_violation=callback, add_hook=hooks.append).install()
    with pytest.raises(GuardViolation):
        hooks[0]("os.system", ("true",))
    assert calls == ["os.system"]


def test_guard_without_callback_still_counts(data: Path, hooks: list[AuditHook]) -> None:
    guard = Guard([data], temp_dirs=[], add_hook=hooks.append)
    guard.install()
    with pytest.raises(GuardViolation):
        hooks[0]("os.system", ("true",))
    assert guard.violations == 1


def test_guard_callback_failure_logs_the_event(
    data: Path, hooks: list[AuditHook], caplog: pytest.LogCaptureFixture
) -> None:
    def callback(violation: Violation) -> None:
        raise RuntimeError("banner broke")

    guard = Guard([data], temp_dirs=[], on_violation=callback, add_hook=hooks.append)
    guard.install()
    with pytest.raises(GuardViolation):
        hooks[0]("os.system", ("true",))
    assert guard.violations == 1
    assert "guard violation callback failed for os.system" in caplog.text


def test_effector_context_is_per_thread(data: Path) -> None:
    guard = Guard([data], temp_dirs=[])
    other: list[bool] = []
    with guard.effector():
        worker = threading.Thread(target=lambda: other.append(guard.effector_running))
        worker.start()
        worker.join()
    assert other == [False]


def test_install_registers_once_and_stops_bytecode(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    hooks: list[AuditHook] = []
    guard = Guard([data], temp_dirs=[], add_hook=hooks.append)
    assert not guard.installed and hooks == []
    try:
        guard.install()
        guard.install()
        assert guard.enabled
        assert guard.installed
        assert sys.dont_write_bytecode is True
        [hook] = hooks
        with pytest.raises(GuardViolation):
            hook("os.system", ("true",))  # the hook registered is this guard's
        assert guard.violations == 1
    finally:
        guard.disable()
    assert not guard.enabled
