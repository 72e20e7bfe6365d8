"""Q/K/V: the vectors behind one attention row, and the dot products and softmax that make it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.state import AppState
from model_core.head_stats import attention_breakdown
from viz.theme import LIGHT, blend
from viz.vector_strips import VectorStrips

COLUMNS = ("key position", "token", "q·k", "q·k / √dh", "softmax", "stored weight")


class QKVPanel(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.kv_note = QLabel()
        self.strips = VectorStrips()
        self.check = QLabel()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
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
        self._dirty = True

        state.trace_changed.connect(self._invalidate)
        state.selection_changed.connect(self._invalidate)

    def _invalidate(self) -> None:
        self._dirty = True
        if self.isVisible():
            self.redraw()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty:
            self.redraw()

    def redraw(self) -> None:
        trace = self.state.trace
        if trace is None:
            return
        self._dirty = False
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
        self.table.setRowCount(position + 1)
        top = float(self.weights.max()) if len(self.weights) else 1.0
        for j in range(position + 1):
            cells = (str(j), self.state.label(int(trace.tokens.ids[j])), f"{self.dots[j]:.3f}",
                     f"{self.scaled[j]:.3f}", f"{self.weights[j]:.4f}", f"{self.stored[j]:.4f}")
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if c == 4:
                    item.setBackground(blend(LIGHT.background, LIGHT.weight_tint, self.weights[j] / top))
                self.table.setItem(j, c, item)
