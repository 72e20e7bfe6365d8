"""Filling a QTableWidget in one go.

Two settings a table wants while people read it cost dearly while it is being filled: with
sorting on, every `setItem` re-sorts the rows; with columns that size themselves to their
contents, every `setItem` re-measures its column and tells the layout around the table, which
in a dock of the main window can mean laying out the window again. Measured on the heads table
(30 layers × 9 heads, 1,350 cells) while leaving presentation mode restored the docks: 10 ms a
cell, 13 s with the window frozen. `filling` switches both off for the fill and back on after
it, so the columns are measured once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtWidgets import QHeaderView, QTableWidget

FIT = QHeaderView.ResizeMode.ResizeToContents


@contextmanager
def filling(table: QTableWidget, columns: QHeaderView.ResizeMode = FIT) -> Iterator[QTableWidget]:
    """`with filling(table): table.setRowCount(n); table.setItem(...)`; afterwards every column,
    those the fill added included, gets the resize mode `columns`, and sorting is as it was."""
    header = table.horizontalHeader()
    sorting = table.isSortingEnabled()
    table.setSortingEnabled(False)
    table.setUpdatesEnabled(False)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    try:
        yield table
    finally:
        header.setSectionResizeMode(columns)
        table.setSortingEnabled(sorting)
        table.setUpdatesEnabled(True)
