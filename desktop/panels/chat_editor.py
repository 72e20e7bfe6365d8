"""The conversation editor of the prompt panel's Chat mode: a system prompt, the turns so far, the
reply being generated, and the next message.

It holds text only; the model's chat template turns it into the prompt on the worker thread.
The reply the model is writing is shown as a last, read-only assistant row; it joins the
conversation as a real turn when the next message is sent.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from model_core.types.chat import ASSISTANT, SYSTEM, USER, ChatTemplateInfo, Conversation, Message
from viz.theme import LIGHT

SYSTEM_MARK = LIGHT.system_mark  # the colour the chips mark a default system prompt with

ROLE_WORDS = {USER: "user", ASSISTANT: "assistant", SYSTEM: "system"}
DEFAULT_DRAFT = "What is the capital of France?"


class ChatEditor(QWidget):
    send_requested = Signal()  # Send (or Enter in the message box)
    edited = Signal()  # the system prompt or an earlier turn changed: the conversation should be traced again
    cleared = Signal()  # New chat

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.system_on = QCheckBox("System prompt:")
        self.system_on.setToolTip("Write your own system prompt. Off: the chat template decides (it may add a "
                                  "default one you never see in a chat app; the chips mark it)")
        self.system = QLineEdit()
        self.system.setEnabled(False)
        self.turns = QTableWidget(0, 2)
        self.turns.setHorizontalHeaderLabels(["Role", "Turn"])
        self.turns.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.turns.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.turns.verticalHeader().setVisible(False)
        self.turns.horizontalHeader().setVisible(False)  # the role column says who speaks
        self.turns.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.turns.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.turns.setToolTip("The conversation so far; double-click a turn to edit it")
        self.turns.setMinimumHeight(54)
        self.message = QLineEdit()
        self.message.setPlaceholderText("Your message… (Enter sends)")
        self.send = QPushButton("Send")
        self.send.setToolTip("Add your message (and the reply so far) to the conversation and trace it; "
                             "then Step / Sample / Run write the assistant's reply (Enter)")
        self.remove = QPushButton("Remove turn")
        self.remove.setToolTip("Remove the selected turn")
        self.new_chat = QPushButton("New chat")
        self.new_chat.setToolTip("Start again with an empty conversation")
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setObjectName("chat-notice")
        self.hidden = QLabel()  # the system prompt the template adds when there is none
        self.hidden.setWordWrap(True)
        self.hidden.setObjectName("hidden-system-prompt")
        self._default_system = ""

        editor = QWidget()
        column = QVBoxLayout(editor)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(3)
        system_row = QHBoxLayout()
        system_row.addWidget(self.system_on)
        system_row.addWidget(self.system, 1)
        column.addLayout(system_row)
        column.addWidget(self.hidden)
        column.addWidget(self.turns, 1)
        message_row = QHBoxLayout()
        message_row.addWidget(self.message, 1)
        message_row.addWidget(self.send)
        message_row.addWidget(self.remove)
        message_row.addWidget(self.new_chat)
        column.addLayout(message_row)
        self.pages = QStackedWidget()
        self.pages.addWidget(editor)
        self.pages.addWidget(self.notice)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

        self._reply: str | None = None  # the reply shown as the last row (None: none)
        self._filling = False
        self.system_on.toggled.connect(self._on_system_toggled)
        self.system.textEdited.connect(lambda _t: self.edited.emit())
        self.message.returnPressed.connect(self.send_requested)
        self.send.clicked.connect(self.send_requested)
        self.remove.clicked.connect(self._remove_selected)
        self.new_chat.clicked.connect(self._on_new_chat)
        self.turns.itemChanged.connect(self._on_item_changed)
        self.message.setText(DEFAULT_DRAFT)
        self.set_template(None)

    # -- what the model's template says -----------------------------------------------------------

    def set_template(self, info: ChatTemplateInfo | None, model_name: str = "") -> None:
        """Show the editor for a model with a chat template, or say that this model has none."""
        if info is not None and not info.has_template:
            self.notice.setText(
                f"<b>{model_name or 'This model'} has no chat template.</b> It is a plain next-token model: "
                "there is no system prompt, no user or assistant turn, no end-of-turn token. Talking to it as "
                "an assistant would mean inventing a format it never saw. Use the <b>Text</b> mode, or load "
                "an instruct model (such as the built-in one) to chat.")
            self.pages.setCurrentIndex(1)
            return
        self.pages.setCurrentIndex(0)
        default = info.default_system if info is not None else ""
        self._default_system = default
        self._update_hidden()
        self.system.setPlaceholderText(
            f"off: the template adds its own — “{default}”" if default
            else "off: no system prompt (this template adds none)")
        self.system_on.setToolTip(
            "Write your own system prompt. Off: "
            + (f"the template silently adds “{default}”." if default else "the template adds none."))

    @property
    def has_template(self) -> bool:
        return self.pages.currentIndex() == 0

    # -- the conversation -----------------------------------------------------------------------------

    def conversation(self) -> Conversation:
        """The turns as the user wrote them (the system prompt first, when on); not the draft message."""
        messages = [Message(SYSTEM, self.system.text())] if self.system_on.isChecked() else []
        for row in range(self.turns.rowCount() - (1 if self._reply is not None else 0)):
            role = self.turns.item(row, 0).data(Qt.ItemDataRole.UserRole)
            messages.append(Message(role, self.turns.item(row, 1).text()))
        return tuple(messages)

    def turn_count(self) -> int:
        return self.turns.rowCount() - (1 if self._reply is not None else 0)

    def draft(self) -> str:
        return self.message.text()

    def state(self) -> tuple[str | None, tuple[Message, ...], str]:
        """(system prompt or None when off, the user/assistant turns, the draft message)."""
        system = self.system.text() if self.system_on.isChecked() else None
        conv = self.conversation()
        return system, conv[1:] if system is not None else conv, self.draft()

    def set_state(self, system: str | None, turns: tuple[Message, ...] | list[Message], draft: str = "") -> None:
        """Replace everything (a reopened session, a lesson step); emits nothing."""
        self._filling = True
        try:
            self.system_on.blockSignals(True)
            self.system_on.setChecked(system is not None)
            self.system_on.blockSignals(False)
            self.system.setEnabled(system is not None)
            self._update_hidden()
            self.system.setText(system or "")
            self.turns.setRowCount(0)
            self._reply = None
            for m in turns:
                if m.role == SYSTEM:
                    continue
                self._append_row(m.role, m.content)
            self.message.setText(draft)
        finally:
            self._filling = False

    def commit(self, reply: str, message: str) -> None:
        """The reply so far becomes an assistant turn and the message a user turn; the draft empties."""
        self._filling = True
        try:
            self._drop_reply_row()
            if reply:
                self._append_row(ASSISTANT, reply)
            if message:
                self._append_row(USER, message)
            self.message.clear()
        finally:
            self._filling = False
        self.turns.scrollToBottom()

    def show_reply(self, reply: str | None, status: str = "") -> None:
        """The reply the model is writing, as a read-only last row (None hides it)."""
        self._filling = True
        try:
            self._drop_reply_row()
            if reply is not None:
                self._reply = reply
                row = self._append_row(ASSISTANT, reply or "…", editable=False)
                label = f"assistant ({status})" if status else "assistant (replying)"
                self.turns.item(row, 0).setText(label)
                for col in (0, 1):
                    item = self.turns.item(row, col)
                    font = QFont(item.font())
                    font.setItalic(True)
                    item.setFont(font)
                    item.setToolTip("The reply so far: it joins the conversation when you send your next message")
                self.turns.scrollToBottom()
        finally:
            self._filling = False

    def shown_reply(self) -> str | None:
        return self._reply

    # -- internals -------------------------------------------------------------------------------------

    def _append_row(self, role: str, content: str, editable: bool = True) -> int:
        row = self.turns.rowCount()
        self.turns.insertRow(row)
        role_item = QTableWidgetItem(ROLE_WORDS.get(role, role))
        role_item.setData(Qt.ItemDataRole.UserRole, role)
        role_item.setFlags(role_item.flags() & ~Qt.ItemFlag.ItemIsEditable)
        text_item = QTableWidgetItem(content)
        if not editable:
            text_item.setFlags(text_item.flags() & ~Qt.ItemFlag.ItemIsEditable)
        self.turns.setItem(row, 0, role_item)
        self.turns.setItem(row, 1, text_item)
        self.turns.resizeRowToContents(row)
        return row

    def _drop_reply_row(self) -> None:
        if self._reply is not None:
            self.turns.removeRow(self.turns.rowCount() - 1)
            self._reply = None

    def _update_hidden(self) -> None:
        """Say what the template adds when the system prompt is off (its chips are marked the same colour)."""
        shown = bool(self._default_system) and not self.system_on.isChecked()
        if shown:
            self.hidden.setText(f"<span style='color:{SYSTEM_MARK}'>■</span> <i>Hidden system prompt, added by the "
                                f"template:</i> “{html.escape(self._default_system)}”")
        self.hidden.setVisible(shown)

    def _on_system_toggled(self, on: bool) -> None:
        self._update_hidden()
        self.system.setEnabled(on)
        if on:
            self.system.setFocus()
        self.edited.emit()

    def _on_item_changed(self, _item: QTableWidgetItem) -> None:
        if not self._filling:
            self.edited.emit()

    def _remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.turns.selectedIndexes()}, reverse=True)
        rows = [r for r in rows if r < self.turn_count()]
        if not rows:
            return
        self._filling = True
        try:
            for row in rows:
                self.turns.removeRow(row)
        finally:
            self._filling = False
        self.edited.emit()

    def _on_new_chat(self) -> None:
        self.set_state(None if not self.system_on.isChecked() else self.system.text(), (), self.draft())
        self.cleared.emit()
