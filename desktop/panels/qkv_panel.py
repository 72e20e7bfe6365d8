"""Q/K/V: the vectors behind one attention row, and the dot products and softmax that make it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.core.context import ViewContext
from model_core.analysis.head_stats import attention_breakdown
from viz.theme import LIGHT, blend
from viz.vector_strips import VectorStrips

COLUMNS = ("key position", "token", "q·k", "q·k / √dh", "softmax", "stored weight")
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


class BreakdownModel(QAbstractTableModel):
    """One row per key: the numbers behind one attention row, formatted only when a row is on screen
    (a table of items re-measured itself for every cell: a second for a 500-token row)."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: list[str] = []
        self.columns: tuple[np.ndarray, ...] = ()  # dots, scaled, weights, stored: [rows] each
        self.top = 1.0

    def set_rows(self, labels: list[str], dots: np.ndarray, scaled: np.ndarray, weights: np.ndarray,
                 stored: np.ndarray) -> None:
        self.beginResetModel()
        self.labels, self.columns = labels, (dots, scaled, weights, stored)
        self.top = float(weights.max()) if len(weights) else 1.0
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.labels)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        row, column = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return str(row)
            if column == 1:
                return self.labels[row]
            value = self.columns[column - 2][row]
            return f"{value:.4f}" if column >= 4 else f"{value:.3f}"
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= 2:
            return _RIGHT
        if role == Qt.ItemDataRole.BackgroundRole and column == 4:
            return blend(LIGHT.background, LIGHT.weight_tint, self.columns[2][row] / self.top)
        return None

    def cell_text(self, row: int, column: int) -> str:
        return self.data(self.index(row, column))


class QKVPanel(QWidget):
    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = ctx.state
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.kv_note = QLabel()
        self.strips = VectorStrips()
        self.check = QLabel()
        self.rows = BreakdownModel()
        self.table = QTableView()
        self.table.setModel(self.rows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.dots = self.scaled = self.weights = self.stored = np.zeros(0)  # [position+1] each

        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.check)
        lower_layout.addWidget(self.table, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.strips)
        splitter.addWidget(lower)
        splitter.setSizes([260, 400])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.kv_note)
        layout.addWidget(splitter, 1)
        self.gate = ctx.follow_selection(self.redraw)
        self.set_shown = self.gate.set_shown

    def redraw(self) -> None:
        trace = self.state.trace
        if trace is None:
            return
        sel = self.state.selection
        layer, head, position = sel.layer, sel.head, sel.position
        group = int(trace.kv_head_of[head])
        q = trace.queries[layer, head, position]  # [dh]
        k = trace.keys[layer, group, position]  # [dh]
        v = trace.values[layer, group, position]  # [dh]
        dh = q.shape[0]
        token = self.state.label(int(trace.tokens.ids[position]))
        self.title.setText(f"Layer {layer} · head {head} · token {position} '{token}': its query, key and value "
                           f"({dh} numbers each; red positive, blue negative, white 0)")
        self.strips.set_vectors((f"query  q{position}", f"key  k{position}", f"value  v{position}"), (q, k, v))
        if trace.keys.shape[1] != trace.n_heads:
            self.kv_note.setText(f"Grouped-query attention: query head {head} reads key/value head {group} "
                                 f"(shared by {int((trace.kv_head_of == group).sum())} query heads).")
        else:
            self.kv_note.setText("")

        keys = trace.keys[layer, group, : position + 1]  # [position+1, dh]
        self.dots, self.scaled, self.weights = attention_breakdown(q, keys)
        self.stored = trace.attention[layer, head, position, : position + 1].astype(np.float64)  # [position+1]
        gap = float(np.abs(self.weights - self.stored).max())
        self.check.setText(f"Row {position} of the attention pattern: softmax(q·kⱼ / √{dh}) over keys 0…{position}. "
                           f"Largest difference from the stored weights: {gap:.1e}"
                           + ("" if gap < 1e-2 else "  (this model scales or masks differently)"))
        labels = [self.state.label(int(i)) for i in trace.tokens.ids[: position + 1]]
        self.rows.set_rows(labels, self.dots, self.scaled, self.weights, self.stored)
