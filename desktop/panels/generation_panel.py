"""Generation stepper: the text so far, n / max, and Step / Sample / Undo / Reset / Run to end.

The text shows what the model reads (control tokens as small grey tags, so a chat prompt shows its
template) and how each new token was chosen: greedy tokens underlined, sampled ones in another
colour with a wavy underline. Run to end is greedy (Step, repeated) or sampled (Sample, repeated),
as the mode beside it says; the button says which.
"""

from __future__ import annotations

import codecs

from PySide6.QtCore import QEvent, Signal
from PySide6.QtGui import QColor, QFont, QResizeEvent, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.core.context import ViewContext
from desktop.core.requests import tracing as m
from model_core.types.stop_reasons import MAX_LENGTH, stop_message
from viz.theme import LIGHT, Palette

GREEDY, SAMPLED, GIVEN = "greedy", "sampled", "given"  # as the stepper marks each generated token
RUN_MODES = ((GREEDY, "greedy"), (SAMPLED, "sampled"))


class GenerationPanel(QWidget):
    action_requested = Signal(str)  # one of tracing.STEP / SAMPLE / UNDO / RESET / RUN
    stop_requested = Signal()
    _font_size = 12.0  # the generated text, in points
    _built = False  # a palette change during construction has nothing to redraw yet

    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self._traces = ctx.traces
        self._theme = LIGHT
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.counter = QLabel("0 / 20")
        self.counter.setObjectName("counter")
        self.max_new = QSpinBox(minimum=1, maximum=4096, value=20, prefix="max ")
        self.max_new.setToolTip("Max length: the most new tokens to generate")
        self.run_mode = QComboBox()
        for key, label in RUN_MODES:
            self.run_mode.addItem(label, key)
        self.run_mode.setToolTip("Run to end: every token greedy (Step, repeated) or sampled with the "
                                 "distribution panel's knobs and seed (Sample, repeated)")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.legend = QLabel()
        self.legend.setToolTip("How each generated token was chosen")
        self.buttons: dict[str, QPushButton] = {}
        step_row, run_row = QHBoxLayout(), QHBoxLayout()
        for action, label, tip in (
            (m.STEP, "Step", "Append the most likely token (greedy; penalties and logit bias apply) — F8"),
            (m.SAMPLE, "Sample", "Draw the next token with the distribution panel's knobs and seed — F9"),
            (m.UNDO, "Undo", "Remove the last generated token — Shift+F8"),
            (m.RESET, "Reset", "Back to the prompt — Ctrl+R"),
            (m.RUN, "Run to end · greedy", ""),
        ):
            button = QPushButton(label)
            button.setToolTip(tip)
            button.clicked.connect(lambda _checked=False, a=action: self._on_button(a))
            self.buttons[action] = button
            (run_row if action == m.RUN else step_row).addWidget(button)
        run_row.addWidget(self.run_mode)
        run_row.addStretch(1)
        run_row.addWidget(self.max_new)
        run_row.addWidget(self.counter)
        # One row where it fits; two (Step … Reset above Run … max) where it does not, as in a narrow
        # column or with presentation mode's large type, instead of clipping the buttons' labels.
        self.controls = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.controls.addLayout(step_row)
        self.controls.addLayout(run_row, 1)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.legend)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(self.controls)
        layout.addWidget(self.text, 1)
        layout.addLayout(status_row)
        self._running = False
        self.max_new.valueChanged.connect(self._on_max_changed)
        self.run_mode.currentIndexChanged.connect(self._on_run_mode)
        state.trace_changed.connect(self._redraw)
        ctx.traces.run.started.connect(lambda: self.set_running(True))
        ctx.traces.run.ended.connect(lambda: self.set_running(False))
        self._on_run_mode()
        self._update_buttons()
        self._built = True

    # -- the run mode -------------------------------------------------------------------------------

    @property
    def run_greedy(self) -> bool:
        return self.run_mode.currentData() == GREEDY

    def run_mode_name(self) -> str:
        """GREEDY or SAMPLED: how Run to end chooses its tokens now."""
        return str(self.run_mode.currentData())

    def set_run_mode(self, mode: str) -> None:
        """GREEDY or SAMPLED."""
        index = self.run_mode.findData(mode)
        if index >= 0:
            self.run_mode.setCurrentIndex(index)

    def run_label(self) -> str:
        return f"Run to end · {self.run_mode.currentText()}"

    def _on_run_mode(self) -> None:
        self._traces.run_greedy = self.run_greedy
        if not self._running:
            self.buttons[m.RUN].setText(self.run_label())
        how = ("every token greedy, as Step" if self.run_greedy
               else "every token sampled with the knobs and seed, as Sample")
        self.buttons[m.RUN].setToolTip(f"Generate until a stop — {how} — F10 (Esc stops)")

    # -- styling -------------------------------------------------------------------------------------

    def set_font_size(self, point_size: float) -> None:
        """Size of the generated text in points (presentation mode makes it large)."""
        self._font_size = point_size
        self._redraw()

    def set_palette(self, palette: Palette) -> None:
        """The theme's colours for greedy / sampled tokens and control tags (View ▸ Theme calls this)."""
        self._theme = palette
        self._redraw()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._built:
            self._fit_controls()

    def _fit_controls(self) -> None:
        """Two rows of controls when one row's labels would not fit in the panel's width."""
        self.controls.invalidate()  # a new font or label: the rows' size hints change
        margins = self.layout().contentsMargins()
        room = self.width() - margins.left() - margins.right()
        spacing = self.controls.spacing()
        one_row = sum(self.controls.itemAt(i).sizeHint().width() for i in range(self.controls.count())) + spacing
        wanted = QBoxLayout.Direction.LeftToRight if one_row <= room else QBoxLayout.Direction.TopToBottom
        if self.controls.direction() != wanted:
            self.controls.setDirection(wanted)

    def changeEvent(self, event: QEvent) -> None:
        """Greedy text and its legend take the palette's link colour, which a theme sets after
        `set_palette`: redraw once the new palette has landed, or they keep the old theme's blue."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._built:
            self._redraw()
        elif event.type() == QEvent.Type.FontChange and self._built:
            self._fit_controls()

    def set_running(self, running: bool) -> None:
        self._running = running
        self.buttons[m.RUN].setText("Stop" if running else self.run_label())
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

    # -- drawing -------------------------------------------------------------------------------------

    def formats(self) -> dict[str, QTextCharFormat]:
        """How the text draws each kind of token: the prompt, a control tag, greedy / sampled / given."""
        p, accent = self._theme, self.palette().color(self.palette().ColorRole.Link)
        base = QTextCharFormat()
        base.setFontPointSize(self._font_size)
        control = QTextCharFormat(base)
        control.setForeground(QColor(p.control))
        control.setBackground(QColor(p.control_fill))
        control.setFontPointSize(self._font_size * 0.8)
        greedy = QTextCharFormat(base)
        greedy.setForeground(accent)
        greedy.setFontWeight(QFont.Weight.DemiBold)
        greedy.setFontUnderline(True)
        sampled = QTextCharFormat(base)
        sampled.setForeground(QColor(p.sampled))
        sampled.setFontWeight(QFont.Weight.DemiBold)
        sampled.setFontItalic(True)
        sampled.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
        sampled.setUnderlineColor(QColor(p.sampled))
        given = QTextCharFormat(greedy)
        given.setUnderlineStyle(QTextCharFormat.UnderlineStyle.DotLine)
        return {"prompt": base, "control": control, GREEDY: greedy, SAMPLED: sampled, GIVEN: given}

    def token_kinds(self) -> list[str]:
        """[T] how the text draws each token: "prompt", "control", or how a new one was chosen."""
        result = self.state.result
        if result is None:
            return []
        trace = result.trace
        kinds = []
        for i in range(trace.n_tokens):
            if trace.tokens.special[i]:
                kinds.append("control")
            elif i < trace.n_prompt:
                kinds.append("prompt")
            else:
                n = i - trace.n_prompt
                kinds.append(result.choices[n] if n < len(result.choices) else GIVEN)
        return kinds

    def _redraw(self) -> None:
        result = self.state.result
        if result is None:
            return
        trace = result.trace
        formats = self.formats()
        kinds = self.token_kinds()
        # Neighbouring tokens of one kind go in as one run of text: every Qt call from this thread
        # lets the model thread take the interpreter, so one call per token made a 200-token
        # text wait on the worker hundreds of times per redraw while it generates.
        runs: list[list[str]] = []  # [kind, text]

        def add(kind: str, text: str) -> None:
            if runs and runs[-1][0] == kind:
                runs[-1][1] += text
            else:
                runs.append([kind, text])

        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for i, kind in enumerate(kinds):
            if kind == "control":
                add(kind, trace.tokens.labels[i])
                continue
            piece = decoder.decode(trace.tokens.pieces[i])  # a character split over tokens lands on its last
            if piece:
                add(kind, piece)
        tail = decoder.decode(b"", final=True)
        if tail:
            add(kinds[-1] if kinds else "prompt", tail)
        self.text.clear()
        cursor = QTextCursor(self.text.document())
        for kind, text in runs:
            cursor.insertText(text, formats[kind])
        self.text.moveCursor(QTextCursor.MoveOperation.End)
        maximum = self.max_new.value()
        self.counter.setText(f"{result.n_new} / {maximum}")
        reason, detail = result.stop_reason, result.stop_detail
        if reason is None and result.n_new >= maximum:
            reason, detail = MAX_LENGTH, ""
        self.status.setText(stop_message(reason, detail) if reason else "")
        self._update_legend(kinds[trace.n_prompt:])
        self._update_buttons()

    def _update_legend(self, new_kinds: list[str]) -> None:
        p = self._theme
        accent = self.palette().color(self.palette().ColorRole.Link).name()
        n_greedy = new_kinds.count(GREEDY) + new_kinds.count(GIVEN)
        n_sampled = new_kinds.count(SAMPLED)
        self.legend.setText(
            f"<span style='color:{accent}; text-decoration: underline; font-weight:600'>greedy</span> {n_greedy}"
            f" · <span style='color:{p.sampled}; font-style: italic; font-weight:600'>sampled</span> {n_sampled}")
