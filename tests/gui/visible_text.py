"""Every text a person can see in the app's windows right now, for "no internal words" checks.

:func:`visible_texts` walks the visible top-level windows and collects what is drawn or shown on
hover: window titles, labels, buttons, tooltips, placeholders, editors' text, list/table/tree
cells, tab titles, menu bar and status bar. HTML is reduced to its text. The walk is on the GUI
thread; call it from a test or from a timer in the app's own event loop.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from PySide6.QtCore import QAbstractItemModel, QAbstractListModel, QModelIndex, Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QGroupBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMenuBar,
    QPlainTextEdit,
    QTabBar,
    QTextEdit,
    QWidget,
)

MAX_ROWS = 200  # enough of a table for what a person scrolls through in a walk

_TAG = re.compile(r"<[^>]+>")


def plain(text: str) -> str:
    """``text`` without HTML markup (rich text as a reader sees it)."""
    if "<" in text and ">" in text:
        doc = QTextDocument()
        doc.setHtml(text)
        return doc.toPlainText()
    return text


def _columns(model: QAbstractItemModel, parent: QModelIndex) -> int:
    """A model's column count (a list model has one; PySide keeps its columnCount private)."""
    return 1 if isinstance(model, QAbstractListModel) else model.columnCount(parent)


def _model_texts(model: QAbstractItemModel, view: QAbstractItemView) -> Iterator[str]:
    def walk(parent: QModelIndex, depth: int) -> Iterator[str]:
        for row in range(min(model.rowCount(parent), MAX_ROWS)):
            for column in range(_columns(model, parent)):
                hidden = getattr(view, "isColumnHidden", None)
                if hidden is not None and hidden(column):
                    continue
                index = model.index(row, column, parent)
                for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                    value = model.data(index, role)
                    if isinstance(value, str) and value:
                        yield plain(value)
            if depth < 3:
                yield from walk(model.index(row, 0, parent), depth + 1)

    hidden = getattr(view, "isColumnHidden", None)
    for column in range(_columns(model, QModelIndex())):
        if hidden is not None and hidden(column):
            continue
        header = model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
        if isinstance(header, str):
            yield header
    yield from walk(QModelIndex(), 0)


def _menu_texts(menu: QMenu | QMenuBar) -> Iterator[str]:
    for action in menu.actions():
        yield action.text()
        yield action.toolTip()
        sub = action.menu()
        if isinstance(sub, QMenu):
            yield from _menu_texts(sub)


def widget_texts(widget: QWidget) -> Iterator[str]:
    """The texts ``widget`` itself shows (not its children's)."""
    yield widget.toolTip()
    yield widget.statusTip()
    yield widget.accessibleName()
    if isinstance(widget, QLabel):
        yield plain(widget.text())
    elif isinstance(widget, QAbstractButton):
        yield widget.text()
    elif isinstance(widget, QLineEdit):
        yield widget.text()
        yield widget.placeholderText()
    elif isinstance(widget, QTextEdit | QPlainTextEdit):
        yield widget.toPlainText()
        yield widget.placeholderText()
    elif isinstance(widget, QComboBox):
        yield from (widget.itemText(i) for i in range(widget.count()))
    elif isinstance(widget, QGroupBox):
        yield widget.title()
    elif isinstance(widget, QTabBar):
        for i in range(widget.count()):
            yield widget.tabText(i)
            yield widget.tabToolTip(i)
    elif isinstance(widget, QMenuBar | QMenu):
        yield from _menu_texts(widget)
    elif isinstance(widget, QAbstractItemView) and not isinstance(widget, QHeaderView) and widget.model():
        yield from _model_texts(widget.model(), widget)


def visible_texts(roots: list[QWidget] | None = None) -> dict[str, str]:
    """Every non-empty text on screen, mapped to where it was seen (``Class objectName``)."""
    found: dict[str, str] = {}
    tops = roots if roots is not None else QApplication.topLevelWidgets()
    for top in tops:
        if not top.isVisible():
            continue
        title = top.windowTitle()
        if title:
            found.setdefault(title, f"{type(top).__name__} title")
        for widget in [top, *top.findChildren(QWidget)]:
            if not widget.isVisibleTo(top) and widget is not top:
                continue
            where = f"{type(widget).__name__} {widget.objectName()}".strip()
            for text in widget_texts(widget):
                if text and text.strip():
                    found.setdefault(text.strip(), where)
    return found
