"""Token trajectories: every token's residual vector in 2-D, layer by layer."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from desktop.state import AppState
from model_core.projection import PER_LAYER, SHARED
from viz.layer_slider import LayerSlider
from viz.trajectory_plot import TrajectoryPlot


class TrajectoryPanel(QWidget):
    def __init__(self, state: AppState, request_basis, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._request_basis = request_basis
        self.slider = LayerSlider()
        self.basis = QComboBox()
        self.basis.addItem("Shared basis (motion comparable)", SHARED)
        self.basis.addItem("Per-layer basis (best view of each layer)", PER_LAYER)
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
        self.basis.activated.connect(lambda _i: self._request_basis(self.basis.currentData()))
        self.plot.point_clicked.connect(lambda i: state.select(position=i))
        state.model_changed.connect(self._on_model_changed)
        state.projection_changed.connect(self._on_projection)
        state.selection_changed.connect(self._on_selection)

    def _on_model_changed(self) -> None:
        self.slider.set_maximum(self.state.info.n_layers)
        self.slider.set_layer(0)

    def _on_projection(self) -> None:
        trace, projection = self.state.trace, self.state.projection
        if trace is None or projection is None or projection.points.shape[1] != trace.n_tokens:
            return
        self.plot.set_data(projection.points, list(trace.tokens.labels))
        self.plot.set_layer(self.slider.layer())
        self.plot.set_trails(self.trails.isChecked())
        self._on_selection()

    def _on_selection(self) -> None:
        trace = self.state.trace
        if trace is not None:
            self.plot.set_selected(self.state.selection.position)
