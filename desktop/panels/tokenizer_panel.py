"""The same text under several tokenizers, and how GPT-2's BPE merges built the selected word."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QSplitter, QVBoxLayout, QWidget

from desktop.core.context import ViewContext
from model_core.text.bpe_merges import bpe_steps_from_ranks, merge_table, pretokenize
from model_core.text.token_text import piece_labels
from model_core.text.tokenizer_compare import ENCODINGS, TokenizedText, load_ranks, tokenize_tiktoken
from viz.token_chips import TokenChips

BPE_ENCODING = "gpt2"


def word_under(text: str, start: int, stop: int, encoding: str = BPE_ENCODING) -> tuple[int, bytes] | None:
    """(byte offset, bytes) of the pre-tokenized word overlapping bytes [start, stop) of ``text``."""
    offset = 0
    for _char_start, word in pretokenize(text, encoding):
        data = word.encode("utf-8", errors="replace")
        if offset < stop and start < offset + len(data) or (start == stop == offset):
            return offset, data
        offset += len(data)
    return None


class TokenizerPanel(QWidget):
    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self.names = ("model", *ENCODINGS)
        self.chips: dict[str, TokenChips] = {}
        self.counts: dict[str, QLabel] = {}
        self.tokenized: dict[str, TokenizedText] = {}
        upper = QWidget()
        columns = QHBoxLayout(upper)
        columns.setContentsMargins(0, 0, 0, 0)
        for name in self.names:  # side by side: one column per tokenizer
            title = QLabel()
            title.setWordWrap(True)
            chips = TokenChips(font_size=10)
            self.counts[name], self.chips[name] = title, chips
            column = QVBoxLayout()
            column.addWidget(title)
            column.addWidget(chips, 1)
            columns.addLayout(column, 1)
        self.bpe_title = QLabel()
        self.bpe_title.setWordWrap(True)
        self.bpe_list = QListWidget()
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.bpe_title)
        lower_layout.addWidget(self.bpe_list, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(upper)
        splitter.addWidget(lower)
        splitter.setSizes([1400, 420])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(splitter)
        self._text: str | None = None
        self._drawn_trace = -1  # trace id the chips show

        self.chips["model"].chip_clicked.connect(lambda i: state.select(position=i))
        self.gate = ctx.gate(self._redraw, self._key)
        self.set_shown = self.gate.set_shown
        state.trace_changed.connect(self.gate.request)
        state.selection_changed.connect(self.gate.request)

    def _key(self) -> tuple | None:
        result = self.state.result
        return None if result is None else (result.trace_id, self.state.selection.position)

    def _redraw(self) -> None:
        if self.state.result is not None and self.state.result.trace_id != self._drawn_trace:
            self.redraw()
        else:
            self._on_selection_changed()

    def redraw(self) -> None:
        trace = self.state.trace
        if trace is None:
            return
        self._drawn_trace = self.state.result.trace_id
        model_name = self.state.info.name if self.state.info else "model"
        tokens = trace.tokens
        self.chips["model"].set_tokens(list(tokens.labels), [int(i) for i in tokens.ids], list(tokens.notes))
        self.counts["model"].setText(f"<b>{model_name}</b>: {trace.n_tokens} tokens")
        if trace.text != self._text:  # tiktoken only needs re-running when the text changes
            self._text = trace.text
            for name in ENCODINGS:
                tok = tokenize_tiktoken(name, trace.text)
                self.tokenized[name] = tok
                self.chips[name].set_tokens(tok.labels, tok.ids, tok.notes)
                self.counts[name].setText(f"<b>tiktoken {name}</b>: {tok.n_tokens} tokens")
        self._on_selection_changed()

    def _on_selection_changed(self) -> None:
        trace = self.state.trace
        if trace is None or self.state.result.trace_id != self._drawn_trace:
            return
        position = self.state.selection.position
        self.chips["model"].set_selected(position)
        start, stop = (int(x) for x in trace.tokens.offsets[position])
        self.bpe_list.clear()
        if trace.tokens.special[position] or start == stop:
            self.bpe_title.setText("How BPE got here: the selected token is a control token, not text.")
            return
        found = word_under(trace.text, start, stop)
        if found is None:
            self.bpe_title.setText("How BPE got here: no word under the selected token.")
            return
        _offset, word = found
        steps = bpe_steps_from_ranks(word, load_ranks(BPE_ENCODING))
        initial = piece_labels([word[i : i + 1] for i in range(len(word))])
        final = piece_labels(list(steps[-1].parts)) if steps else initial
        word_label = piece_labels([word])[0]
        self.bpe_title.setText(
            f"How BPE got here (GPT-2's merges, lowest rank first) for the word '{word_label}': "
            f"{_count(len(word), 'byte')} → {_count(len(final), 'token')} after {_count(len(steps), 'merge')}")
        self.bpe_list.addItem("start: " + " ".join(initial))
        self.bpe_list.addItems(merge_table(steps))
        self.bpe_list.addItem("result: " + " | ".join(final))


def _count(n: int, noun: str) -> str:
    """'1 token', '3 tokens'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
