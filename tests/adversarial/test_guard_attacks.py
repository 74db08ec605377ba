"""With the guard installed, ungated writes, connections and processes fail loudly.

Each test runs in a fresh interpreter (``guard_support``): an audit hook can never be
removed, so installing one in the pytest process would guard the rest of the test run.
The routes around the guard that were closed later are in ``test_guard_holes.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from guard_support import INSTALL, PRELUDE, run_guarded, violation


def test_writes_outside_the_data_folder_raise(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "existing.txt").write_text("keep", encoding="utf-8")
    out = run_guarded(
        """
        attempt("outside", lambda: write(outside / "a.txt"))
        attempt("inside", lambda: write(data / "a.txt"))
        attempt("pathlib", lambda: (outside / "b.txt").write_text("x"))
        attempt("os_open", lambda: os.close(os.open(outside / "c.txt", os.O_WRONLY | os.O_CREAT)))
        attempt("devnull", lambda: write(os.devnull))
        attempt("relative", lambda: write("rel.txt"))  # the working folder is outside
        attempt("symlink", lambda: write(data / "link"))
        attempt("read_outside", lambda: (outside / "existing.txt").read_text())
        attempt("remove_outside", lambda: os.remove(outside / "existing.txt"))
        attempt("rename_out", lambda: os.rename(data / "a.txt", outside / "moved.txt"))
        attempt("mkdir_outside", lambda: os.mkdir(outside / "newdir"))
        def database():
            db = sqlite3.connect(data / "app.db")
            db.execute("create table t (x)")
            db.execute("insert into t values (1)")
            db.commit()
            db.close()
        attempt("sqlite_in_data", database)
        results["bytecode_off"] = sys.dont_write_bytecode
        with guard.effector():
            attempt("effector_write", lambda: write(outside / "gated.txt"))
        attempt("after_effector", lambda: write(outside / "late.txt"))
        """,
        tmp_path,
        before='os.chdir(outside)\n(data / "link").symlink_to(outside / "via-link.txt")\n',  # planted earlier
    )
    for name in ("outside", "pathlib", "os_open", "relative", "symlink", "remove_outside"):
        assert violation(out[name]), name
    for name in ("rename_out", "mkdir_outside", "after_effector"):
        assert violation(out[name]), name
    for name in ("inside", "devnull", "read_outside", "sqlite_in_data", "effector_write"):
        assert out[name] == "ok", name
    assert out["bytecode_off"] is True
    outside = tmp_path / "outside"
    assert sorted(p.name for p in outside.iterdir()) == ["existing.txt", "gated.txt"]
    assert (tmp_path / "data" / "a.txt").exists()
    assert out["violations"] == 9


def test_non_loopback_connections_raise_before_any_packet(tmp_path: Path) -> None:
    out = run_guarded(
        """
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        def connect(host, port, timeout=2.0):
            with socket.socket() as client:  # no name resolution: that has its own rule
                client.settimeout(timeout)
                client.connect((host, port))
        def udp(host):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(b"x", (host, 9))
        attempt("remote", lambda: connect("10.255.255.1", 9))
        attempt("remote_udp", lambda: udp("10.255.255.1"))
        attempt("loopback", lambda: connect("127.0.0.1", port))
        attempt("loopback_udp", lambda: udp("127.0.0.1"))
        unix_path = str(data / "s.sock")
        unix = socket.socket(socket.AF_UNIX)
        unix.bind(unix_path)  # a socket file in the data folder may be created
        unix.listen()
        def unix_connect():
            with socket.socket(socket.AF_UNIX) as c:
                c.connect(unix_path)
        attempt("unix", unix_connect)
        with guard.effector():
            attempt("effector_loopback", lambda: connect("127.0.0.1", port))
            attempt("effector_remote", lambda: connect("10.255.255.1", 9, timeout=0.3))
        listener.close()
        unix.close()
        """,
        tmp_path,
    )
    assert violation(out["remote"])
    assert "10.255.255.1:9" in str(out["remote"])
    assert violation(out["remote_udp"])
    for name in ("loopback", "loopback_udp", "effector_loopback"):
        assert out[name] == "ok", name
    assert violation(out["unix"])  # not the session bus, sound or X server: see test_guard_holes
    assert not violation(out["effector_remote"])  # timed out, refused or connected: not the guard
    assert out["violations"] == 3


def test_starting_processes_raises(tmp_path: Path) -> None:
    out = run_guarded(
        """
        attempt("subprocess", lambda: subprocess.run(["true", "--token=hunter2"], check=True))
        attempt("popen_shell", lambda: subprocess.run("true", shell=True, check=True))
        attempt("system", lambda: os.system("true hunter2"))
        attempt("execv", lambda: os.execv("/bin/echo", ["echo", "REPLACED"]))
        attempt("posix_spawn", lambda: os.posix_spawn("/bin/true", ["true"], os.environ))
        attempt("spawnv", lambda: os.spawnv(os.P_WAIT, "/bin/true", ["true"]))  # forks first
        with guard.effector():
            attempt("effector_subprocess", lambda: subprocess.run(["true"], check=True))
            results["effector_system"] = os.system("true")
        def other_thread():
            attempt("thread_inside_effector", lambda: subprocess.run(["true"], check=True))
        with guard.effector():
            worker = threading.Thread(target=other_thread)
            worker.start()
            worker.join()
        """,
        tmp_path,
    )
    for name in ("subprocess", "popen_shell", "system", "execv", "posix_spawn", "thread_inside_effector"):
        assert violation(out[name]), name
    assert out["spawnv"] == "GuardViolation: os.fork: forking the process"
    assert out["effector_subprocess"] == "ok"
    assert out["effector_system"] == 0
    assert "hunter2" not in json.dumps(out)
    assert out["reported"][0] == "subprocess.Popen: starting true"  # type: ignore[index]


def test_exec_inside_an_effector_replaces_the_process(tmp_path: Path) -> None:
    script = PRELUDE + INSTALL + 'with guard.effector():\n    os.execv("/bin/echo", ["echo", "REPLACED"])\n'
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout == "REPLACED\n"


DISARMABLE = """
guard = Guard([data], temp_dirs=[], on_violation=seen.append, disarmable=True)
guard.install()
"""


def test_a_disarmable_test_guard_can_be_disabled(tmp_path: Path) -> None:
    out = run_guarded(
        """
        attempt("enabled", lambda: write(outside / "x.txt"))
        guard.disable()
        attempt("disabled", lambda: write(outside / "x.txt"))
        attempt("disabled_sqlite", lambda: sqlite3.connect(outside / "x.db").close())
        guard.install()
        attempt("enabled_again", lambda: write(outside / "y.txt"))
        """,
        tmp_path,
        install=DISARMABLE,
    )
    assert violation(out["enabled"])
    assert out["disabled"] == "ok"
    assert out["disabled_sqlite"] == "ok"
    assert violation(out["enabled_again"])
    assert out["violations"] == 2


def test_temp_dir_writes_pass_when_allowed(tmp_path: Path) -> None:
    (tmp_path / "scratch").mkdir()
    out = run_guarded(
        f"""
        guard2 = Guard([data], temp_dirs=[Path({str(tmp_path / "scratch")!r})])
        guard.disable()
        guard2.install()  # its natives are wrapped twice: each wrapper asks its own guard
        attempt("temp", lambda: write(Path({str(tmp_path / "scratch" / "t")!r})))
        attempt("outside", lambda: write(outside / "t"))
        """,
        tmp_path,
        install=DISARMABLE,
    )
    assert out["temp"] == "ok"
    assert violation(out["outside"])
