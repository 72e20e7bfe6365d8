"""Token trajectories through depth and the layer slider that steps them."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from viz.demo import fake
from viz.layer_slider import LayerSlider
from viz.trajectory_plot import TrajectoryPlot


def trajectory() -> QWidget:
    """TrajectoryPlot + LayerSlider: every token's residual stream on two principal components, with trails."""
    plot = TrajectoryPlot()
    plot.set_data(fake.trajectories(fake.LABELS), fake.LABELS)
    plot.set_axis_labels("PC 1", "PC 2")
    plot.set_selected(5)  # "␣Paris"
    slider = LayerSlider(interval_ms=500)
    slider.set_maximum(fake.N_LAYERS)
    slider.layer_changed.connect(plot.set_layer)
    slider.set_layer(9)
    trails = QCheckBox("Trails")
    trails.setChecked(True)
    trails.toggled.connect(plot.set_trails)

    page = QWidget()
    controls = QHBoxLayout()
    controls.addWidget(slider, 1)
    controls.addWidget(trails)
    layout = QVBoxLayout(page)
    layout.setContentsMargins(6, 6, 6, 6)
    layout.addWidget(plot, 1)
    layout.addLayout(controls)
    page.resize(820, 640)
    return page


def layer_slider() -> QWidget:
    """LayerSlider on its own: press Play to step 0..12 (it loops), the label echoes layer_changed."""
    slider = LayerSlider(interval_ms=400, loop=True)
    slider.set_maximum(fake.N_LAYERS)
    echo = QLabel()
    slider.layer_changed.connect(lambda layer: echo.setText(f"layer_changed({layer})"))
    slider.set_layer(4)
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.addWidget(slider)
    layout.addWidget(echo)
    layout.addStretch(1)
    page.resize(520, 110)
    return page
