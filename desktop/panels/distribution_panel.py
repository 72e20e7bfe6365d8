"""Next-token distribution: top-k bars reshaped live by temperature, top-k and top-p."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.core.context import ViewContext
from model_core.analysis.sampling import SamplingSettings, draw_many, rng_for
from viz.flow_layout import FlowLayout
from viz.probability_bars import ProbabilityBars

N_BARS = 12
SAMPLE_MANY_STEP = 2**32  # "sample many" draws from its own stream, apart from the stepper's (seed, step)


def _pair(label: str, *widgets: QWidget | None) -> QWidget:
    """A label and its control(s) as one unit for the wrapping controls row."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    if label:
        row.addWidget(QLabel(label))
    for widget in widgets:
        if widget is not None:
            row.addWidget(widget)
    return box


class DistributionPanel(QWidget):
    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self.temperature = QDoubleSpinBox(minimum=0.0, maximum=5.0, singleStep=0.1, decimals=2, value=1.0)
        self.temperature.setToolTip("0 = greedy: always the most likely token")
        self.top_k = QSpinBox(minimum=0, maximum=100_000, value=0, specialValueText="off")
        self.top_p = QDoubleSpinBox(minimum=0.01, maximum=1.0, singleStep=0.05, decimals=2, value=1.0)
        self.top_p.setToolTip("Keep the smallest set of tokens whose probability adds up to p (1 = off)")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.seed.setToolTip("The same seed gives the same sampled text")
        self.show_logits = QCheckBox("Raw logits")
        self.n_samples = QSpinBox(minimum=1, maximum=100_000, value=100, suffix=" draws")
        self.sample_many = QPushButton("Sample many")
        self.sample_many.setToolTip("Draw N tokens from this distribution and count them")
        self.where = QLabel()
        self.bars = ProbabilityBars()
        self._counts: np.ndarray | None = None

        # The controls wrap like words (each label stays with its box), so large presentation
        # fonts or a narrow dock give a second line instead of clipped controls.
        self.controls = QWidget()
        flow = FlowLayout(self.controls, h_spacing=14, v_spacing=4)
        flow.setContentsMargins(0, 0, 0, 0)
        for label, widget in (("Temperature", self.temperature), ("Top-k", self.top_k), ("Top-p", self.top_p),
                              ("Seed", self.seed), ("", self.show_logits), ("", self.n_samples)):
            flow.addWidget(_pair(label, widget, self.sample_many if widget is self.n_samples else None))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.controls)
        layout.addWidget(self.where)
        layout.addWidget(self.bars, 1)

        for spin in (self.temperature, self.top_k, self.top_p, self.seed):
            spin.valueChanged.connect(self._on_controls)
        self.show_logits.toggled.connect(self.bars.set_show_logits)
        self.sample_many.clicked.connect(self._on_sample_many)
        self._counts_key: tuple | None = None  # what the sample-many counts were drawn from
        self.gate = ctx.gate(self._redraw, self._key)
        self.set_shown = self.gate.set_shown
        state.settings_changed.connect(self._sync_controls)
        for changed in (state.trace_changed, state.settings_changed, state.position_changed, state.selection_changed):
            changed.connect(self.gate.request)  # a layer or head change leaves the key, so nothing redraws

    def settings(self) -> SamplingSettings:
        return SamplingSettings(self.temperature.value(), self.top_k.value(), self.top_p.value(), self.seed.value())

    def _on_controls(self) -> None:
        self._counts = None
        self.state.set_settings(self.settings())

    def _sync_controls(self) -> None:
        s = self.state.settings
        for spin, value in ((self.temperature, s.temperature), (self.top_k, s.top_k), (self.top_p, s.top_p),
                            (self.seed, s.seed)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)

    def _on_sample_many(self) -> None:
        dist = self.state.distribution()
        if dist is None:
            return
        trace = self.state.trace
        rng = rng_for(self.state.settings.seed, SAMPLE_MANY_STEP + trace.n_tokens)
        self._counts = draw_many(dist, self.n_samples.value(), rng)
        self._counts_key = self._key()
        self.gate.request(force=True)

    def _key(self) -> tuple | None:
        """The bars depend on the trace, the position whose logits are known, and the settings."""
        found = self.state.next_logits()
        return None if found is None else (self.state.result.trace_id, found[1], self.state.settings)

    def _redraw(self) -> None:
        if self._counts_key != self._key():
            self._counts = None
        found = self.state.next_logits()
        dist = self.state.distribution()
        if found is None or dist is None:
            return
        _, position = found
        trace = self.state.trace
        after = trace.tokens.labels[position]
        self.where.setText(f"After position {position} ({after}): what comes next")
        top = dist.top(N_BARS)
        labels = [self.state.label(int(i)) for i in top]
        shown = np.where(dist.kept[top], dist.shaped[top], dist.scaled[top])
        counts = self._counts[top] if self._counts is not None else None
        self.bars.set_data(labels, shown, dist.kept[top], dist.logits[top], counts)
