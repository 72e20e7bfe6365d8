"""Experts: where a mixture-of-experts router sends every token, read from the trace.

Every trace of a MoE model carries the router's choice per layer and token (`router_ids`,
`router_weights`, `router_probs`, `shared_expert_gate`), so this panel needs no request: it
redraws from the trace on every generation step (through its gate, so only while shown).

- *Selected layer*: that layer's router probabilities, positions × experts, the chosen experts
  dotted by gate weight, and the load of each expert across the sequence (bars).
- *Every layer × position*: the experts each token went to in each layer; dense layers greyed.
- Beside both: the selected token's choice in every layer (a strip, shared experts after a gap)
  above its next-token bars, as the distribution panel shapes them.

Clicking a row, a cell or a strip row selects that position and/or layer for every panel. A dense
model has no router: the panel says so.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.core.context import ViewContext
from desktop.panels.style import emphasise
from model_core.analysis.experts import expert_load, gate_mass, moe_layers
from model_core.analysis.model_sizes import human_count
from viz.block_views import GroupedBars
from viz.expert_views import ExpertGrid, RouterHeatmap, RouterStrip, choice_text
from viz.probability_bars import ProbabilityBars

N_BARS = 8  # next-token bars beside the strip
LOAD_MIN_HEIGHT = 140  # px: the load bars never collapse to a sliver under the heatmap


def _layers_text(layers: list[int]) -> str:
    """[0, 1, 2, 4] -> 'layers 0–2, 4'."""
    runs: list[list[int]] = []
    for layer in layers:
        if runs and layer == runs[-1][-1] + 1:
            runs[-1].append(layer)
        else:
            runs.append([layer])
    parts = [str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs]
    return ("layer " if len(layers) == 1 else "layers ") + ", ".join(parts)


class ExpertsPanel(QWidget):
    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self._grid_drawn: int | None = None  # trace id the layer × position grid shows

        self.summary = QLabel("Load a model to see its experts.")
        self.summary.setWordWrap(True)
        emphasise(self.summary)
        self.dense_note = QLabel()
        self.dense_note.setWordWrap(True)
        self.dense_note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        # Selected layer: router heatmap and the experts' load.
        self.layer_spin = QSpinBox()
        self.layer_spin.setToolTip("Layer (Alt+Up / Alt+Down)")
        self.layer_note = QLabel()
        self.layer_note.setWordWrap(True)
        self.heatmap = RouterHeatmap()
        self.load_bars = GroupedBars()
        self.load_bars.setMinimumHeight(LOAD_MIN_HEIGHT)
        self.load_bars.getPlotItem().getAxis("left").enableAutoSIPrefix(False)  # shares read as 0.25, not 250 m
        self.load_note = QLabel()
        self.load_note.setWordWrap(True)
        layer_page = QWidget()
        layer_layout = QVBoxLayout(layer_page)
        layer_layout.setContentsMargins(0, 0, 0, 0)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Layer"))
        controls.addWidget(self.layer_spin)
        controls.addWidget(self.layer_note, 1)
        layer_layout.addLayout(controls)
        load_box = QWidget()
        load_layout = QVBoxLayout(load_box)
        load_layout.setContentsMargins(0, 0, 0, 0)
        load_layout.addWidget(self.load_note)
        load_layout.addWidget(self.load_bars, 1)
        layer_split = QSplitter(Qt.Orientation.Vertical)
        layer_split.addWidget(self.heatmap)
        layer_split.addWidget(load_box)
        layer_split.setSizes([620, 260])
        layer_layout.addWidget(layer_split, 1)

        # Every layer × position.
        self.grid = ExpertGrid()
        self.grid_note = QLabel()
        self.grid_note.setWordWrap(True)
        grid_page = QWidget()
        grid_layout = QVBoxLayout(grid_page)
        grid_layout.setContentsMargins(0, 0, 0, 0)
        grid_layout.addWidget(self.grid_note)
        grid_layout.addWidget(self.grid, 1)
        self.grid_page = grid_page

        self.tabs = QTabWidget()
        self.tabs.addTab(layer_page, "Selected layer")
        self.tabs.addTab(grid_page, "Every layer × position")

        # The selected token: its experts in every layer, then what comes next.
        self.token_title = QLabel()
        self.token_title.setWordWrap(True)
        emphasise(self.token_title)
        self.strip = RouterStrip()
        self.strip.setMinimumHeight(160)
        self.next_title = QLabel()
        self.next_title.setWordWrap(True)
        self.bars = ProbabilityBars()
        self.bars.setMinimumHeight(120)
        token_box = QWidget()
        token_layout = QVBoxLayout(token_box)
        token_layout.setContentsMargins(0, 0, 0, 0)
        token_layout.addWidget(self.token_title)
        token_layout.addWidget(self.strip, 3)
        token_layout.addWidget(self.next_title)
        token_layout.addWidget(self.bars, 2)

        moe_page = QSplitter(Qt.Orientation.Horizontal)
        moe_page.addWidget(self.tabs)
        moe_page.addWidget(token_box)
        moe_page.setSizes([640, 380])
        self.pages = QStackedWidget()
        self.pages.addWidget(self.dense_note)
        self.pages.addWidget(moe_page)
        self.moe_page = moe_page
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.summary)
        layout.addWidget(self.pages, 1)

        self.layer_spin.valueChanged.connect(lambda value: state.select(layer=value))
        self.heatmap.row_clicked.connect(lambda row: state.select(position=row))
        self.grid.cell_clicked.connect(lambda layer, position: state.select(position=position, layer=layer))
        self.strip.layer_clicked.connect(lambda layer: state.select(layer=layer))
        self.gate = ctx.gate(self._redraw, self._key)
        self.set_shown = self.gate.set_shown
        self.tabs.currentChanged.connect(lambda _i: self.gate.request())
        state.model_changed.connect(self._on_model_changed)
        for changed in (state.trace_changed, state.selection_changed, state.position_changed,
                        state.settings_changed):
            changed.connect(self.gate.request)

    # -- what is drawn ---------------------------------------------------------------------------

    @property
    def has_experts(self) -> bool:
        info = self.state.info
        return info is not None and info.is_moe

    def _key(self) -> tuple | None:
        result = self.state.result
        if result is None:
            return None
        sel = self.state.selection
        found = self.state.next_logits()
        return (result.trace_id, sel.layer, sel.position, found[1] if found else None, self.state.settings,
                self.tabs.currentIndex())

    def _on_model_changed(self) -> None:
        info = self.state.info
        self._grid_drawn = None
        if info is None:
            return
        self.layer_spin.blockSignals(True)
        self.layer_spin.setRange(0, max(info.n_layers - 1, 0))
        self.layer_spin.blockSignals(False)
        if not info.is_moe:
            self.summary.setText(f"{info.name} has no experts: it is a dense model.")
            self.dense_note.setText(
                f"Every token goes through the same MLP in each of the {info.n_layers} layers of {info.name}, so there "
                "is no router to show. In a mixture-of-experts model (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE, "
                "Granite-MoE, GPT-OSS) a router sends each token to a few of many expert MLPs; open one with "
                "File ▸ Open model… to see where every token goes.")
            self.pages.setCurrentWidget(self.dense_note)
            return
        layers = list(info.moe_layers)
        dense = [i for i in range(info.n_layers) if i not in layers]
        shared = (f"; {info.shared_experts} shared expert{'s' if info.shared_experts > 1 else ''} on every token"
                  if info.shared_experts else "")
        dense_text = f"; {_layers_text(dense)} dense (one MLP, no router)" if dense else ""
        active = (f" · {human_count(info.n_active_params)} of {human_count(info.n_params)} parameters used per "
                  f"token ({info.n_active_params / max(info.n_params, 1):.0%})" if info.n_active_params else "")
        self.summary.setText(f"{info.architecture}: {info.n_experts} experts, {info.experts_per_token} chosen per "
                             f"token in {_layers_text(layers)}{dense_text}{shared}{active}")
        self.pages.setCurrentWidget(self.moe_page)

    def _redraw(self) -> None:
        trace = self.state.trace
        if trace is None or not self.has_experts or not trace.is_moe:
            return
        sel = self.state.selection
        layer, position = sel.layer, sel.position
        labels = list(trace.tokens.labels)
        n_experts = trace.router_probs.shape[-1]
        routed = moe_layers(trace.router_ids)  # [L] bool
        shared = trace.shared_expert_gate if trace.shared_expert_gate.shape[-1] else None  # [L, T, S]
        token = labels[position]

        self.layer_spin.blockSignals(True)
        self.layer_spin.setValue(layer)
        self.layer_spin.blockSignals(False)
        if self.tabs.currentWidget() is self.grid_page:
            self._redraw_grid(trace, n_experts, shared, labels)
        self._redraw_layer(trace, layer, position, routed, n_experts, shared, labels)

        # The selected token: its experts in every layer, and the next-token bars.
        self.token_title.setText(f"'{token}' (position {position}): the experts the router chose in each layer")
        self.strip.set_data(trace.router_ids[:, position], trace.router_weights[:, position], n_experts,
                            None if shared is None else shared[:, position], highlight=layer)
        self._redraw_bars()

    def _redraw_layer(self, trace, layer: int, position: int, routed: np.ndarray, n_experts: int,
                      shared: np.ndarray | None, labels: list[str]) -> None:
        if not routed[layer]:
            self.heatmap.set_message(f"Layer {layer} is dense: every token goes through the same MLP, "
                                     "there is no router in this block.")
            self.heatmap.set_title(f"Layer {layer}: dense")
            self.layer_note.setText(f"Layer {layer} has no experts (a dense block inside this MoE model).")
            self.load_bars.set_series([], {}, "expert", "")
            self.load_note.setText("")
            return
        ids, weights = trace.router_ids[layer], trace.router_weights[layer]  # [T, k]
        self.heatmap.set_data(trace.router_probs[layer], ids, weights, labels)
        self.heatmap.set_selected_row(position)
        self.heatmap.set_title(f"Layer {layer}: router probabilities · dots: the chosen experts (size: gate weight)")
        order = np.argsort(-weights[position], kind="stable")
        note = f"'{labels[position]}' went to {choice_text(ids[position][order], weights[position][order])}."
        if shared is not None:
            gates = ", ".join(f"{g:.2f}" for g in shared[layer, position])
            mean = ", ".join(f"{g:.2f}" for g in shared[layer].mean(axis=0))
            note += (f" The shared expert runs on every token, scaled by its own gate: {gates} here, "
                     f"{mean} on average.")
        self.layer_note.setText(note)
        load = expert_load(trace.router_ids[layer:layer + 1], n_experts)[0]  # [E] share of tokens
        mass = gate_mass(trace.router_ids[layer:layer + 1], trace.router_weights[layer:layer + 1], n_experts)[0]
        k = ids.shape[-1]
        top = int(ids[position][order[0]])
        self.load_bars.set_series([str(e) for e in range(n_experts)],
                                  {"share of tokens": load, "mean gate weight": mass},
                                  "expert", "share", highlight=top)
        busiest = int(np.argmax(load))
        idle = int((load == 0).sum())
        self.load_note.setText(
            f"Load across the {trace.n_tokens} tokens: each token picks {k} of {n_experts}, so a balanced router "
            f"sends {k / n_experts:.2f} of the tokens to each expert. Busiest: expert {busiest} "
            f"({load[busiest]:.2f})" + (f"; {idle} expert{'s' if idle > 1 else ''} unused." if idle else "."))

    def _redraw_grid(self, trace, n_experts: int, shared: np.ndarray | None, labels: list[str]) -> None:
        trace_id = self.state.trace_id
        if self._grid_drawn != trace_id:
            self._grid_drawn = trace_id
            self.grid.set_data(trace.router_ids, trace.router_weights, n_experts,
                               [f"{t} {label}" for t, label in enumerate(labels)], shared)
            self.grid_note.setText("The experts each token went to in every layer (most weight first; colour: the "
                                   "first expert, stronger for a larger gate weight; last layer on top). Click a "
                                   "cell to select that layer and token.")
        sel = self.state.selection
        self.grid.select(sel.layer, sel.position)

    def _redraw_bars(self) -> None:
        found, dist, trace = self.state.next_logits(), self.state.distribution(), self.state.trace
        if found is None or dist is None:
            return
        position = found[1]
        self.next_title.setText(f"Next token after '{trace.tokens.labels[position]}' (position {position})")
        top = dist.top(N_BARS)
        shown = np.where(dist.kept[top], dist.shaped[top], dist.scaled[top])
        self.bars.set_data([self.state.label(int(i)) for i in top], shown, dist.kept[top], dist.logits[top])
