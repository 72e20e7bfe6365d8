"""Break it and watch (#15): the Interventions dock, right-click "Ablate …" on the views that show a head,
a layer's attention, an MLP or a block, Generate ▸ Reset model, and the distribution's before → after.

The list lives in one `InterventionsController`; sessions save it and lessons set it through
`host.feature("interventions").controller`. The context menus are added to the panels' widgets from
here, so the panels themselves know nothing of interventions.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QMenu, QWidget

from desktop.core.host import Host
from desktop.core.interventions_controller import InterventionsController
from desktop.panels.interventions_panel import InterventionsPanel
from model_core.types.interventions import ATTENTION, BLOCK, HEAD, MLP, Ablation

NAME = "interventions"
N_COMPARED = 5  # tokens in the before → after line


def comparison_text(labels: list[str], before: np.ndarray, after: np.ndarray, n: int = N_COMPARED) -> str:
    """"Before → with the interventions: ' Paris' 97.6% → 3.4% · …" for the n tokens most likely before
    (and the new top token when it is not among them)."""
    order = list(np.argsort(-before)[:n])
    top_after = int(np.argmax(after))
    if top_after not in order:
        order.append(top_after)
    parts = [f"'{labels[i]}' {before[i] * 100:.1f}% → <b>{after[i] * 100:.1f}%</b>" for i in order]
    return "Model as trained → with the interventions: " + " · ".join(parts)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max())
    return z / z.sum()


class InterventionsFeature:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.controller = InterventionsController(host.state, host.client, host)  # parented: lives with the window
        self.panel = InterventionsPanel(host.ctx, self.controller)
        self.dock = host.add_dock(NAME, "Interventions", self.panel, Qt.DockWidgetArea.RightDockWidgetArea)
        behind = next((host.docks[k] for k in ("kv_cache", "embeddings", "model", "distribution") if k in host.docks),
                      None)
        if behind is not None:
            host.tabifyDockWidget(behind, self.dock)
            front = host.docks.get("distribution")
            if front is not None:
                front.raise_()  # a tab behind the distribution, which stays in front
        self.controller.failed.connect(host.show_message)
        reset = QAction("Reset model (remove every intervention)", host)
        reset.triggered.connect(self.controller.reset)
        host.add_menu_item("generate.actions", reset)
        self.comparison = QLabel()
        self.comparison.setWordWrap(True)
        self.comparison.setTextFormat(Qt.TextFormat.RichText)
        self.comparison.hide()
        self._attach_comparison()
        self.controller.baseline_changed.connect(self._show_comparison)
        host.state.trace_changed.connect(self._show_comparison)
        host.state.selection_changed.connect(self._show_comparison)
        self._attach_menus()

    # -- before → after on the distribution panel ---------------------------------------------------

    def _attach_comparison(self) -> None:
        try:
            panel = self.host.panel("distribution")
        except KeyError:
            return
        layout = panel.layout()
        bars = getattr(panel, "bars", None)
        index = layout.indexOf(bars) if bars is not None else -1
        layout.insertWidget(index if index >= 0 else layout.count(), self.comparison)

    def _show_comparison(self) -> None:
        state, controller = self.host.state, self.controller
        trace = state.trace
        last = trace is not None and state.selection.position == trace.n_tokens - 1
        if (not controller.active or controller.baseline is None or trace is None or not last
                or controller.baseline_trace_id != state.trace_id):
            self.comparison.hide()
            return
        labels = [state.label(i) for i in range(len(controller.baseline))]
        self.comparison.setText(comparison_text(labels, _softmax(controller.baseline), _softmax(trace.next_logits)))
        self.comparison.show()

    def comparison_shown(self) -> str:
        """The before → after line as plain text ('' while hidden)."""
        return self.comparison.text().replace("<b>", "").replace("</b>", "") if not self.comparison.isHidden() else ""

    # -- right-click "Ablate …" ---------------------------------------------------------------------

    def _attach_menus(self) -> None:
        host = self.host
        targets = [("attention", "heatmap", self._head_menu), ("heads", "grid", self._grid_menu),
                   ("mlp", None, self._mlp_menu), ("anatomy", "diagram", self._block_menu)]
        for key, attribute, build in targets:
            try:
                panel = host.panel(key)
            except KeyError:
                continue
            widget = getattr(panel, attribute) if attribute else panel
            widget.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            widget.customContextMenuRequested.connect(
                lambda pos, widget=widget, build=build: self._popup(widget, pos, build(widget, pos)))

    def _popup(self, widget: QWidget, pos: QPoint, menu: QMenu | None) -> None:
        if menu is not None and not menu.isEmpty():
            menu.popup(widget.mapToGlobal(pos))

    def menu_for(self, items: list[tuple[str, Ablation]], parent: QWidget) -> QMenu | None:
        if self.host.state.info is None:
            return None
        menu = QMenu(parent)
        for text, ablation in items:
            action = menu.addAction(text)
            action.triggered.connect(lambda _checked=False, a=ablation: self.controller.add(a))
        menu.addSeparator()
        reset = menu.addAction("Reset model")
        reset.setEnabled(bool(self.controller.interventions.items))
        reset.triggered.connect(self.controller.reset)
        return menu

    def head_items(self, layer: int, head: int) -> list[tuple[str, Ablation]]:
        return [(f"Ablate head {layer}.{head} (zero)", Ablation(HEAD, layer, head, "zero")),
                (f"Ablate head {layer}.{head} (mean)", Ablation(HEAD, layer, head, "mean")),
                (f"Ablate all attention of layer {layer}", Ablation(ATTENTION, layer))]

    def layer_items(self, layer: int) -> list[tuple[str, Ablation]]:
        return [(f"Ablate the attention of layer {layer}", Ablation(ATTENTION, layer)),
                (f"Ablate the MLP of layer {layer} (zero)", Ablation(MLP, layer, None, "zero")),
                (f"Ablate the MLP of layer {layer} (mean)", Ablation(MLP, layer, None, "mean")),
                (f"Skip block {layer} (ablate it whole)", Ablation(BLOCK, layer))]

    def _head_menu(self, widget: QWidget, _pos: QPoint) -> QMenu | None:
        sel = self.host.state.selection
        return self.menu_for(self.head_items(sel.layer, sel.head), widget)

    def _grid_menu(self, widget: QWidget, pos: QPoint) -> QMenu | None:
        found = widget.head_at(widget.mapToScene(pos)) if hasattr(widget, "head_at") else None
        if found is None:
            sel = self.host.state.selection
            found = (sel.layer, sel.head)
        return self.menu_for(self.head_items(*found), widget)

    def _mlp_menu(self, widget: QWidget, _pos: QPoint) -> QMenu | None:
        layer = self.host.state.selection.layer
        return self.menu_for(self.layer_items(layer)[1:3], widget)

    def _block_menu(self, widget: QWidget, _pos: QPoint) -> QMenu | None:
        return self.menu_for(self.layer_items(self.host.state.selection.layer), widget)


def install(host: Host) -> InterventionsFeature:
    return InterventionsFeature(host)
