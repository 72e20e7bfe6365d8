"""Token trajectories: every token's residual vector in 2-D, layer by layer."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from desktop.core.context import ViewContext
from model_core.analysis.projection import PER_LAYER, SHARED
from viz.layer_slider import LayerSlider
from viz.trajectory_plot import TrajectoryPlot


class TrajectoryPanel(QWidget):
    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self.slider = LayerSlider()
        self.basis = QComboBox()
        # Short names that fit the combo; what each means is its tooltip.
        for name, basis, meaning in (
            ("Shared basis", SHARED, "One PCA basis for every layer: motion from layer to layer is comparable"),
            ("Per-layer basis", PER_LAYER, "A PCA basis fitted to each layer: the best view of each layer, "
                                           "but positions do not compare across layers"),
        ):
            self.basis.addItem(name, basis)
            self.basis.setItemData(self.basis.count() - 1, meaning, Qt.ItemDataRole.ToolTipRole)
        self.basis.setToolTip("How the residual stream is projected to 2-D (hover an entry for what it means)")
        # As narrow as a few words: the long names no longer set the dock's smallest width.
        self.basis.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.basis.setMinimumContentsLength(14)
        self.trails = QCheckBox("Trails")
        self.trails.setChecked(True)
        self.plot = TrajectoryPlot()
        controls = QHBoxLayout()
        controls.addWidget(self.slider, 1)
        controls.addWidget(QLabel("PCA"))
        controls.addWidget(self.basis)
        controls.addWidget(self.trails)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(controls)
        layout.addWidget(self.plot, 1)

        self.slider.layer_changed.connect(self.plot.set_layer)
        self.trails.toggled.connect(self.plot.set_trails)
        self.basis.activated.connect(lambda _i: ctx.traces.ask_projection(self.basis.currentData()))
        self.plot.point_clicked.connect(lambda i: state.select(position=i))
        state.model_changed.connect(self._on_model_changed)
        self.gate = ctx.gate(self._on_projection, self._projection_key)
        self.set_shown = self.gate.set_shown
        state.projection_changed.connect(self.gate.request)
        state.selection_changed.connect(self._on_selection)

    def _on_model_changed(self) -> None:
        self.slider.set_maximum(self.state.info.n_layers)
        self.slider.set_layer(0)

    def _projection_key(self) -> tuple | None:
        projection, result = self.state.projection, self.state.result
        if projection is None or result is None:
            return None
        return (projection.trace_id, projection.basis, result.trace_id)

    def _on_projection(self) -> None:
        trace, projection = self.state.trace, self.state.projection
        if trace is None or projection is None or projection.points.shape[1] != trace.n_tokens:
            return
        self.plot.set_data(projection.points, list(trace.tokens.labels))
        if self.plot.layer() != self.slider.layer():  # each of these redraws the whole plot
            self.plot.set_layer(self.slider.layer())
        self._on_selection()

    def _on_selection(self) -> None:
        """Only a new position moves the highlight; layer and head changes mean nothing here."""
        if self.gate.stale or not self.gate.shown:
            return  # drawn in full when the tab comes back
        # Against what the plot shows, not the newest projection: during and just after a Run its
        # redraw may still wait its turn (RedrawStagger), and then draws the selection itself.
        position = self.state.selection.position
        if self.plot.selected() != position and position < self.plot.n_tokens():
            self.plot.set_selected(position)
