"""The read-only tables of the trust-centre tabs: one look, and columns that stay readable."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

MAX_COLUMN_WIDTH = 340


def make_table(headers: list[str]) -> QTableWidget:
    """A read-only table selecting whole rows, with ``headers`` and alternating row colours."""
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(True)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return table


def fit_columns(table: QTableWidget, *, stretch: int) -> None:
    """Fit the table to its width: column ``stretch`` takes the room left (its text elided), the rest fit."""
    header = table.horizontalHeader()
    header.setStretchLastSection(False)
    for column in range(table.columnCount()):
        mode = (
            QHeaderView.ResizeMode.Stretch if column == stretch else QHeaderView.ResizeMode.ResizeToContents
        )
        header.setSectionResizeMode(column, mode)


def fill_table(
    table: QTableWidget, rows: list[list[str]], colours: dict[int, dict[str, str]] | None = None
) -> None:
    """Show ``rows`` (each cell also its tooltip); ``colours[column][value]`` colours matching cells.

    Columns are sized to their contents, at most :data:`MAX_COLUMN_WIDTH` but the last.
    """
    table.setRowCount(len(rows))
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            item = QTableWidgetItem(value)
            item.setToolTip(value)
            colour = (colours or {}).get(c, {}).get(value)
            if colour:
                item.setForeground(QColor(colour))
            table.setItem(r, c, item)
    table.resizeColumnsToContents()
    for column in range(table.columnCount() - 1):
        table.setColumnWidth(column, min(table.columnWidth(column), MAX_COLUMN_WIDTH))
