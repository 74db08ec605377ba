"""With the guard installed, ungated writes, connections and processes fail loudly.

Each test runs in a fresh interpreter: an audit hook can never be removed, so
installing one in the pytest process would guard the rest of the test run.
The script prints one JSON object: action name -> "ok", "GuardViolation: ..." or
the name of any other exception.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

PRELUDE = """
import json, os, socket, sqlite3, subprocess, sys, threading
from pathlib import Path
from aether_qt.policy.guard import Guard, GuardViolation

data, outside = Path(sys.argv[1]), Path(sys.argv[2])
seen = []
guard = Guard([data], temp_dirs=[], on_violation=seen.append)
results = {}

def attempt(name, action):
    try:
        action()
        results[name] = "ok"
    except GuardViolation as exc:
        results[name] = "GuardViolation: " + str(exc)
    except Exception as exc:
        results[name] = type(exc).__name__

def write(path):
    with open(path, "w") as handle:
        handle.write("x")

guard.install()
"""

EPILOGUE = """
results["violations"] = guard.violations
results["reported"] = [v.reason for v in seen]
print(json.dumps(results))
"""


def run_guarded(body: str, tmp_path: Path) -> dict[str, object]:
    """Run PRELUDE + body + EPILOGUE in a clean interpreter and return its results."""
    data, outside = tmp_path / "data", tmp_path / "outside"
    data.mkdir(exist_ok=True)
    outside.mkdir(exist_ok=True)
    script = PRELUDE + textwrap.dedent(body) + EPILOGUE
    done = subprocess.run(
        [sys.executable, "-c", script, str(data.resolve()), str(outside.resolve())],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def violation(result: object) -> bool:
    return isinstance(result, str) and result.startswith("GuardViolation: ")


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
        os.chdir(outside)
        attempt("relative_outside", lambda: write("rel.txt"))
        os.chdir(data)
        attempt("relative_inside", lambda: write("rel.txt"))
        (data / "link").symlink_to(outside / "via-link.txt")
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
    )
    for name in ("outside", "pathlib", "os_open", "relative_outside", "symlink", "remove_outside"):
        assert violation(out[name]), name
    for name in ("rename_out", "mkdir_outside", "after_effector"):
        assert violation(out[name]), name
    for name in ("inside", "devnull", "relative_inside", "read_outside", "sqlite_in_data", "effector_write"):
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
            with socket.create_connection((host, port), timeout=timeout):
                pass
        def udp(host):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(b"x", (host, 9))
        attempt("remote", lambda: connect("10.255.255.1", 9))
        attempt("remote_udp", lambda: udp("10.255.255.1"))
        attempt("loopback", lambda: connect("127.0.0.1", port))
        attempt("loopback_udp", lambda: udp("127.0.0.1"))
        unix_path = str(data / "s.sock")
        unix = socket.socket(socket.AF_UNIX)
        unix.bind(unix_path)
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
    for name in ("loopback", "loopback_udp", "unix", "effector_loopback"):
        assert out[name] == "ok", name
    assert not violation(out["effector_remote"])  # timed out, refused or connected: not the guard
    assert out["violations"] == 2


def test_starting_processes_raises(tmp_path: Path) -> None:
    out = run_guarded(
        """
        attempt("subprocess", lambda: subprocess.run(["true", "--token=hunter2"], check=True))
        attempt("popen_shell", lambda: subprocess.run("true", shell=True, check=True))
        attempt("system", lambda: os.system("true hunter2"))
        attempt("execv", lambda: os.execv("/bin/echo", ["echo", "REPLACED"]))
        attempt("posix_spawn", lambda: os.posix_spawn("/bin/true", ["true"], os.environ))
        results["spawnv_child_status"] = os.spawnv(os.P_WAIT, "/bin/true", ["true"])
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
    assert out["spawnv_child_status"] == 127  # the forked child's exec was refused
    assert out["effector_subprocess"] == "ok"
    assert out["effector_system"] == 0
    assert "hunter2" not in json.dumps(out)
    assert out["reported"][0] == "subprocess.Popen: starting true"  # type: ignore[index]


def test_exec_inside_an_effector_replaces_the_process(tmp_path: Path) -> None:
    script = PRELUDE + 'with guard.effector():\n    os.execv("/bin/echo", ["echo", "REPLACED"])\n'
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout == "REPLACED\n"


def test_disabled_guard_is_a_no_op(tmp_path: Path) -> None:
    out = run_guarded(
        """
        attempt("enabled", lambda: write(outside / "x.txt"))
        guard.disable()
        attempt("disabled", lambda: write(outside / "x.txt"))
        """,
        tmp_path,
    )
    assert violation(out["enabled"])
    assert out["disabled"] == "ok"
    assert out["violations"] == 1


def test_temp_dir_writes_pass_when_allowed(tmp_path: Path) -> None:
    (tmp_path / "scratch").mkdir()
    out = run_guarded(
        f"""
        guard2 = Guard([data], temp_dirs=[Path({str(tmp_path / "scratch")!r})])
        guard.disable()
        guard2.install()
        attempt("temp", lambda: write(Path({str(tmp_path / "scratch" / "t")!r})))
        attempt("outside", lambda: write(outside / "t"))
        """,
        tmp_path,
    )
    assert out["temp"] == "ok"
    assert violation(out["outside"])
