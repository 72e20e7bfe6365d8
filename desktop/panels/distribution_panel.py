"""Next-token distribution: top-k bars reshaped live by every decoding knob.

Temperature, top-k, top-p and min-p, the repetition / frequency / presence penalties, a logit bias
for chosen tokens and stop sequences: each reshapes the bars as it reshapes what Sample draws
(model_core/analysis/sampling.py). A token a knob removed stays on screen, greyed; one a penalty
or a bias moved is drawn paler, with a dashed outline where the model alone had it; hovering says
which knob did what. Right-click a bar to ban or boost that token.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.context import ViewContext
from model_core.analysis.sampling import (
    BAN,
    MAX_FREQUENCY_PENALTY,
    MAX_REPETITION_PENALTY,
    SamplingSettings,
    bias_table,
    draw_many,
    format_bias_list,
    format_stop_list,
    parse_bias_list,
    parse_stop_list,
    rng_for,
)
from viz.flow_layout import FlowLayout
from viz.probability_bars import ProbabilityBars

N_BARS = 12
SAMPLE_MANY_STEP = 2**32  # "sample many" draws from its own stream, apart from the stepper's (seed, step)
BOOST = 5.0  # the logit bias the bars' menu adds or takes away


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


def _spin(minimum: float, maximum: float, step: float, value: float, tip: str, decimals: int = 2,
          off: str = "") -> QDoubleSpinBox:
    spin = QDoubleSpinBox(minimum=minimum, maximum=maximum, singleStep=step, decimals=decimals, value=value)
    spin.setToolTip(tip)
    if off:
        spin.setSpecialValueText(off)
    return spin


class DistributionPanel(QWidget):
    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self.temperature = _spin(0.0, 5.0, 0.1, 1.0, "0 = greedy: always the most likely token")
        self.top_k = QSpinBox(minimum=0, maximum=100_000, value=0, specialValueText="off")
        self.top_k.setToolTip("Keep only the k most likely tokens (ties with the k-th stay)")
        self.top_p = _spin(0.01, 1.0, 0.05, 1.0, "Keep the smallest set of tokens whose probability adds up to p (1 = off)")
        self.min_p = _spin(0.0, 1.0, 0.01, 0.0, "Drop tokens less likely than min-p × the most likely token's "
                           "probability (after the temperature)", off="off")
        self.repetition = _spin(0.05, MAX_REPETITION_PENALTY, 0.05, 1.0,
                                "Repetition penalty: the logit of every token already in the text is divided by it "
                                "(multiplied when negative), the prompt included, as transformers does (1 = off)")
        self.frequency = _spin(-MAX_FREQUENCY_PENALTY, MAX_FREQUENCY_PENALTY, 0.1, 0.0,
                               "Frequency penalty: subtract it once for every time a token already occurs (0 = off)")
        self.presence = _spin(-MAX_FREQUENCY_PENALTY, MAX_FREQUENCY_PENALTY, 0.1, 0.0,
                              "Presence penalty: subtract it once from every token that already occurs (0 = off)")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.seed.setToolTip("The same seed gives the same sampled text")
        self.stop = QLineEdit()
        self.stop.setPlaceholderText(r"e.g. .|\n")
        self.stop.setToolTip("Stop sequences: generation ends at the token that completes one. "
                             r"Separate them with |; write \n for a new line, \| for a bar")
        self.bias = QLineEdit()
        self.bias.setPlaceholderText("id=bias, …")
        self.bias.setToolTip("Logit bias: add a number to chosen tokens' logits, e.g. 7042=-100 (−100 bans the "
                             "token), 12=+3. Or right-click a bar")
        for field in (self.stop, self.bias):
            field.setMinimumWidth(110)
        self.reset_knobs = QPushButton("Reset knobs")
        self.reset_knobs.setToolTip("Temperature 1 and every other knob off (the seed stays)")
        self.show_logits = QCheckBox("Raw logits")
        self.n_samples = QSpinBox(minimum=1, maximum=100_000, value=100, suffix=" draws")
        self.sample_many = QPushButton("Sample many")
        self.sample_many.setToolTip("Draw N tokens from this distribution and count them: each share is count / N")
        self.where = QLabel()
        self.where.setWordWrap(True)
        self.problem = QLabel()
        self.problem.setObjectName("knob-problem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("#knob-problem { color: #C00000; }")
        self.problem.hide()
        self.bars = ProbabilityBars()
        self._counts: np.ndarray | None = None
        self._draws = 0
        self._rows: np.ndarray = np.zeros(0, np.int64)  # the token ids of the bars on screen

        self.more = QToolButton()
        self.more.setText("More knobs")
        self.more.setCheckable(True)
        self.more.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.more.setArrowType(Qt.ArrowType.RightArrow)
        self.more.setToolTip("Repetition, frequency and presence penalties, stop sequences, logit bias")

        # The controls wrap like words (each label stays with its box), so large presentation
        # fonts or a narrow dock give a second line instead of clipped controls. The penalties,
        # stop sequences and bias are a second row, shown with "More knobs" (and whenever one is on).
        self.controls = QWidget()
        flow = FlowLayout(self.controls, h_spacing=12, v_spacing=4)
        flow.setContentsMargins(0, 0, 0, 0)
        for label, widget in (("Temperature", self.temperature), ("Top-k", self.top_k), ("Top-p", self.top_p),
                              ("Min-p", self.min_p), ("Seed", self.seed), ("", self.more), ("", self.show_logits),
                              ("", self.n_samples)):
            flow.addWidget(_pair(label, widget, self.sample_many if widget is self.n_samples else None))
        self.temperature.setToolTip("Temperature: 0 = greedy, always the most likely token")
        self.more_controls = QWidget()
        more = FlowLayout(self.more_controls, h_spacing=12, v_spacing=4)
        more.setContentsMargins(0, 0, 0, 0)
        for label, widget in (("Rep. penalty", self.repetition), ("Freq.", self.frequency), ("Pres.", self.presence),
                              ("Stop", self.stop), ("Bias", self.bias), ("", self.reset_knobs)):
            more.addWidget(_pair(label, widget))
        self.more_controls.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.controls)
        layout.addWidget(self.more_controls)
        layout.addWidget(self.problem)
        layout.addWidget(self.where)
        layout.addWidget(self.bars, 1)

        for spin in (self.temperature, self.top_k, self.top_p, self.min_p, self.repetition, self.frequency,
                     self.presence, self.seed):
            spin.valueChanged.connect(self._on_controls)
        for field in (self.stop, self.bias):
            field.editingFinished.connect(self._on_controls)
        self.reset_knobs.clicked.connect(self._on_reset_knobs)
        self.more.toggled.connect(self._on_more)
        self.show_logits.toggled.connect(self.bars.set_show_logits)
        self.sample_many.clicked.connect(self._on_sample_many)
        self.bars.bar_menu_requested.connect(self._on_bar_menu)
        self._counts_key: tuple | None = None  # what the sample-many counts were drawn from
        self.gate = ctx.gate(self._redraw, self._key)
        self.set_shown = self.gate.set_shown
        state.settings_changed.connect(self._sync_controls)
        for changed in (state.trace_changed, state.settings_changed, state.position_changed, state.selection_changed):
            changed.connect(self.gate.request)  # a layer or head change leaves the key, so nothing redraws

    # -- the knobs -------------------------------------------------------------------------------------

    def settings(self) -> SamplingSettings:
        """The settings the controls show. A stop or bias field that cannot be read keeps the value in
        force (and says why below the controls), so nothing typed is lost or half-applied."""
        problems = []
        current = self.state.settings
        try:
            bias = parse_bias_list(self.bias.text())
            vocab = len(self.state.vocab_labels)
            outside = [i for i, _ in bias if vocab and i >= vocab]
            if outside:
                raise ValueError(f"logit bias: token id {outside[0]} is not in the vocabulary (0 to {vocab - 1})")
        except ValueError as exc:
            bias = current.logit_bias
            problems.append(str(exc))
        stop = parse_stop_list(self.stop.text())
        self._show_problem("; ".join(problems))
        return SamplingSettings(
            temperature=self.temperature.value(), top_k=self.top_k.value(), top_p=self.top_p.value(),
            seed=self.seed.value(), min_p=self.min_p.value(), repetition_penalty=self.repetition.value(),
            frequency_penalty=self.frequency.value(), presence_penalty=self.presence.value(),
            logit_bias=bias, stop=stop,
        )

    def _show_problem(self, text: str) -> None:
        self.problem.setText(f"Not applied: {text}" if text else "")
        self.problem.setVisible(bool(text))

    def _on_controls(self) -> None:
        self._counts = None
        self.state.set_settings(self.settings())

    def _on_more(self, on: bool) -> None:
        self.more_controls.setVisible(on)
        self.more.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def _on_reset_knobs(self) -> None:
        self.state.set_settings(SamplingSettings(seed=self.state.settings.seed))
        self._show_problem("")

    def _sync_controls(self) -> None:
        s = self.state.settings
        for spin, value in ((self.temperature, s.temperature), (self.top_k, s.top_k), (self.top_p, s.top_p),
                            (self.seed, s.seed), (self.min_p, s.min_p), (self.repetition, s.repetition_penalty),
                            (self.frequency, s.frequency_penalty), (self.presence, s.presence_penalty)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        if s.changes_logits or s.stop:
            self.more.setChecked(True)  # a knob of the second row is on: show it
        if parse_stop_list(self.stop.text()) != s.stop:  # keep the user's own spelling of the same list
            self.stop.setText(format_stop_list(s.stop))
        if parse_bias_list_safe(self.bias.text()) != s.logit_bias:
            self.bias.setText(format_bias_list(s.logit_bias))

    def set_bias(self, token_id: int, bias: float | None) -> None:
        """Give one token a logit bias (None removes it); the field and the bars follow."""
        table = dict(self.state.settings.logit_bias)
        if bias is None or bias == 0:
            table.pop(int(token_id), None)
        else:
            table[int(token_id)] = float(np.clip(bias, BAN, -BAN))
        self._counts = None
        self.state.set_settings(replace(self.state.settings, logit_bias=bias_table(table.items())))

    def _on_bar_menu(self, index: int, where: QPoint) -> None:
        if not 0 <= index < len(self._rows):
            return
        token_id = int(self._rows[index])
        menu = self.bar_menu(token_id)
        menu.popup(where)
        self._menu = menu  # kept alive while it is open

    def bar_menu(self, token_id: int) -> QMenu:
        """Ban, boost or lower one token (the actions a right click on its bar offers)."""
        label = self.state.label(token_id)
        current = self.state.settings.bias.get(token_id, 0.0)
        menu = QMenu(self)
        menu.addAction(f"Ban '{label}' (logit bias −100)", lambda: self.set_bias(token_id, BAN))
        menu.addAction(f"Boost '{label}' (+{BOOST:g})", lambda: self.set_bias(token_id, current + BOOST))
        menu.addAction(f"Lower '{label}' (−{BOOST:g})", lambda: self.set_bias(token_id, current - BOOST))
        remove = menu.addAction(f"Remove the bias of '{label}'", lambda: self.set_bias(token_id, None))
        remove.setEnabled(token_id in self.state.settings.bias)
        return menu

    # -- sample many -----------------------------------------------------------------------------------

    def _on_sample_many(self) -> None:
        dist = self.state.distribution()
        if dist is None:
            return
        trace = self.state.trace
        rng = rng_for(self.state.settings.seed, SAMPLE_MANY_STEP + trace.n_tokens)
        self._draws = self.n_samples.value()
        self._counts = draw_many(dist, self._draws, rng)
        self._counts_key = self._key()
        self.gate.request(force=True)

    # -- drawing ---------------------------------------------------------------------------------------

    def _key(self) -> tuple | None:
        """The bars depend on the trace, the position whose logits are known, and the settings."""
        found = self.state.next_logits()
        return None if found is None else (self.state.result.trace_id, found[1], self.state.settings)

    def _redraw(self) -> None:
        if self._counts_key != self._key():
            self._counts = None
        found = self.state.next_logits()
        if found is None:
            return
        dist = self.state.distribution()
        _, position = found
        trace = self.state.trace
        after = trace.tokens.labels[position]
        if dist is None:
            self.where.setText("The logit bias bans every token: nothing could be drawn. Remove a bias.")
            return
        rows = dist.rows(N_BARS)
        self._rows = rows
        moved = np.array([dist.changed(int(i)) for i in rows], dtype=bool)
        notes = ["; ".join(dist.reasons(int(i))) for i in rows]
        n_moved, n_banned = int(moved.sum()), int((dist.removed_by[rows] == 1).sum())
        summary = []
        if n_moved:
            summary.append(f"{n_moved} moved by a penalty or bias")
        if n_banned:
            summary.append(f"{n_banned} banned")
        self.where.setText(f"After position {position} ({after}): what comes next"
                           + (f" — {', '.join(summary)} (hover: why)" if summary else ""))
        labels = [self.state.label(int(i)) for i in rows]
        shown = np.where(dist.kept[rows], dist.shaped[rows], dist.scaled[rows])
        before = np.where(moved, dist.base[rows], np.nan)
        counts = self._counts[rows] if self._counts is not None else None
        self.bars.set_data(labels, shown, dist.kept[rows], dist.logits[rows], counts,
                           draws=self._draws if counts is not None else None, before=before, notes=notes)


def parse_bias_list_safe(text: str) -> tuple | None:
    try:
        return parse_bias_list(text)
    except ValueError:
        return None
