"""Attention: the query × key heatmap of one layer and head."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from desktop.core.context import ViewContext
from viz.attention_heatmap import AttentionHeatmap


class AttentionPanel(QWidget):
    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self.layer_box = QComboBox()
        self.head_box = QComboBox()
        self.layer_box.setToolTip("Layer (Alt+Up / Alt+Down)")
        self.head_box.setToolTip("Head (Alt+Left / Alt+Right)")
        self.kv_note = QLabel()
        self.heatmap = AttentionHeatmap()
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Layer"))
        controls.addWidget(self.layer_box)
        controls.addWidget(QLabel("Head"))
        controls.addWidget(self.head_box)
        controls.addWidget(self.kv_note)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(controls)
        layout.addWidget(self.heatmap, 1)

        self.layer_box.activated.connect(lambda i: state.select(layer=i))
        self.head_box.activated.connect(lambda i: state.select(head=i))
        self.heatmap.row_clicked.connect(lambda row: state.select(position=row))
        state.model_changed.connect(self._on_model_changed)
        self._pattern_key: tuple | None = None  # (trace id, layer, head) of the pattern on screen
        self.gate = ctx.follow_selection(self._redraw)
        self.set_shown = self.gate.set_shown

    def _on_model_changed(self) -> None:
        info = self.state.info
        for box, n in ((self.layer_box, info.n_layers), (self.head_box, info.n_heads)):
            box.blockSignals(True)
            box.clear()
            box.addItems([str(i) for i in range(n)])
            box.blockSignals(False)

    def _redraw(self) -> None:
        trace = self.state.trace
        if trace is None:
            return
        sel = self.state.selection
        pattern = (self.state.result.trace_id, sel.layer, sel.head)
        if pattern != self._pattern_key:  # a new token alone only moves the outline
            self._pattern_key = pattern
            self.layer_box.setCurrentIndex(sel.layer)
            self.head_box.setCurrentIndex(sel.head)
            weights = trace.attention[sel.layer, sel.head].astype(np.float32)  # [T, T]
            self.heatmap.set_data(weights, list(trace.tokens.labels))
            self.heatmap.set_title(f"Layer {sel.layer} · Head {sel.head}: which earlier tokens each token reads")
        self.heatmap.set_selected_row(sel.position)
        if trace.kv_head_of is not None and self.state.info and self.state.info.n_kv_heads != self.state.info.n_heads:
            self.kv_note.setText(f"shares key/value head {int(trace.kv_head_of[sel.head])}")
        else:
            self.kv_note.setText("")
