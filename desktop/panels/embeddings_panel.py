"""Embeddings: the tokens whose embedding rows point the same way as a word's, and analogies.

Typing asks the worker (debounced) with an `EmbeddingRequest`; only the answer to the newest
request reaches the panel (its asker drops the rest), so fast typing never shows an older
word's answer.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import qdebounced

from desktop.core.context import ViewContext
from desktop.core.requests.block_views import EmbeddingRequest, EmbeddingResult
from desktop.panels.style import emphasise

DEBOUNCE_MS = 300


def _visible(text: str) -> str:
    return text.replace(" ", "␣")


class EmbeddingsPanel(QWidget):
    result_changed = Signal()  # the newest request's answer is drawn (`result`)

    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self._asker = ctx.asker(self._on_result)
        self.result: EmbeddingResult | None = None
        self.word = QLineEdit(" king")
        self.word.setPlaceholderText("A word; a leading space (' king') picks the mid-sentence token")
        self.a, self.b, self.c = QLineEdit(" Paris"), QLineEdit(" France"), QLineEdit(" Germany")
        for edit in (self.a, self.b, self.c):
            edit.setMaximumWidth(160)
        self.tokens_note = QLabel()
        self.tokens_note.setWordWrap(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        # The analogy trap: "king − man + woman" typed without leading spaces gives junk, because
        # those are the start-of-text forms; the mid-sentence words are " king", " man", " woman".
        self.space_note = emphasise(QLabel(), bold=True)
        self.space_note.setWordWrap(True)
        self.use_spaced = QPushButton()
        self.use_spaced.setToolTip("Put the leading space in: the form the word has inside a sentence")
        self.use_spaced.clicked.connect(self._use_spaced)
        self.space_box = QWidget()
        space_row = QHBoxLayout(self.space_box)
        space_row.setContentsMargins(0, 0, 0, 0)
        space_row.addWidget(self.space_note, 1)
        space_row.addWidget(self.use_spaced)
        self.space_box.hide()
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["rank", "token", "cosine similarity"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()  # the token takes the width; the numbers only what they need
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # compact rows
        self.table.setWordWrap(False)
        grid = QGridLayout()
        grid.addWidget(QLabel("Nearest to"), 0, 0)
        grid.addWidget(self.word, 0, 1, 1, 5)
        grid.addWidget(QLabel("Analogy"), 1, 0)
        grid.addWidget(self.a, 1, 1)
        grid.addWidget(QLabel("−"), 1, 2)
        grid.addWidget(self.b, 1, 3)
        grid.addWidget(QLabel("+"), 1, 4)
        grid.addWidget(self.c, 1, 5)
        grid.setColumnStretch(6, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(grid)
        layout.addWidget(self.space_box)
        layout.addWidget(self.tokens_note)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)

        self._mode = "nearest"
        self._ask_soon = qdebounced(self.ask, timeout=DEBOUNCE_MS, parent=self)  # once typing pauses
        self.word.textEdited.connect(lambda _t: self._ask_soon("nearest"))
        for edit in (self.a, self.b, self.c):
            edit.textEdited.connect(lambda _t: self._ask_soon("analogy"))
        state.model_changed.connect(self._on_model_changed)

    def _on_model_changed(self) -> None:
        self._mode = "nearest"
        self.ask()

    def ask(self, mode: str | None = None) -> None:
        """Send the current word, or the analogy (`mode` "nearest" / "analogy"; default: the one
        last typed in), to the worker now."""
        if mode is not None:
            self._mode = mode
        if self.state.info is None:
            return
        if self._mode == "analogy":
            texts = (self.a.text(), self.b.text(), self.c.text())
            if not all(texts):
                self.status.setText("Fill in all three words of the analogy.")
                return
        else:
            texts = (self.word.text(),)
            if not texts[0]:
                self.status.setText("Type a word.")
                return
        self._asker.ask(EmbeddingRequest(texts))
        self.status.setText("Searching…")

    @property
    def searching(self) -> bool:
        return self._asker.pending

    def _on_result(self, result: EmbeddingResult) -> None:
        self.result = result
        self._redraw()
        self.result_changed.emit()

    def _use_spaced(self) -> None:
        """Give each input without its leading space the mid-sentence form, and ask again."""
        result = self.result
        if result is None:
            return
        fields = (self.a, self.b, self.c) if len(result.texts) == 3 else (self.word,)
        for field, spaced in zip(fields, result.spaced, strict=False):
            if spaced:
                field.setText(spaced)
        self.ask("analogy" if len(result.texts) == 3 else "nearest")

    def _show_space_note(self, result: EmbeddingResult) -> None:
        found = [(text, spaced) for text, spaced in zip(result.texts, result.spaced, strict=False) if spaced]
        self.space_box.setVisible(bool(found))
        if not found:
            return
        typed = ", ".join(f"'{text}'" for text, _ in found)
        spaced = ", ".join(f"'{_visible(s)}'" for _, s in found)
        if len(found) == 1:
            words = (f"{typed} is the form that starts a text (a rarer token, or pieces), so the answer is mostly "
                     f"noise. Inside a sentence the word is {spaced}: one token.")
        else:
            words = (f"{typed} are the forms that start a text (rarer tokens, or pieces), so the answer is mostly "
                     f"noise. Inside a sentence the words are {spaced}: one token each.")
        self.space_note.setText("No leading space: " + words)
        self.use_spaced.setText("Use " + spaced.replace("'", ""))

    def _redraw(self) -> None:
        result = self.result
        if result is None:
            return
        self._show_space_note(result)
        if result.error:
            self.status.setText(result.error)
            self.table.setRowCount(0)
            return
        became = "; ".join(
            f"'{_visible(w.text)}' → " + " + ".join(f"[{label}] ({i})" for label, i in zip(w.labels, w.ids, strict=True))
            for w in result.words)
        multi = any(len(w.ids) > 1 for w in result.words)
        self.tokens_note.setText(f"Tokens: {became}" + ("  (several tokens: their embeddings are averaged)"
                                                         if multi else ""))
        if len(result.texts) == 3:
            a, b, c = (_visible(t) for t in result.texts)
            self.status.setText(f"Nearest to {a} − {b} + {c} (the three inputs left out):")
        else:
            self.status.setText(f"Nearest tokens to '{_visible(result.texts[0])}' by cosine similarity of "
                                "embedding rows (the word itself left out):")
        self.table.setRowCount(len(result.ids))
        for r, (label, sim) in enumerate(zip(result.labels, result.similarities, strict=True)):
            for c, text in enumerate((str(r + 1), label, f"{sim:.3f}")):
                item = QTableWidgetItem(text)
                if c != 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)

    def table_rows(self) -> list[tuple[str, str]]:
        return [(self.table.item(r, 1).text(), self.table.item(r, 2).text()) for r in range(self.table.rowCount())]
