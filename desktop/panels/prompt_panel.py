"""Prompt & tokens: the editor, the Sentence presets, token chips and counts."""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import qdebounced

from desktop.core.context import ViewContext
from desktop.core.presets import load_sentences
from viz.token_chips import TokenChips

TYPING_PAUSE_MS = 450  # trace once the user stops typing this long; only the newest text runs


class PromptPanel(QWidget):
    prompt_submitted = Signal(str, bool)  # text, allow special tokens

    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self.presets = QComboBox()
        self.presets.addItem("Sentence…", None)
        for name, text in load_sentences():
            self.presets.addItem(name, text)
            self.presets.setItemData(self.presets.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
        self.presets.setToolTip("Pick a teaching sentence")
        self.editor = QPlainTextEdit()
        self.editor.setPlaceholderText("Type a prompt… (Ctrl+Enter runs it now)")
        self.editor.setTabChangesFocus(True)
        self.editor.setMaximumHeight(64)
        self.editor.setMinimumHeight(40)  # two lines; a short screen keeps room for the chips
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Trace the prompt now (Ctrl+Enter)")
        self.allow_special = QCheckBox("Special tokens")
        self.allow_special.setToolTip("Let text such as <|endoftext|> become control tokens (off: plain text)")
        self.tint = QComboBox()
        self.tint.addItem("Tint: attention of the selected token", "attention")
        self.tint.addItem("Tint: surprisal (how unexpected each token was)", "surprisal")
        self.tint.setToolTip("What the chip colours show; hover a chip for its surprisal in bits")
        self.counts = QLabel()
        self.counts.setObjectName("counts")
        self.chips = TokenChips()  # at least one row of chips, whatever the font

        top = QHBoxLayout()
        top.addWidget(QLabel("Sentence:"))
        top.addWidget(self.presets, 1)
        top.addWidget(self.allow_special)
        top.addWidget(self.run_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.editor)
        counts_row = QHBoxLayout()
        counts_row.addWidget(self.counts, 1)
        counts_row.addWidget(self.tint)
        layout.addLayout(counts_row)
        layout.addWidget(self.chips, 1)

        self._typing = qdebounced(self.submit, timeout=TYPING_PAUSE_MS, parent=self)
        self.editor.textChanged.connect(self._typing)
        self.editor.textChanged.connect(self._update_text_counts)
        self.editor.textChanged.connect(self._sync_preset)
        self.run_button.clicked.connect(self.submit)
        self.allow_special.toggled.connect(self.submit)
        self.presets.activated.connect(self._on_preset)
        self.chips.chip_clicked.connect(lambda i: state.select(position=i))
        self._chips_key: tuple | None = None  # (trace id, surprisal's trace id) the chips were built for
        self.gate = ctx.gate(self._redraw, self._key)
        self.set_shown = self.gate.set_shown
        self.tint.activated.connect(lambda _i: self.gate.request())
        for changed in (state.trace_changed, state.selection_changed, state.surprisal_changed):
            changed.connect(self.gate.request)
        state.stale_changed.connect(self._update_text_counts)  # "– tokens" while the chips are not this text's
        self._update_text_counts()

    # -- actions -------------------------------------------------------------------------------

    def set_text(self, text: str, submit: bool = True) -> None:
        self.editor.blockSignals(True)
        self.editor.setPlainText(text)
        self.editor.blockSignals(False)
        self._update_text_counts()
        self._sync_preset()
        if submit:
            self.submit()

    def text(self) -> str:
        return self.editor.toPlainText()

    def submit(self) -> None:
        self._typing.cancel()
        self.prompt_submitted.emit(self.text(), self.allow_special.isChecked())

    def keyPressEvent(self, event) -> None:  # Ctrl+Enter anywhere in the panel runs the prompt
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.submit()
            return
        super().keyPressEvent(event)

    def _sync_preset(self) -> None:
        """The Sentence box names the preset only while the editor holds exactly its text."""
        self.presets.setCurrentIndex(max(self.presets.findData(self.text()), 0))

    def _on_preset(self, index: int) -> None:
        text = self.presets.itemData(index)
        if text:
            self.set_text(text)

    # -- drawing -------------------------------------------------------------------------------

    def _update_text_counts(self) -> None:
        text = self.text()
        n_bytes = len(text.encode("utf-8", errors="surrogatepass"))
        trace = self.state.trace
        tokens = f"{trace.n_tokens} tokens" if trace is not None and not self.state.stale_reason else "– tokens"
        self.counts.setText(f"{len(text)} characters · {n_bytes} bytes · {tokens}")

    def _key(self) -> tuple | None:
        result, sel, surprisal = self.state.result, self.state.selection, self.state.surprisal
        if result is None:
            return None
        return (result.trace_id, surprisal.trace_id if surprisal else None, sel, self.tint.currentData())

    def _redraw(self) -> None:
        result, surprisal = self.state.result, self.state.surprisal
        if result is None:
            return
        chips_key = (result.trace_id, surprisal.trace_id if surprisal else None)
        if chips_key != self._chips_key:
            self._chips_key = chips_key
            self._on_trace_changed()
        else:
            self._on_selection_changed()

    def _on_trace_changed(self) -> None:
        trace = self.state.trace
        if trace is None:
            return
        surprisal = self.state.surprisal
        bits = None
        if surprisal is not None and len(surprisal.bits) == trace.n_tokens:
            bits = surprisal.bits
        tips = []
        for i, (tid, note) in enumerate(zip(trace.tokens.ids, trace.tokens.notes, strict=True)):
            text = html.escape(repr(trace.tokens.texts[i]))
            tip = f"<nobr>position {i} · id {int(tid)} · {text}</nobr>"  # never broken inside the token
            if note:
                tip += f"<br>{html.escape(note)}"
            if bits is not None and np.isfinite(bits[i]):
                tip += f"<br>surprisal {bits[i]:.1f} bits"
            tips.append(tip)
        self.chips.set_tokens(list(trace.tokens.labels), trace.tokens.ids.tolist(), tips, new_from=trace.n_prompt)
        self._update_text_counts()
        self._on_selection_changed()

    def _on_selection_changed(self) -> None:
        trace = self.state.trace
        if trace is None:
            return
        sel = self.state.selection
        self.chips.set_selected(sel.position)
        surprisal = self.state.surprisal
        if self.tint.currentData() == "surprisal":
            if surprisal is not None and len(surprisal.bits) == trace.n_tokens:
                self.chips.set_weights(surprisal_weights(surprisal.bits))
            return
        row = trace.attention[sel.layer, sel.head, sel.position].astype(np.float32)
        peak = float(row.max()) if row.size else 1.0
        self.chips.set_weights(row / peak if peak > 0 else row)


def surprisal_weights(bits: np.ndarray) -> np.ndarray:
    """[T] chip tints in [0, 1] from surprisal in bits: 0 = expected, 1 = the most surprising token.

    The first token has no context (NaN) and stays untinted.
    """
    finite = np.where(np.isfinite(bits), bits, 0.0).astype(np.float32)
    peak = float(finite.max()) if finite.size else 0.0
    return finite / peak if peak > 0 else finite
