"""Layer rules import-linter cannot express (sub-modules of an external package).

Engines may use QtCore (QObject workers, signals, timers) and QtMultimedia
(audio), but never the GUI modules: drawing belongs to ``widgets/`` and
``avatar/``. The scan parses every engine module, so it also guards modules
added later.
"""

from __future__ import annotations

import ast
from pathlib import Path

import aether_qt

PACKAGE = Path(aether_qt.__file__).resolve().parent
GUI_MODULES = ("PySide6.QtWidgets", "PySide6.QtGui", "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets")


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def gui_imports(path: Path) -> list[str]:
    return sorted(m for m in imported_modules(path) if m.startswith(GUI_MODULES))


def test_scanner_sees_gui_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from PySide6.QtGui import QColor\nfrom PySide6 import QtWidgets\n")
    assert gui_imports(probe) == ["PySide6.QtGui", "PySide6.QtGui.QColor", "PySide6.QtWidgets"]


def test_engines_never_import_qt_gui_modules() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): gui_imports(path)
        for path in (PACKAGE / "engines").rglob("*.py")
        if gui_imports(path)
    }
    assert offenders == {}


def test_policy_and_storage_import_no_qt_at_all() -> None:
    for layer in ("policy", "storage"):
        for path in (PACKAGE / layer).rglob("*.py"):
            qt = sorted(m for m in imported_modules(path) if m.startswith(("PySide6", "qasync")))
            assert qt == [], f"{path.relative_to(PACKAGE)} imports {qt}"
