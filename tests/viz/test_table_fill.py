"""viz.table_fill: a table filled in one go measures its columns once, not once per cell, and
comes back sorted, sized to its contents and drawing."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from viz.table_fill import FIT, filling

ROWS, COLUMNS = 120, 4
_holders: list[QWidget] = []  # the tables' parents live until the test's widgets are closed


class CountingTable(QTableWidget):
    """Counts how often a column's contents are measured (ResizeToContents asks this)."""

    measured = 0

    def sizeHintForColumn(self, column: int) -> int:
        CountingTable.measured += 1
        return super().sizeHintForColumn(column)


def shown_table(qtbot) -> CountingTable:
    holder = QWidget()
    qtbot.addWidget(holder)
    _holders.append(holder)
    table = CountingTable(0, COLUMNS)
    table.horizontalHeader().setSectionResizeMode(FIT)
    table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
    table.setSortingEnabled(True)
    QVBoxLayout(holder).addWidget(table)
    holder.resize(500, 400)
    holder.show()
    qtbot.waitExposed(holder)
    return table


def fill(table: QTableWidget) -> None:
    """Fill, reading the header's length after each cell as a window's layout does while it restores
    its docks: that is when a column sized to its contents is measured again for every cell."""
    table.setRowCount(ROWS)
    for r in range(ROWS):
        for c in range(COLUMNS):
            item = QTableWidgetItem()
            item.setData(Qt.ItemDataRole.DisplayRole, (ROWS - r) * 10 ** c)  # the widest numbers last
            table.setItem(r, c, item)
            table.horizontalHeader().length()


def measurements(table: QTableWidget, fill_it) -> int:
    CountingTable.measured = 0
    fill_it(table)
    table.horizontalHeader().length()  # what sizing is left happens now
    return CountingTable.measured


def test_columns_are_measured_once_and_everything_comes_back(qtbot):
    plain = measurements(shown_table(qtbot), fill)  # a column measured again for each of its cells

    table = shown_table(qtbot)

    def fill_in_one_go(t: QTableWidget) -> None:
        with filling(t):
            fill(t)

    once = measurements(table, fill_in_one_go)
    assert once <= 4 * COLUMNS < ROWS <= plain, (once, plain)  # a few times a column, not once a cell
    header = table.horizontalHeader()
    assert table.isSortingEnabled() and table.updatesEnabled()
    assert all(header.sectionResizeMode(c) == FIT for c in range(COLUMNS))
    assert int(table.item(0, 0).text()) == 1  # sorted again, by the first column as before: ascending
    widest = max(table.fontMetrics().horizontalAdvance(table.item(r, COLUMNS - 1).text()) for r in range(ROWS))
    assert header.sectionSize(COLUMNS - 1) >= widest  # sized to the widest cell, measured after the fill


def test_columns_a_fill_adds_get_the_mode_asked_for(qtbot):
    table = shown_table(qtbot)
    with filling(table, QHeaderView.ResizeMode.Stretch):
        table.setColumnCount(COLUMNS + 2)
        fill(table)
    assert [table.horizontalHeader().sectionResizeMode(c) for c in range(COLUMNS + 2)] == \
        [QHeaderView.ResizeMode.Stretch] * (COLUMNS + 2)
