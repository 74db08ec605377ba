"""Only ``aether_qt/policy/effects.py`` may reach the outside world.

An AST scan of every module of the package fails on:

* imports of side-effect modules: processes (``subprocess``, ``multiprocessing``,
  ``_posixsubprocess``, ``pty``), sockets and URLs, the browser, file trees
  (``shutil``), native code (``ctypes``, ``cffi``, ``_cffi_backend``);
* calls that start processes through :mod:`os` (``os.system``, ``os.popen``,
  ``os.exec*``, ``os.spawn*``, ``os.posix_spawn*``, ``os.startfile``, ``os.fork*``),
  by attribute or by ``from os import ...``;
* file writes: ``open``/``.open``/``os.fdopen`` with a write-mode literal,
  ``.write_text``/``.write_bytes``, ``os.open`` with ``O_WRONLY``/``O_RDWR``/
  ``O_CREAT``/``O_APPEND``/``O_TRUNC``;
* replacing, moving or deleting files: ``os.replace``/``rename``/``renames``/
  ``unlink``/``remove``/``removedirs``/``rmdir``/``link``/``symlink`` (also imported
  from :mod:`os`), ``Path.unlink``/``rmdir``/``rename``/``replace``/``symlink_to``/
  ``hardlink_to``;
* archive writes: ``ZipFile(..., "w"/"a"/"x")``, ``.writestr``, ``.extract``/``.extractall``.

The app's own folders are written through the permit-free helpers of
``effects.py`` (``write_own_file``, ``create_own_file``, ``replace_own_file``,
``remove_own_file``, ``extract_own_archive``). :data:`EXCEPTIONS` lists the few
modules that still do one kind of finding themselves, each with its reason.

A runtime check then imports the policy core in a clean interpreter and fails if
that pulled in a process, URL or browser module. (``socket`` and ``shutil`` are
not checked at run time: peewee imports ``socket`` and ``importlib.resources``
imports ``shutil`` through ``tempfile``; the import-linter contract and the scan
above cover our own code.)
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "aether_qt"
EFFECTS = "aether_qt/policy/effects.py"

FORBIDDEN_MODULES = frozenset(
    {
        "subprocess",
        "multiprocessing",
        "_posixsubprocess",
        "socket",
        "urllib",
        "httpx",
        "shutil",
        "webbrowser",
        "requests",
        "http.client",
        "ftplib",
        "smtplib",
        "pty",
        "asyncio.subprocess",
        "ctypes",
        "cffi",
        "_cffi_backend",
    }
)
OS_PROCESS_PREFIXES = ("system", "popen", "exec", "spawn", "posix_spawn", "startfile", "fork")
OS_FILE_CHANGES = frozenset(
    {"replace", "rename", "renames", "unlink", "remove", "removedirs", "rmdir", "link", "symlink"}
)
PATH_FILE_CHANGES = frozenset({"unlink", "rmdir", "symlink_to", "hardlink_to"})
PATH_MOVES = frozenset({"rename", "replace"})  # with one positional argument (not str.replace)
ARCHIVE_WRITES = frozenset({"writestr", "extract", "extractall"})
WRITE_FLAGS = frozenset({"O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC"})

WRITES = "writes a file"
MOVES = "replaces or removes a file"

# Modules allowed one kind of finding, and why. Everything else goes through effects.py.
EXCEPTIONS: dict[str, dict[str, str]] = {
    "aether_qt/core/bus.py": {
        WRITES: "appends the opt-in JSONL event log, refused outside the data folder; core sits below policy",
    },
    "aether_qt/core/instance_lock.py": {
        WRITES: "creates the app instance lock (one app per home) in the data folder; core sits below policy",
    },
    "aether_qt/storage/migrations.py": {
        MOVES: "renames the finished pre-migration backup into data/backups (or drops a failed one); "
        "storage sits below policy in the layers, so it cannot call policy.effects",
    },
    "aether_qt/policy/guard_native.py": {
        "imports ctypes": "imported before the guard's hook is on: its own import opens the main program",
        "imports _posixsubprocess": "the guard wraps fork_exec, which raises no audit event",
        "imports _cffi_backend": "the guard wraps cffi's loaders, which raise no audit event",
    },
}


def _forbidden(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN_MODULES)


def _is_os_process(name: str) -> bool:
    return name.startswith(OS_PROCESS_PREFIXES)


def _os_call(func: ast.expr) -> str | None:
    """``system`` for ``os.system(...)`` and the like, else None."""
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "os":
        return func.attr
    return None


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _mode_arg(call: ast.Call, position: int) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == "mode":
            return _literal(keyword.value)
    return _literal(call.args[position]) if len(call.args) > position else None


def _flag_names(node: ast.expr) -> set[str]:
    return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)} | {
        n.id for n in ast.walk(node) if isinstance(n, ast.Name)
    }


def _write_call(call: ast.Call) -> str | None:
    """Describe a file write made by ``call``, or None."""
    func = call.func
    if isinstance(func, ast.Name) and func.id == "open":
        mode, what = _mode_arg(call, 1), "open()"
    elif isinstance(func, ast.Attribute) and func.attr in ("write_text", "write_bytes"):
        return f".{func.attr}()"
    elif isinstance(func, ast.Attribute) and func.attr == "open":
        owner = func.value.id if isinstance(func.value, ast.Name) else ""
        if owner == "os":
            flags = call.args[1] if len(call.args) > 1 else None
            return "os.open() for writing" if flags is not None and _flag_names(flags) & WRITE_FLAGS else None
        mode, what = _mode_arg(call, 1 if owner in ("io", "codecs", "gzip", "bz2", "lzma") else 0), ".open()"
    elif isinstance(func, ast.Attribute) and func.attr == "fdopen":
        mode, what = _mode_arg(call, 1), "os.fdopen()"
    else:
        return None
    if mode is not None and set(mode) & set("wax+"):
        return f"{what} with mode {mode!r}"
    return None


def _move_call(call: ast.Call) -> str | None:
    """Describe a replace, move or delete made by ``call``, or None."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    if _os_call(func) is not None:
        return f"os.{func.attr}()" if func.attr in OS_FILE_CHANGES else None
    if func.attr in PATH_FILE_CHANGES:
        return f".{func.attr}()"
    owner_is_module = isinstance(func.value, ast.Name) and func.value.id in ("dataclasses", "copy")
    if func.attr in PATH_MOVES and len(call.args) == 1 and not call.keywords and not owner_is_module:
        return f".{func.attr}()"
    return None


def _archive_call(call: ast.Call) -> str | None:
    """Describe a zip or tar write (or an unpacking) made by ``call``, or None."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    if name in ARCHIVE_WRITES:
        return f".{name}()"
    if name == "ZipFile":
        mode = _mode_arg(call, 1)
        return f"ZipFile() with mode {mode!r}" if mode is not None and mode != "r" else None
    return None


def _import_findings(node: ast.Import | ast.ImportFrom, where: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [f"{where} imports {a.name}" for a in node.names if _forbidden(a.name)]
    if node.level != 0 or not node.module:
        return []
    if _forbidden(node.module):
        return [f"{where} imports {node.module}"]
    if node.module != "os":
        return []
    found = [f"{where} imports os.{a.name}" for a in node.names if _is_os_process(a.name)]
    return found + [
        f"{where} {MOVES}: from os import {a.name}" for a in node.names if a.name in OS_FILE_CHANGES
    ]


def _call_findings(call: ast.Call, where: str) -> list[str]:
    found: list[str] = []
    called = _os_call(call.func)
    if called is not None and _is_os_process(called):
        found.append(f"{where} calls os.{called}")
    if isinstance(call.func, (ast.Name, ast.Attribute)):
        name = call.func.id if isinstance(call.func, ast.Name) else call.func.attr
        target = _literal(call.args[0]) if call.args else None
        if name in ("__import__", "import_module") and target and _forbidden(target):
            found.append(f"{where} imports {target} dynamically")
    for kind, what in (
        (WRITES, _write_call(call)),
        (MOVES, _move_call(call)),
        ("writes an archive", _archive_call(call)),
    ):
        if what is not None:
            found.append(f"{where} {kind}: {what}")
    return found


def scan(source: str, relative: str) -> list[str]:
    """Every side-effect finding in one module's source."""
    findings: list[str] = []
    for node in ast.walk(ast.parse(source, filename=relative)):
        where = f"{relative}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            findings += _import_findings(node, where)
        elif isinstance(node, ast.Call):
            findings += _call_findings(node, where)
    return findings


def _excused(finding: str, relative: str) -> bool:
    """True if ``relative`` has an exception for the kind of ``finding``."""
    kinds = EXCEPTIONS.get(relative, {})
    text = finding.split(" ", 1)[1]  # without "file:line"
    return any(text == kind or text.startswith(kind + ":") or text.startswith(kind + " ") for kind in kinds)


def _package_findings() -> list[str]:
    findings: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).as_posix()
        if relative == EFFECTS:
            continue
        findings += [f for f in scan(path.read_text(encoding="utf-8"), relative) if not _excused(f, relative)]
    return findings


def test_only_effects_reaches_the_outside() -> None:
    assert _package_findings() == []


def test_every_exception_is_still_needed() -> None:
    for relative, kinds in EXCEPTIONS.items():
        findings = scan((PACKAGE.parent / relative).read_text(encoding="utf-8"), relative)
        for kind in kinds:
            assert any(_excused(f, relative) and kind in f for f in findings), f"{relative} no longer {kind}"


def test_effects_itself_is_scanned_as_effectful() -> None:
    """The scan is not vacuous: it sees what effects.py does."""
    findings = scan((PACKAGE.parent / EFFECTS).read_text(encoding="utf-8"), EFFECTS)
    assert any("imports subprocess" in f for f in findings)
    assert any("imports webbrowser" in f for f in findings)
    assert any("imports urllib" in f for f in findings)
    assert any("replaces or removes a file: os.replace()" in f for f in findings)
    assert any("replaces or removes a file: os.unlink()" in f for f in findings)


def test_an_exception_covers_only_its_kind() -> None:
    finding = "aether_qt/core/bus.py:1 replaces or removes a file: os.replace()"
    assert not _excused(finding, "aether_qt/core/bus.py")
    assert _excused("aether_qt/core/bus.py:9 writes a file: open() with mode 'a'", "aether_qt/core/bus.py")
    assert not _excused(
        "aether_qt/policy/guard_native.py:1 imports ctypes.util", "aether_qt/policy/guard_native.py"
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import subprocess", "imports subprocess"),
        ("import socket as s", "imports socket"),
        ("import urllib.request", "imports urllib.request"),
        ("from urllib import parse", "imports urllib"),
        ("from http.client import HTTPConnection", "imports http.client"),
        ("import shutil", "imports shutil"),
        ("import webbrowser", "imports webbrowser"),
        ("import requests", "imports requests"),
        ("import httpx", "imports httpx"),
        ("from os import system", "imports os.system"),
        ("from os import execv, path", "imports os.execv"),
        ("import os\nos.system('ls')", "calls os.system"),
        ("import os\nos.popen('ls')", "calls os.popen"),
        ("import os\nos.execvp('ls', ['ls'])", "calls os.execvp"),
        ("import os\nos.spawnl(0, 'ls')", "calls os.spawnl"),
        ("import os\nos.posix_spawn('ls', [], {})", "calls os.posix_spawn"),
        ("__import__('subprocess')", "imports subprocess dynamically"),
        ("import importlib\nimportlib.import_module('socket')", "imports socket dynamically"),
        ("open('x', 'w')", "open() with mode 'w'"),
        ("open('x', mode='ab')", "open() with mode 'ab'"),
        ("open('x', 'r+')", "open() with mode 'r+'"),
        ("import io\nio.open('x', 'x')", ".open() with mode 'x'"),
        ("from pathlib import Path\nPath('x').open('w')", ".open() with mode 'w'"),
        ("from pathlib import Path\nPath('x').write_text('a')", ".write_text()"),
        ("p.write_bytes(b'')", ".write_bytes()"),
        ("import os\nos.open('x', os.O_WRONLY | os.O_CREAT)", "os.open() for writing"),
        ("from os import O_RDWR\nimport os\nos.open('x', O_RDWR)", "os.open() for writing"),
        ("import os\nos.fdopen(3, 'wb')", "os.fdopen() with mode 'wb'"),
        ("import ctypes", "imports ctypes"),
        ("from ctypes import CDLL", "imports ctypes"),
        ("import ctypes.util", "imports ctypes.util"),
        ("import multiprocessing", "imports multiprocessing"),
        ("from multiprocessing import Process", "imports multiprocessing"),
        ("import _posixsubprocess", "imports _posixsubprocess"),
        ("import cffi", "imports cffi"),
        ("import _cffi_backend", "imports _cffi_backend"),
        ("import importlib\nimportlib.import_module('ctypes')", "imports ctypes dynamically"),
        ("import os\nos.fork()", "calls os.fork"),
        ("import os\nos.forkpty()", "calls os.forkpty"),
        ("import os\nos.replace('a', 'b')", "replaces or removes a file: os.replace()"),
        ("import os\nos.rename('a', 'b')", "replaces or removes a file: os.rename()"),
        ("import os\nos.unlink('a')", "replaces or removes a file: os.unlink()"),
        ("import os\nos.remove('a')", "replaces or removes a file: os.remove()"),
        ("import os\nos.rmdir('a')", "replaces or removes a file: os.rmdir()"),
        ("import os\nos.link('a', 'b')", "replaces or removes a file: os.link()"),
        ("import os\nos.symlink('a', 'b')", "replaces or removes a file: os.symlink()"),
        ("from os import replace", "replaces or removes a file: from os import replace"),
        ("from os import unlink as rm", "replaces or removes a file: from os import unlink"),
        ("p.unlink(missing_ok=True)", "replaces or removes a file: .unlink()"),
        ("p.rmdir()", "replaces or removes a file: .rmdir()"),
        ("p.symlink_to(q)", "replaces or removes a file: .symlink_to()"),
        ("p.hardlink_to(q)", "replaces or removes a file: .hardlink_to()"),
        ("p.rename(q)", "replaces or removes a file: .rename()"),
        ("p.replace(q)", "replaces or removes a file: .replace()"),
        ("import zipfile\nzipfile.ZipFile('a.zip', 'w')", "writes an archive: ZipFile() with mode 'w'"),
        (
            "from zipfile import ZipFile\nZipFile('a.zip', mode='a')",
            "writes an archive: ZipFile() with mode 'a'",
        ),
        ("zf.writestr('a', b'')", "writes an archive: .writestr()"),
        ("zf.extractall(dest)", "writes an archive: .extractall()"),
        ("tf.extract(member)", "writes an archive: .extract()"),
    ],
)
def test_scan_catches(source: str, expected: str) -> None:
    findings = scan(source, "m.py")
    assert any(expected in f for f in findings), findings


@pytest.mark.parametrize(
    "source",
    [
        "import os\nos.path.join('a')",
        "open('x')",
        "open('x', 'rb')",
        "open('x', mode)",
        "import os\nos.open('x', os.O_RDONLY)",
        "import os\nos.open('x')",
        "from pathlib import Path\nPath('x').open()",
        "from . import subprocess",
        "import importlib\nimportlib.import_module(name)",
        "store.open(request, ticket_id='t')",
        "f()",
        "(lambda: 1)()",
        "import json\njson.dumps({})",
        "text.replace('a', 'b')",
        "import dataclasses\ndataclasses.replace(item)",
        "when.replace(tzinfo=zone)",
        "import zipfile\nzipfile.ZipFile('a.zip')",
        "import zipfile\nzipfile.ZipFile('a.zip', 'r')",
        "import os\nos.stat('a')",
        "import os\nos.path.exists('a')",
        "from os import path, fspath",
        "import sqlite3",
    ],
)
def test_scan_allows(source: str) -> None:
    assert scan(source, "m.py") == []


POLICY_CORE = [
    "aether_qt.policy.gate",
    "aether_qt.policy.guard",
    "aether_qt.policy.guard_rules",
    "aether_qt.policy.guard_net",
    "aether_qt.policy.guard_native",
    "aether_qt.policy.scope",
    "aether_qt.policy.decisions",
    "aether_qt.policy.capabilities",
    "aether_qt.policy.contracts",
    "aether_qt.policy.evaluator",
    "aether_qt.policy.permits",
    "aether_qt.policy.grants",
    "aether_qt.policy.approvals",
    "aether_qt.policy.effect_types",
    "aether_qt.policy.effects",  # its side-effect imports are lazy
]
RUNTIME_FORBIDDEN = [
    "subprocess",
    "webbrowser",
    "urllib.request",
    "http.client",
    "httpx",
    "requests",
    "ctypes",  # the guard imports it when installed, not before
    "multiprocessing",
]


def _pulled_in(modules: list[str]) -> list[str]:
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps([m for m in {RUNTIME_FORBIDDEN!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    pulled: list[str] = json.loads(done.stdout)
    return pulled


def test_policy_core_imports_no_side_effect_module_at_runtime() -> None:
    assert _pulled_in(POLICY_CORE) == []


def test_keys_imports_no_side_effect_module_at_runtime() -> None:
    assert _pulled_in(["aether_qt.policy.keys"]) == []
