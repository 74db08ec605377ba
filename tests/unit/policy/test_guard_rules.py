"""The guard's file, database, process and working-folder rules, decided without a hook."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from aether_qt.policy.guard import check_event
from aether_qt.policy.guard_rules import GuardRules, absolute, default_temp_dirs, make_rules, sqlite_file


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder.resolve()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder.resolve()


@pytest.fixture
def rules(data: Path, tmp_path: Path) -> GuardRules:
    (tmp_path / "tmp").mkdir()
    return make_rules([data], [tmp_path / "tmp"])


# ---------------------------------------------------------------- open
@pytest.mark.parametrize(
    ("mode", "flags"),
    [("w", 0), ("a", 0), ("x", 0), ("r+", 0), (None, os.O_WRONLY), (None, os.O_RDWR), (None, os.O_CREAT)],
)
def test_write_opens_outside_are_violations(
    mode: str | None, flags: int, rules: GuardRules, outside: Path, data: Path
) -> None:
    reason = check_event("open", (str(outside / "f"), mode, flags), rules)
    assert reason == f"open: write outside the data folder: {outside / 'f'}"
    assert check_event("open", (str(data / "f"), mode, flags), rules) is None


def test_reads_and_descriptors_pass(rules: GuardRules, outside: Path) -> None:
    assert check_event("open", (str(outside / "f"), "r", os.O_RDONLY), rules) is None
    assert check_event("open", (str(outside / "f"), None, "odd"), rules) is None
    assert check_event("open", (5, "w", os.O_WRONLY), rules) is None


def test_special_and_temp_paths_pass(
    rules: GuardRules, tmp_path: Path, data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert check_event("open", (os.devnull, "w", 0), rules) is None
    assert check_event("open", (str(data), "w", 0), rules) is None  # the root itself
    assert check_event("open", (os.fsencode(data / "b"), "w", 0), rules) is None  # bytes paths
    with caplog.at_level(logging.DEBUG, logger="aether_qt.policy.guard_rules"):
        assert check_event("open", (tmp_path / "tmp" / "scratch", "w", 0), rules) is None
    assert "temp folder" in caplog.text


def test_symlinks_count_as_named_and_where_they_lead(rules: GuardRules, data: Path, outside: Path) -> None:
    (data / "link").symlink_to(outside / "target")
    assert check_event("open", (str(data / "link"), "w", 0), rules) == (
        f"open: write outside the data folder: {outside / 'target'}"
    )
    (outside / "in").symlink_to(data / "f")  # leads inside, but named outside
    assert check_event("open", (str(outside / "in"), "w", 0), rules) is not None
    assert check_event("open", (str(data / ".." / "outside" / "f"), "w", 0), rules) is not None
    assert check_event("open", (f"{data}-evil/f", "w", 0), rules) is not None  # prefix is not a parent
    assert check_event("os.mkdir", (str(data / "."), 0o700, -1), rules) is None
    assert check_event("os.rmdir", (str(data / ".."), -1), rules) is not None


def test_relative_write_opens_are_refused_wherever_the_working_folder_is(
    rules: GuardRules, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(data)
    assert (
        check_event("open", ("rel.txt", "w", 0), rules) == "open: relative path opened for writing: rel.txt"
    )
    assert check_event("open", (b"rel.txt", None, os.O_WRONLY), rules) is not None
    assert check_event("open", ("rel.txt", "r", 0), rules) is None


def test_unresolvable_paths_are_violations(rules: GuardRules) -> None:
    assert check_event("open", (object(), "w", 0), rules) == "open: unresolvable path"
    assert check_event("open", ("/a\x00b", "w", 0), rules) == "open: unresolvable path"
    assert check_event("os.remove", ("a\x00b", -1), rules) == "os.remove: unresolvable path"


# ---------------------------------------------------------------- other file events
def test_path_events(rules: GuardRules, data: Path, outside: Path) -> None:
    inside, out = str(data / "a"), str(outside / "a")
    assert check_event("os.remove", (out, -1), rules) is not None
    assert check_event("os.remove", (inside, -1), rules) is None
    assert check_event("os.rename", (inside, out, -1, -1), rules) is not None  # the second path
    assert check_event("os.rename", (out, inside, -1, -1), rules) is not None  # the first path
    assert check_event("os.rename", (inside, inside, -1, -1), rules) is None
    assert check_event("os.link", (out, inside, -1, -1), rules) is not None  # a hard link to outside
    assert check_event("os.link", (inside, inside + "2", -1, -1), rules) is None
    assert check_event("os.truncate", (out, 0), rules) is not None
    assert check_event("os.mkdir", (out, 0o777, -1), rules) is not None
    assert check_event("os.setxattr", (out, "user.a", b"1", 0), rules) is not None
    assert check_event("os.removexattr", (inside, "user.a"), rules) is None
    assert check_event("shutil.rmtree", (out, None), rules) is not None


def test_symlink_targets_must_stay_inside(rules: GuardRules, data: Path, outside: Path) -> None:
    link = str(data / "l")
    assert check_event("os.symlink", (str(outside / "f"), link, -1), rules) == (
        f"os.symlink: link target outside the data folder: {outside / 'f'}"
    )
    assert check_event("os.symlink", ("../outside/f", link, -1), rules) is not None  # relative to the link
    assert check_event("os.symlink", ("..", link, -1), rules) is not None
    assert check_event("os.symlink", ("f", link, -1), rules) is None
    assert check_event("os.symlink", (str(data / "f"), str(outside / "l"), -1), rules) is not None
    assert check_event("os.symlink", ("", link, -1), rules) == "os.symlink: unresolvable path"
    assert check_event("os.symlink", (object(), link, -1), rules) == "os.symlink: unresolvable path"


def test_descriptors_and_dir_fds_are_placed(rules: GuardRules, data: Path, outside: Path) -> None:
    (outside / "f").write_text("x")
    (data / "f").write_text("x")
    out_fd = os.open(outside, os.O_RDONLY)
    in_fd = os.open(data, os.O_RDONLY)
    file_fd = os.open(outside / "f", os.O_RDONLY)
    read, write = os.pipe()
    try:
        assert check_event("os.remove", ("f", out_fd), rules) is not None
        assert check_event("os.remove", ("f", in_fd), rules) is None
        assert check_event("os.remove", (str(data / "f"), out_fd), rules) is None  # absolute wins
        assert check_event("os.chmod", (file_fd, 0o777, -1), rules) is not None  # fchmod
        assert check_event("os.utime", (in_fd, None, None, -1), rules) is None
        assert check_event("os.chmod", (read, 0o777, -1), rules) == "os.chmod: unresolvable path"  # a pipe
    finally:
        for fd in (out_fd, in_fd, file_fd, read, write):
            os.close(fd)
    assert check_event("os.remove", ("f", 987_654), rules) == "os.remove: unresolvable path"
    assert check_event("os.chmod", (987_654, 0o777, -1), rules) == "os.chmod: unresolvable path"


def test_deleted_files_cannot_be_placed(rules: GuardRules, data: Path) -> None:
    fd = os.open(data / "gone", os.O_RDWR | os.O_CREAT)
    try:
        os.unlink(data / "gone")
        assert check_event("os.truncate", (fd, 0), rules) == "os.truncate: unresolvable path"
    finally:
        os.close(fd)


def test_relative_paths_of_other_events_resolve_against_the_working_folder(
    rules: GuardRules, data: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(outside)
    assert check_event("os.remove", ("rel.txt", -1), rules) is not None
    monkeypatch.chdir(data)
    assert check_event("os.remove", ("rel.txt", -1), rules) is None
    assert absolute("rel.txt") == str(data / "rel.txt")


# ---------------------------------------------------------------- SQLite
def test_sqlite_connections_outside_are_violations(rules: GuardRules, data: Path, outside: Path) -> None:
    assert check_event("sqlite3.connect", (str(outside / "x.db"),), rules) == (
        f"sqlite3.connect: database outside the data folder: {outside / 'x.db'}"
    )
    assert check_event("sqlite3.connect", (outside / "x.db",), rules) is not None  # a Path
    assert check_event("sqlite3.connect", (os.fsencode(data / "x.db"),), rules) is None
    for name in (":memory:", "", "file::memory:?cache=shared", "file:any?mode=memory&cache=shared", "file:"):
        assert check_event("sqlite3.connect", (name,), rules) is None, name
    assert check_event("sqlite3.connect", (f"file:{data}/x.db?mode=ro",), rules) is None
    assert check_event("sqlite3.connect", (f"file://localhost{data}/x.db#frag",), rules) is None
    assert check_event("sqlite3.connect", (f"file:{outside}/x.db",), rules) is not None
    assert check_event("sqlite3.connect", (f"file:{data}/..%2Foutside/x.db",), rules) is not None  # decoded
    assert check_event("sqlite3.connect", ("file://elsewhere/x.db",), rules) == (
        "sqlite3.connect: unresolvable database name"
    )
    assert check_event("sqlite3.connect", ("file:/x%zz.db",), rules) is not None
    assert check_event("sqlite3.connect", ("file:/x%2",), rules) is not None
    assert check_event("sqlite3.connect", ("file:/x%00.db",), rules) is not None
    assert check_event("sqlite3.connect", (42,), rules) is not None


def test_sqlite_uri_paths_are_percent_decoded(data: Path) -> None:
    assert sqlite_file(f"file:{data}/a%20b%C3%A9.db") == f"{data}/a bé.db"
    assert sqlite_file("file:///tmp/x.db?mode=rwc") == "/tmp/x.db"
    assert sqlite_file(":memory:") is None


# ---------------------------------------------------------------- processes, forks, chdir
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
        ("_posixsubprocess.fork_exec", (b"/usr/bin/curl",), "curl"),
        ("_posixsubprocess.fork_exec", (None,), "a program"),
    ],
)
def test_process_starts_are_violations_without_arguments(
    event: str, args: tuple[object, ...], program: str, rules: GuardRules
) -> None:
    reason = check_event(event, args, rules)
    assert reason == f"{event}: starting {program}"
    assert "hunter2" not in reason


def test_forks_and_working_folder_changes_are_violations(rules: GuardRules, data: Path) -> None:
    assert check_event("os.fork", (), rules) == "os.fork: forking the process"
    assert check_event("os.forkpty", (), rules) == "os.forkpty: forking the process"
    assert check_event("os.chdir", (str(data),), rules) == "os.chdir: changing the working folder"


def test_unwatched_events_pass(rules: GuardRules) -> None:
    assert check_event("compile", (None, "<x>"), rules) is None
    assert check_event("os.listdir", ("/",), rules) is None


# ---------------------------------------------------------------- temp dirs
def test_default_temp_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.delenv(name, raising=False)
    assert default_temp_dirs() == (Path("/tmp"),)
    monkeypatch.setenv("TMP", str(tmp_path))
    assert default_temp_dirs() == (tmp_path,)
    monkeypatch.setenv("TMPDIR", "")
    assert default_temp_dirs() == (tmp_path,)


def test_make_rules_canonicalises_sockets(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    rules = make_rules([], [], unix_sockets=[str(tmp_path / "alias" / "bus"), "\0abstract"])
    assert rules.unix_sockets == {str((tmp_path / "real").resolve() / "bus"), "\0abstract"}
