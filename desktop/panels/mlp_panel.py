"""MLP / neurons: what one layer's MLP does at the selected token, and what every sub-layer writes.

Follows `state.selection` (position, layer). The numbers come from the worker
(`MlpRequest`, answered to this panel's asker); it only asks while its dock is shown (`set_shown`).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.core.context import ViewContext
from desktop.core.requests.block_views import MlpRequest
from desktop.panels.style import emphasise
from viz.block_views import GroupedBars, SignedBars
from viz.table_fill import filling

GATED_SHOWN = 16  # neurons in the gate/up/product chart
STRIP_MIN_HEIGHT = 150  # px: room for the bars between the axis labels, even beside the gated chart
CHART_MIN_HEIGHT = 110  # px: the gated and per-layer charts never collapse to a sliver


class MlpPanel(QWidget):
    probe_changed = Signal()  # the newest request's probe arrived and is drawn (`probe`)
    dock_requested = Signal(str)  # a dock key: a mixture-of-experts layer points to the Experts panel

    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self._asker = ctx.asker(self._on_probe)
        self._asked: tuple[int, int, int] | None = None
        self.probe = None  # model_core.engine.probes.mlp.MlpProbe of the newest request, once answered
        self._shown = False  # set by the dock: widgets in hidden tabs can still report isVisible()

        self.title = QLabel("Trace a prompt to see the MLP at the selected token.")
        self.title.setWordWrap(True)
        emphasise(self.title)
        self.sorted_box = QCheckBox("Sort by activation")
        self.strip = SignedBars()
        self.strip.setMinimumHeight(STRIP_MIN_HEIGHT)
        self.strip.setToolTip("Every neuron's activation for the selected token (red positive, blue negative)")
        self.gated = GroupedBars()
        self.gated.setMinimumHeight(CHART_MIN_HEIGHT)
        self.gated_note = QLabel()
        self.gated_note.setWordWrap(True)
        self.table = QTableWidget(0, 2)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # compact rows
        self.updates = GroupedBars()
        self.updates.setMinimumHeight(CHART_MIN_HEIGHT)
        self.updates_note = QLabel()
        self.updates_note.setWordWrap(True)
        # A mixture-of-experts layer has no neurons of its own: the probe says why, the router shows instead.
        self.moe_note = QLabel()
        self.moe_note.setWordWrap(True)
        self.experts_button = QPushButton("Open the Experts panel")
        self.experts_button.clicked.connect(lambda: self.dock_requested.emit("experts"))
        self.moe_box = QWidget()
        moe_row = QHBoxLayout(self.moe_box)
        moe_row.setContentsMargins(0, 0, 0, 0)
        moe_row.addWidget(self.moe_note, 1)
        moe_row.addWidget(self.experts_button)
        self.moe_box.setVisible(False)
        self.strip_label = QLabel("Neuron activations")

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.strip_label)
        row.addStretch(1)
        row.addWidget(self.sorted_box)
        left_layout.addLayout(row)
        left_layout.addWidget(self.strip, 2)
        self.gated_box = QWidget()
        gated_layout = QVBoxLayout(self.gated_box)
        gated_layout.setContentsMargins(0, 0, 0, 0)
        gated_layout.addWidget(self.gated_note)
        gated_layout.addWidget(self.gated, 1)
        left_layout.addWidget(self.gated_box, 3)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(left)
        top.addWidget(self.table)
        top.setSizes([700, 300])
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.updates_note)
        bottom_layout.addWidget(self.updates, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        splitter.setSizes([650, 300])
        # The charts keep their smallest useful heights; a short dock scrolls rather than squeezing
        # them or making the whole window taller than the screen.
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(splitter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.moe_box)
        layout.addWidget(scroll, 1)

        self.sorted_box.toggled.connect(lambda _on: self._redraw())
        state.trace_changed.connect(self._maybe_request)
        state.selection_changed.connect(self._maybe_request)

    def set_shown(self, shown: bool) -> None:
        """The dock's `visibilityChanged`: a tab behind another is not shown, so it asks for nothing."""
        self._shown = shown
        self._maybe_request()

    def _maybe_request(self) -> None:
        result = self.state.result
        if result is None or not self._shown:
            return
        sel = self.state.selection
        key = (result.trace_id, sel.position, sel.layer)
        if key != self._asked:
            self._asked = key
            self._asker.ask(MlpRequest(*key))
            self.title.setText(f"Layer {sel.layer} · position {sel.position}: computing…")

    def _on_probe(self, probe) -> None:
        self.probe = probe
        self._redraw()
        self.probe_changed.emit()

    def _redraw(self) -> None:
        result, probe = self.state.result, self.probe
        if result is None or probe is None or self._asker.request is None \
                or self._asker.request.trace_id != result.trace_id:
            return  # a newer selection is on its way
        trace = result.trace
        token = self.state.label(int(trace.tokens.ids[probe.position]))
        self.moe_box.setVisible(probe.hidden is None)
        if probe.hidden is None:  # a mixture of experts: the router instead of neurons
            self._redraw_router(trace, probe, token)
        else:
            self._redraw_neurons(probe, token)
        self._redraw_updates(probe, token)

    def _redraw_neurons(self, probe, token: str) -> None:
        n = probe.hidden.shape[0]
        what = "act_fn(gate) × up" if probe.gated else probe.activation_name
        self.title.setText(f"Layer {probe.layer} · position {probe.position} ('{token}'): {n:,} neurons "
                           f"({what}) feed the MLP's output projection")
        self.strip_label.setText("Neuron activations")
        self.sorted_box.setVisible(True)
        values = np.sort(probe.hidden)[::-1] if self.sorted_box.isChecked() else probe.hidden
        self.strip.set_values(values, "neuron (sorted by activation)" if self.sorted_box.isChecked() else "neuron",
                              "activation")
        self.strip.setToolTip("Every neuron's activation for the selected token (red positive, blue negative)")
        self._fill_table(probe)
        self.gated_box.setVisible(probe.gated)
        if probe.gated:
            shown = probe.top_neurons[:GATED_SHOWN]
            self.gated.set_series([str(int(i)) for i in shown],
                                  {"gate = act_fn(gate_proj·x)": probe.gate[shown], "up = up_proj·x": probe.up[shown],
                                   "gate × up": probe.hidden[shown]},
                                  "neuron (strongest first)", "value")
            self.gated_note.setText("Gated MLP: the gate (after its nonlinearity) multiplies the up projection; "
                                    "a gate near 0 silences the neuron.")

    def _redraw_router(self, trace, probe, token: str) -> None:
        """A MoE layer: why there are no neurons, and the router's probabilities and choice at this token."""
        layer, position = probe.layer, probe.position
        self.title.setText(f"Layer {layer} · position {position} ('{token}'): a mixture of experts, "
                           "so no neurons of its own")
        info = self.state.info
        experts = f"{info.n_experts} experts (each token uses {info.experts_per_token})" if info and info.is_moe \
            else "experts"
        self.moe_note.setText(f"This layer's MLP is a mixture of {experts}: the neurons belong to the experts, "
                              "so the layer has no neuron view of its own. Below: the router's probability for "
                              "every expert at this token and the experts it chose; the Experts panel shows "
                              "every layer and token.")
        self.gated_box.setVisible(False)
        self.sorted_box.setVisible(False)
        self.strip_label.setText("Router probability of every expert")
        probs = trace.router_probs[layer, position] if trace.is_moe else np.zeros(0, np.float32)  # [E]
        self.strip.set_values(probs, "expert", "router probability")
        self.strip.setToolTip("The router's softmax over every expert for the selected token")
        ids, weights = (trace.router_ids[layer, position], trace.router_weights[layer, position]) \
            if trace.is_moe else (np.zeros(0, np.int16), np.zeros(0, np.float32))
        order = np.argsort(-weights, kind="stable")
        rows = [(str(int(ids[i])), f"{weights[i]:.3f}", f"{probs[ids[i]]:.3f}") for i in order if ids[i] >= 0]
        if trace.shared_expert_gate.shape[-1]:
            rows += [(f"shared {j}", f"{g:.3f}", "every token") for j, g in
                     enumerate(trace.shared_expert_gate[layer, position])]
        self._fill_rows(["expert", "gate weight", "router p"], rows)

    def _redraw_updates(self, probe, token: str) -> None:
        layers = [str(i) for i in range(len(probe.attn_norms))]
        separable = not np.isnan(probe.mlp_norms).all()
        self.updates.setVisible(separable)
        if not separable:  # post-LN blocks: the updates cannot be told apart from the stream
            self.updates_note.setText(f"Per-layer updates: {probe.note}." if probe.note else "")
            return
        self.updates.set_series(layers, {"‖attention update‖": probe.attn_norms, "‖MLP update‖": probe.mlp_norms},
                                "layer", "norm", highlight=probe.layer)
        big = int(np.nanargmax(probe.mlp_norms))
        self.updates_note.setText(
            f"How much each sub-layer changed the residual vector of '{token}', per layer "
            f"(residual after = before + attention + MLP). Largest MLP update: layer {big}.")

    def _fill_table(self, probe) -> None:
        gated = probe.gated
        headers = ["neuron", "activation"] + (["gate", "up"] if gated else [])
        rows = []
        for i in probe.top_neurons:
            cells = [str(int(i)), f"{probe.hidden[i]:+.3f}"]
            if gated:
                cells += [f"{probe.gate[i]:+.3f}", f"{probe.up[i]:+.3f}"]
            rows.append(cells)
        self._fill_rows(headers, rows)

    def _fill_rows(self, headers: list[str], rows) -> None:
        with filling(self.table) as table:
            table.setColumnCount(len(headers))
            table.setHorizontalHeaderLabels(headers)
            table.setRowCount(len(rows))
            for r, cells in enumerate(rows):
                for c, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    table.setItem(r, c, item)

    def table_rows(self) -> list[list[str]]:
        return [[self.table.item(r, c).text() for c in range(self.table.columnCount())]
                for r in range(self.table.rowCount())]
