"""Only ``aether_qt/policy/effects.py`` may reach the outside world.

An AST scan of every module of the package fails on:

* imports of side-effect modules (processes, sockets, URLs, browser, file trees);
* calls that start processes through :mod:`os` (``os.system``, ``os.popen``,
  ``os.exec*``, ``os.spawn*``, ``os.posix_spawn*``, ``os.startfile``), by attribute
  or by ``from os import ...``;
* file writes: ``open``/``.open``/``os.fdopen`` with a write-mode literal,
  ``.write_text``/``.write_bytes``, ``os.open`` with ``O_WRONLY``/``O_RDWR``/
  ``O_CREAT``/``O_APPEND``/``O_TRUNC``, outside :data:`OWN_DATA_WRITERS`, the
  modules that write the app's own data and config folders.

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
    }
)
OS_PROCESS_PREFIXES = ("system", "popen", "exec", "spawn", "posix_spawn", "startfile")
WRITE_FLAGS = frozenset({"O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC"})

# Modules allowed to write files (only under the app's data/config/cache folders;
# the runtime guard enforces the folder). Each entry says what it writes.
OWN_DATA_WRITERS: dict[str, str] = {
    "aether_qt/policy/keys.py": "the opt-in 0600 key file, the audit anchor and its lock (config folder)",
    "aether_qt/core/bus.py": "the opt-in JSONL event log, refused outside the data folder",
    "aether_qt/core/instance_lock.py": "the app's instance lock (one app per home) in the data folder",
    "aether_qt/engines/router/models.py": "the prepared bundled model and models.json, in data/models/",
    "aether_qt/engines/persona/cards_import.py": "imported card personas in data/personas/",
    "aether_qt/engines/memory/index.py": "the rebuildable faiss index and its sidecar in the cache folder",
}


def _forbidden(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN_MODULES)


def _is_os_process(name: str) -> bool:
    return name.startswith(OS_PROCESS_PREFIXES)


def _os_process_call(func: ast.expr) -> str | None:
    """``system`` for ``os.system(...)`` and the like, else None."""
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "os":
        return func.attr if _is_os_process(func.attr) else None
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


def scan(source: str, relative: str) -> list[str]:
    """Every side-effect finding in one module's source."""
    findings: list[str] = []
    for node in ast.walk(ast.parse(source, filename=relative)):
        where = f"{relative}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            findings += [f"{where} imports {a.name}" for a in node.names if _forbidden(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _forbidden(node.module):
                findings.append(f"{where} imports {node.module}")
            elif node.module == "os":
                findings += [f"{where} imports os.{a.name}" for a in node.names if _is_os_process(a.name)]
        elif isinstance(node, ast.Call):
            func = node.func
            called = _os_process_call(func)
            if called is not None:
                findings.append(f"{where} calls os.{called}")
            if isinstance(func, (ast.Name, ast.Attribute)):
                name = func.id if isinstance(func, ast.Name) else func.attr
                target = _literal(node.args[0]) if node.args else None
                if name in ("__import__", "import_module") and target and _forbidden(target):
                    findings.append(f"{where} imports {target} dynamically")
            write = _write_call(node)
            if write is not None:
                findings.append(f"{where} writes a file: {write}")
    return findings


def _package_findings() -> list[str]:
    findings: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).as_posix()
        if relative == EFFECTS:
            continue
        found = scan(path.read_text(encoding="utf-8"), relative)
        if relative in OWN_DATA_WRITERS:
            found = [f for f in found if "writes a file" not in f]
        findings += found
    return findings


def test_only_effects_reaches_the_outside() -> None:
    assert _package_findings() == []


def test_allowlist_entries_exist_and_write() -> None:
    for relative in OWN_DATA_WRITERS:
        source = (PACKAGE.parent / relative).read_text(encoding="utf-8")
        assert any("writes a file" in f for f in scan(source, relative)), f"{relative} no longer writes"


def test_effects_itself_is_scanned_as_effectful() -> None:
    """The scan is not vacuous: it sees what effects.py does."""
    findings = scan((PACKAGE.parent / EFFECTS).read_text(encoding="utf-8"), EFFECTS)
    assert any("imports subprocess" in f for f in findings)
    assert any("imports webbrowser" in f for f in findings)
    assert any("imports urllib" in f for f in findings)


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
    ],
)
def test_scan_allows(source: str) -> None:
    assert scan(source, "m.py") == []


POLICY_CORE = [
    "aether_qt.policy.gate",
    "aether_qt.policy.guard",
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
RUNTIME_FORBIDDEN = ["subprocess", "webbrowser", "urllib.request", "http.client", "httpx", "requests"]


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
