"""Prompt & tokens: the editor (raw text) or the conversation (chat), the Sentence presets, token
chips and counts.

Text mode traces what is typed, as it is. Chat mode sends a conversation through the model's own
chat template; the chips then show everything the model reads, with control tokens drawn apart
and the parts the template added (a default system prompt, the generation prompt, role names)
marked, so the hidden half of an assistant is on screen.
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QBoxLayout,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import qdebounced

from desktop.core.context import ViewContext
from desktop.core.presets import load_sentences
from desktop.panels.chat_editor import DEFAULT_DRAFT, ChatEditor
from model_core.types.chat import ASSISTANT, SYSTEM, TYPED, USER, Conversation, Message
from viz.theme import LIGHT, Palette
from viz.token_chips import MARK_WORDS, MARKS, TokenChips, chip_legend

TEXT_MODE, CHAT_MODE = "text", "chat"
_TEXT_EDITOR_HEIGHT = 64  # px: the raw prompt editor above the chips


class ChipLegend(QLabel):
    """What the chip styles mean; follows the theme (the themes feature calls set_palette)."""

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)
        self.set_palette(LIGHT)

    def set_palette(self, palette: Palette) -> None:
        self.setText(chip_legend(palette))

TYPING_PAUSE_MS = 450  # trace once the user stops typing this long; only the newest text runs


class PromptPanel(QWidget):
    prompt_submitted = Signal(str, bool)  # text, allow special tokens
    chat_submitted = Signal(object, bool)  # Conversation, allow control tokens typed in a turn
    mode_changed = Signal(str)  # TEXT_MODE or CHAT_MODE

    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self.text_mode = QPushButton("Text")
        self.text_mode.setToolTip("Raw text: the model continues exactly what you type")
        self.chat_mode = QPushButton("Chat")
        self.chat_mode.setToolTip("A conversation, turned into the model's text by its own chat template: "
                                  "see the system prompt and control tokens an assistant adds")
        self.modes = QButtonGroup(self)
        for button in (self.text_mode, self.chat_mode):
            button.setCheckable(True)
            button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            self.modes.addButton(button)
        self.text_mode.setChecked(True)
        bold = QFont()
        bold.setBold(True)
        self.text_mode.setFont(bold)
        self.presets = QComboBox()
        self.presets.addItem("Sentence…", None)
        for name, text in load_sentences():
            self.presets.addItem(name, text)
            self.presets.setItemData(self.presets.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
        self.presets.setToolTip("Pick a teaching sentence")
        self.presets_label = QLabel("Sentence:")
        self.editor = QPlainTextEdit()
        self.editor.setPlaceholderText("Type a prompt… (Ctrl+Enter runs it now)")
        self.editor.setTabChangesFocus(True)
        self.editor.setMinimumHeight(40)  # two lines; a short screen keeps room for the chips
        self.chat = ChatEditor()
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Trace the prompt now (Ctrl+Enter)")
        self.allow_special = QCheckBox("Special tokens")
        self.allow_special.setToolTip("Let text such as <|endoftext|> become control tokens (off: plain text), "
                                      "in the prompt and in chat turns")
        self.tint = QComboBox()
        self.tint.addItem("Tint: attention of the selected token", "attention")
        self.tint.addItem("Tint: surprisal (how unexpected each token was)", "surprisal")
        self.tint.setToolTip("What the chip colours show; hover a chip for its surprisal in bits")
        self.counts = QLabel()
        self.counts.setObjectName("counts")
        self.chips = TokenChips()  # at least one row of chips, whatever the font
        self.legend = ChipLegend()
        self.legend.hide()

        top = QHBoxLayout()
        top.addWidget(self.text_mode)
        top.addWidget(self.chat_mode)
        top.addSpacing(8)
        top.addWidget(self.presets_label)
        top.addWidget(self.presets, 1)
        top.addStretch(0)  # takes the room the presets leave in chat mode
        top.addWidget(self.allow_special)
        top.addWidget(self.run_button)
        self.inputs = QStackedWidget()
        self.inputs.addWidget(self.editor)
        self.inputs.addWidget(self.chat)
        self.inputs.setMaximumHeight(_TEXT_EDITOR_HEIGHT)
        chips_column = QWidget()
        column = QVBoxLayout(chips_column)
        column.setContentsMargins(0, 0, 0, 0)
        counts_row = QHBoxLayout()
        counts_row.addWidget(self.counts, 1)
        counts_row.addWidget(self.tint)
        column.addLayout(counts_row)
        column.addWidget(self.chips, 1)
        column.addWidget(self.legend)
        # Text mode: the editor above the chips; chat mode: the conversation beside them.
        self.body = QBoxLayout(QBoxLayout.Direction.TopToBottom)
        self.body.addWidget(self.inputs)
        self.body.addWidget(chips_column, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addLayout(self.body, 1)

        self._typing = qdebounced(self.submit, timeout=TYPING_PAUSE_MS, parent=self)
        self._chat_edits = qdebounced(self._retrace_chat, timeout=TYPING_PAUSE_MS, parent=self)
        self.editor.textChanged.connect(self._typing)
        self.editor.textChanged.connect(self._update_text_counts)
        self.editor.textChanged.connect(self._sync_preset)
        self.run_button.clicked.connect(self.submit)
        self.allow_special.toggled.connect(self._on_allow_special)
        self.presets.activated.connect(self._on_preset)
        self.modes.buttonToggled.connect(self._on_mode_toggled)
        self.chat.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)  # text mode first
        self.chat.send_requested.connect(self.send)
        self.chat.edited.connect(self._chat_edits)
        self.chat.cleared.connect(self._on_chat_cleared)
        self.chips.chip_clicked.connect(lambda i: state.select(position=i))
        self._chips_key: tuple | None = None  # (trace id, surprisal's trace id) the chips were built for
        self.gate = ctx.gate(self._redraw, self._key)
        self.set_shown = self.gate.set_shown
        self.tint.activated.connect(lambda _i: self.gate.request())
        for changed in (state.trace_changed, state.selection_changed, state.surprisal_changed):
            changed.connect(self.gate.request)
        state.trace_changed.connect(self._show_reply)
        state.model_changed.connect(self._on_model_changed)
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

    @property
    def mode(self) -> str:
        return CHAT_MODE if self.chat_mode.isChecked() else TEXT_MODE

    def set_mode(self, mode: str, submit: bool = True) -> None:
        """Text or chat; `submit=False` switches without tracing (a session being reopened)."""
        button = self.chat_mode if mode == CHAT_MODE else self.text_mode
        if button.isChecked():
            return
        self._submit_on_switch = submit
        try:
            button.setChecked(True)
        finally:
            self._submit_on_switch = True

    _submit_on_switch = True

    def submit(self) -> None:
        """Trace what the panel holds now: the text, or in chat mode the conversation (no new turn)."""
        self._typing.cancel()
        if self.mode == CHAT_MODE:
            self._retrace_chat()
            return
        self.prompt_submitted.emit(self.text(), self.allow_special.isChecked())

    def send(self) -> None:
        """Chat: the reply so far and the typed message join the conversation, which is traced; the
        model's next tokens are the assistant's reply."""
        self._chat_edits.cancel()
        if not self.chat.has_template:
            return
        message = self.chat.draft()
        if not message.strip():
            self._retrace_chat()  # nothing new to say: the conversation as it is (empty: a message says so)
            return
        reply = self.pending_reply()
        conversation = self.chat.conversation() + ((Message(ASSISTANT, reply),) if reply else ()) \
            + (Message(USER, message),)
        self.chat.commit(reply or "", message)
        self.chat_submitted.emit(conversation, self.allow_special.isChecked())

    def conversation(self) -> Conversation:
        return self.chat.conversation()

    def set_conversation(self, conv: Conversation, submit: bool = True) -> None:
        """Switch to chat mode with this conversation (a system turn first becomes the system prompt)."""
        system = conv[0].content if conv and conv[0].role == SYSTEM else None
        self.chat.set_state(system, conv[1:] if system is not None else conv, "")
        self.set_mode(CHAT_MODE, submit=False)
        if submit:
            self._retrace_chat()

    def pending_reply(self) -> str | None:
        """The reply generated for the conversation in the editor, if the trace on screen is that."""
        result = self.state.result
        if result is None or result.chat is None or result.chat.conversation != self.chat.conversation():
            return None
        return result.reply if result.n_new > 0 else None

    def _retrace_chat(self) -> None:
        if self.mode == CHAT_MODE and self.chat.has_template:
            self.chat_submitted.emit(self.chat.conversation(), self.allow_special.isChecked())

    def _on_allow_special(self, _on: bool) -> None:
        self.submit()

    def _on_chat_cleared(self) -> None:
        self.chat.show_reply(None)
        if not self.chat.draft().strip():
            self.chat.message.setText(DEFAULT_DRAFT)
        self.chat.message.setFocus()

    def _on_mode_toggled(self, button, checked: bool) -> None:
        if not checked:
            return
        chat = button is self.chat_mode
        for mode_button in (self.text_mode, self.chat_mode):
            # the mode in use reads at a glance in every theme, not only by a subtle shade: bold, and only
            # the weight is set, so the size still follows the application font (presentation mode)
            font = QFont()
            font.setBold(mode_button is button)
            mode_button.setFont(font)
        self.inputs.setCurrentWidget(self.chat if chat else self.editor)
        self.inputs.setMaximumHeight(16_777_215 if chat else _TEXT_EDITOR_HEIGHT)
        # A stack asks for the largest minimum of its pages; the page not shown must not hold room open
        # (the chat editor's in text mode would push the chips off a 768-line screen).
        for page in (self.editor, self.chat):
            ignored = QSizePolicy.Policy.Ignored
            page.setSizePolicy(QSizePolicy.Policy.Expanding if page is self.inputs.currentWidget() else ignored,
                               QSizePolicy.Policy.Expanding if page is self.inputs.currentWidget() else ignored)
        self.body.setDirection(QBoxLayout.Direction.LeftToRight if chat else QBoxLayout.Direction.TopToBottom)
        self.body.setStretch(0, 2 if chat else 0)
        self.body.setStretch(1, 3 if chat else 1)
        for widget in (self.presets_label, self.presets, self.run_button):
            widget.setVisible(not chat)
        self.legend.setVisible(chat and self.chat.has_template)
        self._chips_key = None  # the chips' marks depend on the mode
        self.mode_changed.emit(self.mode)
        if not self._submit_on_switch:
            return
        if chat:
            if self.chat.turn_count() == 0 and self.chat.draft().strip():
                self.send()  # the first message: see at once what the template makes of it
            else:
                self._retrace_chat()
        else:
            self.submit()

    def _on_model_changed(self) -> None:
        info = self.state.info
        self.chat.set_template(self.state.chat, info.name if info is not None else "")
        self.legend.setVisible(self.mode == CHAT_MODE and self.chat.has_template)

    def _show_reply(self) -> None:
        """The reply being generated, as the conversation's last (read-only) row."""
        result = self.state.result
        reply = self.pending_reply()
        if reply is None and result is not None and result.chat is not None \
                and result.chat.conversation == self.chat.conversation() and result.n_new == 0:
            reply = ""  # the assistant's turn is open, nothing written yet
        if reply is None:
            self.chat.show_reply(None)
            return
        words = {"end_of_turn": "done: end of turn", "end_of_text": "done: end of text",
                 "stop_sequence": "stopped: stop sequence", "max_length": "stopped: max length",
                 "context_full": "stopped: context full"}
        self.chat.show_reply(reply, words.get(result.stop_reason or "", "replying"))

    def keyPressEvent(self, event) -> None:  # Ctrl+Enter anywhere in the panel runs the prompt
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.send() if self.mode == CHAT_MODE else self.submit()
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
        result = self.state.result
        chat = self.mode == CHAT_MODE and result is not None and result.chat is not None
        text = result.chat.text if chat else self.text()  # in chat mode, what the template made of it
        n_bytes = len(text.encode("utf-8", errors="surrogatepass"))
        trace = self.state.trace
        if trace is None or self.state.stale_reason:
            tokens = "– tokens"
        else:  # the characters and bytes are the prompt's: so is the first count, the generated ones follow
            generated = trace.n_tokens - trace.n_prompt
            tokens = f"{trace.n_prompt} tokens" + (f" + {generated} generated" if generated else "")
        self.counts.setText(("The template's text: " if chat else "") + f"{len(text)} characters · {n_bytes} bytes · "
                            f"{tokens}")

    def _key(self) -> tuple | None:
        result, sel, surprisal = self.state.result, self.state.selection, self.state.surprisal
        if result is None:
            return None
        return (result.trace_id, surprisal.trace_id if surprisal else None, sel, self.tint.currentData(), self.mode)

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
        result = self.state.result
        trace = self.state.trace
        if trace is None:
            return
        surprisal = self.state.surprisal
        bits = None
        if surprisal is not None and len(surprisal.bits) == trace.n_tokens:
            bits = surprisal.bits
        marks = [""] * trace.n_tokens
        if result.chat is not None:
            for i, origin in enumerate(result.chat.origins[: trace.n_prompt]):
                marks[i] = origin if origin in MARKS else ""
        tips = []
        for i, (tid, note) in enumerate(zip(trace.tokens.ids, trace.tokens.notes, strict=True)):
            text = html.escape(repr(trace.tokens.texts[i]) if not trace.tokens.special[i] else trace.tokens.labels[i])
            tip = f"<nobr>position {i} · id {int(tid)} · {text}</nobr>"  # never broken inside the token
            if note:
                tip += f"<br>{html.escape(note)}"
            if marks[i]:
                tip += f"<br>added by the chat template: {html.escape(MARK_WORDS[marks[i]])}"
            elif result.chat is not None and i < trace.n_prompt and result.chat.origins[i] == TYPED:
                tip += "<br>typed in the conversation"
            if bits is not None and np.isfinite(bits[i]):
                tip += f"<br>surprisal {bits[i]:.1f} bits"
            tips.append(tip)
        self.chips.set_tokens(list(trace.tokens.labels), trace.tokens.ids.tolist(), tips, new_from=trace.n_prompt,
                              control=trace.tokens.special.tolist(), marks=marks)
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
