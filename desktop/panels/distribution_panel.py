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

from desktop.state import AppState
from model_core.sampling import SamplingSettings, draw_many, rng_for
from viz.probability_bars import ProbabilityBars

N_BARS = 12


class DistributionPanel(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
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

        row = QHBoxLayout()
        for label, widget in (("Temperature", self.temperature), ("Top-k", self.top_k), ("Top-p", self.top_p),
                              ("Seed", self.seed)):
            row.addWidget(QLabel(label))
            row.addWidget(widget)
        row.addWidget(self.show_logits)
        row.addStretch(1)
        row.addWidget(self.n_samples)
        row.addWidget(self.sample_many)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(row)
        layout.addWidget(self.where)
        layout.addWidget(self.bars, 1)

        for spin in (self.temperature, self.top_k, self.top_p, self.seed):
            spin.valueChanged.connect(self._on_controls)
        self.show_logits.toggled.connect(self.bars.set_show_logits)
        self.sample_many.clicked.connect(self._on_sample_many)
        state.trace_changed.connect(self._redraw)
        state.settings_changed.connect(self._sync_controls)
        state.settings_changed.connect(self._redraw)
        state.position_changed.connect(self._redraw)
        state.selection_changed.connect(self._redraw)

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
        self._counts = draw_many(dist, self.n_samples.value(), rng_for(self.state.settings.seed, -trace.n_tokens))
        self._redraw(keep_counts=True)

    def _redraw(self, keep_counts: bool = False) -> None:
        if not keep_counts:
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
