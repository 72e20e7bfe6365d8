"""Generation stepper: the text so far, n / max, and Step / Sample / Undo / Reset / Run to end."""

from __future__ import annotations

import html

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QTextBrowser, QVBoxLayout, QWidget

from desktop.core.context import ViewContext
from desktop.core.requests import tracing as m
from model_core.types.stop_reasons import STOP_MESSAGES


class GenerationPanel(QWidget):
    action_requested = Signal(str)  # one of tracing.STEP / SAMPLE / UNDO / RESET / RUN
    stop_requested = Signal()
    _font_size = 12.0  # the generated text, in points

    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self._traces = ctx.traces
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.counter = QLabel("0 / 20")
        self.counter.setObjectName("counter")
        self.max_new = QSpinBox(minimum=1, maximum=4096, value=20, prefix="max ")
        self.max_new.setToolTip("Maximum number of new tokens")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for action, label, tip in (
            (m.STEP, "Step", "Append the most likely token (greedy) — F8"),
            (m.SAMPLE, "Sample", "Draw the next token with the temperature, top-k, top-p and seed — F9"),
            (m.UNDO, "Undo", "Remove the last generated token — Shift+F8"),
            (m.RESET, "Reset", "Back to the prompt — Ctrl+R"),
            (m.RUN, "Run to end", "Keep sampling until end-of-text or the maximum — F10"),
        ):
            button = QPushButton(label)
            button.setToolTip(tip)
            button.clicked.connect(lambda _checked=False, a=action: self._on_button(a))
            self.buttons[action] = button
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(self.max_new)
        row.addWidget(self.counter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(row)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.status)
        self._running = False
        self.max_new.valueChanged.connect(self._on_max_changed)
        state.trace_changed.connect(self._redraw)
        ctx.traces.run.started.connect(lambda: self.set_running(True))
        ctx.traces.run.ended.connect(lambda: self.set_running(False))
        self._update_buttons()

    def set_font_size(self, point_size: float) -> None:
        """Size of the generated text in points (presentation mode makes it large)."""
        self._font_size = point_size
        self._redraw()

    def set_running(self, running: bool) -> None:
        self._running = running
        self.buttons[m.RUN].setText("Stop" if running else "Run to end")
        self._update_buttons()

    def _on_button(self, action: str) -> None:
        if action == m.RUN and self._running:
            self.stop_requested.emit()
        else:
            self.action_requested.emit(action)

    def _on_max_changed(self, value: int) -> None:
        self._traces.max_new_tokens = value
        self._redraw()

    def _update_buttons(self) -> None:
        result = self.state.result
        has_trace = result is not None
        can_grow = has_trace and result.stop_reason is None and result.n_new < self.max_new.value()
        self.buttons[m.STEP].setEnabled(can_grow and not self._running)
        self.buttons[m.SAMPLE].setEnabled(can_grow and not self._running)
        self.buttons[m.RUN].setEnabled(self._running or can_grow)
        self.buttons[m.UNDO].setEnabled(has_trace and result.n_new > 0 and not self._running)
        self.buttons[m.RESET].setEnabled(has_trace and result.n_new > 0 and not self._running)

    def _redraw(self) -> None:
        result = self.state.result
        if result is None:
            return
        trace = result.trace
        prompt, new = trace.prompt_text, trace.generated_text
        accent = self.palette().color(self.palette().ColorRole.Link).name()
        self.text.setHtml(
            f"<div style='white-space: pre-wrap; font-size: {self._font_size:g}pt'>"
            f"{html.escape(prompt)}<span style='color:{accent}; font-weight:600; text-decoration: underline'>"
            f"{html.escape(new)}</span></div>"
        )
        maximum = self.max_new.value()
        self.counter.setText(f"{result.n_new} / {maximum}")
        reason = result.stop_reason
        if reason is None and result.n_new >= maximum:
            reason = "max-length"
        self.status.setText(STOP_MESSAGES.get(reason, "") if reason else "")
        self._update_buttons()
