"""The guard's native-code rules and the wrappers it puts on entry points without events.

The wrappers are tested on stand-in modules; the one test that wraps the real
modules puts every attribute back (``monkeypatch``) when it ends.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sqlite3.dbapi2
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from aether_qt.policy.guard import check_event
from aether_qt.policy.guard_native import (
    APP_LIBRARIES,
    NativeLibrary,
    allowed_library,
    native_modules,
    patch_entry_points,
    resolve_libraries,
    wrap_cffi,
    wrap_fork_exec,
    wrap_native_entry_points,
    wrap_sqlite_connect,
)
from aether_qt.policy.guard_rules import GuardRules, make_rules


class Refused(Exception):
    pass


class Checks:
    """A stand-in for the guard's check: records events, refuses the names in ``refuse``."""

    def __init__(self, refuse: tuple[object, ...] = ()) -> None:
        self.seen: list[tuple[str, tuple[object, ...]]] = []
        self.refuse = refuse

    def __call__(self, event: str, args: tuple[object, ...]) -> None:
        self.seen.append((event, args))
        if args and args[0] in self.refuse:
            raise Refused(event)


class Gate:
    """A stand-in for the guard's connection gate."""

    def __init__(self) -> None:
        self.opening_now = False
        self.opened_while: list[bool] = []
        self.connections: list[object] = []

    @contextlib.contextmanager
    def opening(self) -> Iterator[None]:
        self.opening_now = True
        try:
            yield
        finally:
            self.opening_now = False

    def opened(self, connection: Any) -> None:
        self.connections.append(connection)


@pytest.fixture
def package(tmp_path: Path) -> Path:
    folder = tmp_path / "site" / "fakepkg"
    (folder / "lib").mkdir(parents=True)
    return folder.resolve()


@pytest.fixture
def rules(package: Path) -> GuardRules:
    specs = {"fakepkg": SimpleNamespace(submodule_search_locations=[str(package)])}
    libraries = (
        NativeLibrary(why="test", package="fakepkg", symbols="fake_"),
        NativeLibrary(why="test", names=("libspeak.so.1", "/usr/local/lib/libspeak.so.1"), symbols="speak_"),
        NativeLibrary(why="no look-ups", package="fakepkg"),
    )
    return make_rules([], [], libraries=resolve_libraries(libraries, find_spec=specs.get))


class Library:
    """Like ctypes' CDLL: the name it was opened by in ``_name``."""

    def __init__(self, name: object) -> None:
        self._name = name


# ---------------------------------------------------------------- the allowlist
def test_app_libraries_say_why() -> None:
    assert {lib.symbols for lib in APP_LIBRARIES} == {"llmodel_", "espeak_", ""}
    assert all(lib.why and (lib.names or lib.package) for lib in APP_LIBRARIES)


def test_resolving_packages_never_imports_them() -> None:
    def broken(name: str) -> object:
        raise ImportError(name)

    def module_only(name: str) -> object:
        return SimpleNamespace(submodule_search_locations=None)

    libraries = [NativeLibrary(why="t", package="x")]
    assert resolve_libraries(libraries, find_spec=broken)[0].folders == ()
    assert resolve_libraries(libraries, find_spec=module_only)[0].folders == ()
    assert resolve_libraries(libraries, find_spec=lambda name: None)[0].folders == ()
    assert resolve_libraries(APP_LIBRARIES)[0].folders  # gpt4all is installed: its folder is found


def test_allowed_library(rules: GuardRules, package: Path, tmp_path: Path) -> None:
    assert allowed_library(str(package / "lib" / "libfake.so"), rules) is rules.libraries[0]
    assert allowed_library(package / "lib" / "libfake.so", rules) is rules.libraries[0]
    assert allowed_library(b"libspeak.so.1", rules) is rules.libraries[1]
    assert allowed_library("/usr/local/lib/libspeak.so.1", rules) is rules.libraries[1]
    (tmp_path / "alias.so").symlink_to("/usr/local/lib/libspeak.so.1")
    assert allowed_library(str(tmp_path / "alias.so"), rules) is rules.libraries[1]  # canonical name
    assert allowed_library("libc.so.6", rules) is None  # a bare soname off the list
    assert allowed_library(str(tmp_path / "libfake.so"), rules) is None
    assert allowed_library(f"{package}/../evil.so", rules) is None
    assert allowed_library(None, rules) is None
    assert allowed_library(12345, rules) is None


# ---------------------------------------------------------------- dlopen, dlsym, imports
def test_dlopen(rules: GuardRules, package: Path) -> None:
    assert check_event("ctypes.dlopen", (str(package / "libfake.so"),), rules) is None
    assert check_event("cffi.dlopen", ("libspeak.so.1",), rules) is None
    assert check_event("ctypes.dlopen", ("libc.so.6",), rules) == (
        "ctypes.dlopen: loading libc.so.6 (not on the native-library allowlist)"
    )
    assert check_event("ctypes.dlopen", (None,), rules) == (
        "ctypes.dlopen: loading the main program (not on the native-library allowlist)"
    )
    assert check_event("cffi.dlopen", (object(),), rules) == (
        "cffi.dlopen: loading a handle (not on the native-library allowlist)"
    )


def test_dlsym(rules: GuardRules, package: Path) -> None:
    fake = Library(str(package / "libfake.so"))
    assert check_event("ctypes.dlsym", (fake, "fake_create"), rules) is None
    assert check_event("ctypes.dlsym", (Library("libspeak.so.1"), "speak_Synth"), rules) is None
    assert check_event("ctypes.dlsym", (fake, "system"), rules) == (
        "ctypes.dlsym: looking up system in libfake.so (not on the native-library allowlist)"
    )
    assert check_event("ctypes.dlsym", (fake, 7), rules) is not None  # an ordinal
    assert check_event("ctypes.dlsym", (Library(None), "system"), rules) == (
        "ctypes.dlsym: looking up system in the main program (not on the native-library allowlist)"
    )
    assert check_event("ctypes.dlsym", (object(), "x"), rules) is not None  # no _name to go by
    assert check_event("ctypes.dlsym/handle", (1234, "system"), rules) == (
        "ctypes.dlsym/handle: looking up system by a raw library handle"
    )


def test_dlsym_in_a_library_without_look_ups(package: Path) -> None:
    specs = {"fakepkg": SimpleNamespace(submodule_search_locations=[str(package)])}
    rules = make_rules(
        [], [], libraries=resolve_libraries([NativeLibrary(why="t", package="fakepkg")], find_spec=specs.get)
    )
    assert check_event("ctypes.dlsym", (Library(str(package / "lib.so")), "anything"), rules) is not None


def test_late_imports_and_sqlite_extensions(rules: GuardRules) -> None:
    for name in ("_posixsubprocess", "_cffi_backend", "cffi"):
        assert (
            check_event("import", (name, None, [], [], []), rules) == f"import: loading {name} after start-up"
        )
    assert check_event("import", ("json", None, [], [], []), rules) is None
    for event in ("sqlite3.enable_load_extension", "sqlite3.load_extension"):
        assert (
            check_event(event, (object(), "x"), rules) == f"{event}: loading a SQLite extension (native code)"
        )


# ---------------------------------------------------------------- the wrappers
def test_wrap_fork_exec() -> None:
    calls: list[tuple[object, ...]] = []
    module = SimpleNamespace(fork_exec=lambda *args: calls.append(args) or 42)
    checks = Checks(refuse=(b"/bin/evil",))
    wrap_fork_exec(module, checks)
    assert module.fork_exec([b"/bin/true", b"x"], [b"/usr/bin/true"]) == 42
    assert module.fork_exec(None, [b"/bin/other"]) == 42
    assert module.fork_exec() == 42
    with pytest.raises(Refused):
        module.fork_exec([b"/bin/evil"], [b"/bin/evil"])
    assert checks.seen == [
        ("_posixsubprocess.fork_exec", (b"/bin/true",)),
        ("_posixsubprocess.fork_exec", (b"/bin/other",)),
        ("_posixsubprocess.fork_exec", (None,)),
        ("_posixsubprocess.fork_exec", (b"/bin/evil",)),
    ]
    assert len(calls) == 3  # the refused call never reached the original


def test_wrap_cffi() -> None:
    class FFI:
        def dlopen(self, name: object, flags: int = 0) -> tuple[str, object, int]:
            return ("opened", name, flags)

    module = SimpleNamespace(FFI=FFI, load_library=lambda name, flags=0: ("loaded", name, flags))
    checks = Checks(refuse=("libc.so.6",))
    wrap_cffi(module, checks)
    assert module.load_library("libvosk.so", 2) == ("loaded", "libvosk.so", 2)
    assert module.FFI().dlopen("libvosk.so") == ("opened", "libvosk.so", 0)
    assert issubclass(module.FFI, FFI)
    with pytest.raises(Refused):
        module.load_library("libc.so.6")
    with pytest.raises(Refused):
        module.FFI().dlopen("libc.so.6")
    assert [event for event, _ in checks.seen] == ["cffi.dlopen"] * 4


def test_wrap_sqlite_connect(tmp_path: Path) -> None:
    gate = Gate()

    def connect(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        gate.opened_while.append(gate.opening_now)
        return (args, kwargs)

    first, second = SimpleNamespace(connect=connect), SimpleNamespace(connect=connect)
    wrap_sqlite_connect([first, second], gate)
    assert first.connect is second.connect
    made = first.connect("x.db", timeout=1)
    assert made == (("x.db",), {"timeout": 1})
    assert gate.opened_while == [True]
    assert gate.connections == [made]
    assert not gate.opening_now


def test_patch_entry_points_rebinds_subprocess_and_skips_missing_cffi() -> None:
    fork = SimpleNamespace(fork_exec=lambda *args: "forked")
    sqlite = SimpleNamespace(connect=lambda *args: "connection")
    modules: dict[str, Any] = {"_posixsubprocess": fork, "sqlite3": sqlite, "sqlite3.dbapi2": sqlite}
    subprocess = SimpleNamespace(_fork_exec=fork.fork_exec)
    checks = Checks()
    patch_entry_points(checks, Gate(), modules, {"subprocess": subprocess})
    assert subprocess._fork_exec is fork.fork_exec
    assert subprocess._fork_exec(None, [b"/bin/true"]) == "forked"
    patch_entry_points(checks, Gate(), modules, {"subprocess": SimpleNamespace()})  # no _fork_exec
    patch_entry_points(checks, Gate(), modules, {})
    assert [event for event, _ in checks.seen] == ["_posixsubprocess.fork_exec"]


def test_native_modules_imports_ctypes_and_finds_cffi(monkeypatch: pytest.MonkeyPatch) -> None:
    modules = native_modules()
    assert "ctypes" in sys.modules
    assert set(modules) == {
        "_posixsubprocess",
        "sqlite3",
        "sqlite3.dbapi2",
        "sqlcipher3",
        "sqlcipher3.dbapi2",
        "_cffi_backend",
    }
    monkeypatch.setitem(sys.modules, "_cffi_backend", None)  # importing it now raises ImportError
    assert "_cffi_backend" not in native_modules()


def test_wrapping_the_real_entry_points(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import _posixsubprocess
    import subprocess

    import _cffi_backend

    for module, name in [
        (_posixsubprocess, "fork_exec"),
        (subprocess, "_fork_exec"),
        (sqlite3, "connect"),
        (sqlite3.dbapi2, "connect"),
        (_cffi_backend, "load_library"),
        (_cffi_backend, "FFI"),
    ]:
        monkeypatch.setattr(module, name, getattr(module, name))  # put back when the test ends
    checks, gate = Checks(), Gate()
    wrap_native_entry_points(checks, gate)
    assert subprocess.run([sys.executable, "-c", "pass"], check=False).returncode == 0
    connection = sqlite3.connect(tmp_path / "x.db")
    connection.close()
    assert gate.connections == [connection]
    assert [event for event, _ in checks.seen] == ["_posixsubprocess.fork_exec"]
