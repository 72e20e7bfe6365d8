"""Side by side: pin the current run, change the prompt or the decoding settings, and compare.

*Pin this run* keeps the current tokens and settings. From then on every new trace is compared with
it: both runs are traced afresh on the model thread (so each side is exactly an independent trace,
with its logit lens), and the panel shows

- the two tokenisations aligned pair by pair, where they differ outlined;
- the two next-token distributions (each after its own knobs) as paired bars, with the difference;
- the logit lens at the last position of both, layer by layer, rows where the top token differs marked;
- the selected layer and head's attention in both.

A second model can be loaded beside the first (*Load alongside*): the model thread first checks that
its weights fit in the memory left and refuses, saying so, before allocating anything; it is kept
only if it has the same tokenizer. *Current run on the second model* then traces the current side
with it. Loading another first model drops the second (its tokenizer was checked against the old one);
so does a model process that stops by itself: only the first model is loaded again (the second may be
what used the memory up), and the note and the banner say so.

The comparison exports as CSV or .npz, the panel as an image.
"""

from __future__ import annotations

import csv
import io

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.core.context import ViewContext
from desktop.core.requests.attribution import (
    CompareRequest,
    CompareResult,
    SecondModelRequest,
    SecondModelResult,
)
from desktop.panels.style import emphasise
from model_core.analysis.compare import Run, align_tokens, distribution_pairs, lens_pairs
from model_core.errors import LogitscopeError
from model_core.output_files import write_text_atomically
from model_core.types.attribution_files import save_npz
from viz.attention_heatmap import AttentionHeatmap
from viz.attribution_views import AlignedChips
from viz.block_views import GroupedBars

N_BARS = 10


def settings_text(settings) -> str:
    """The knobs that differ from plain sampling, briefly."""
    parts = [f"T={settings.temperature:g}"]
    if settings.top_k:
        parts.append(f"top-k {settings.top_k}")
    if settings.top_p < 1:
        parts.append(f"top-p {settings.top_p:g}")
    if settings.min_p:
        parts.append(f"min-p {settings.min_p:g}")
    if settings.repetition_penalty != 1:
        parts.append(f"repetition {settings.repetition_penalty:g}")
    return ", ".join(parts)


class ComparePanel(QWidget):
    comparison_changed = Signal()  # a new comparison is drawn

    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self._asker = ctx.asker(self._on_result, self._on_failed)
        self.pinned: Run | None = None
        self.pinned_model = ""
        self.result: CompareResult | None = None
        self.pairs = None  # model_core.analysis.compare.DistributionPairs
        self.lens: list[tuple[int, int, float, int, float]] = []
        self._asked: tuple | None = None

        self.pin_button = QPushButton("Pin this run")
        self.pin_button.setToolTip("Keep the current tokens and decoding settings to compare the next runs with")
        self.unpin_button = QPushButton("Unpin")
        self.export_button = QPushButton("Export comparison…")
        self.summary = QLabel("Pin a run, then change the prompt or the decoding settings to compare the two.")
        self.summary.setWordWrap(True)
        emphasise(self.summary)
        self.note = QLabel("Both runs use the loaded model, or load a second one with the same tokenizer beside it.")
        self.note.setWordWrap(True)
        # A second model beside the first: loaded only if it fits in the memory left (said before loading).
        self._second_asker = ctx.asker(self._on_second, self._on_second_failed)
        self.second_name = ""
        self.second_spec = QLineEdit()
        self.second_spec.setPlaceholderText("second model: gpt2, distilgpt2, a folder… (same tokenizer)")
        self.second_button = QPushButton("Load alongside")
        self.second_drop = QPushButton("Drop")
        self.on_second = QCheckBox("Current run on the second model")
        self.on_second.setEnabled(False)
        second_row = QHBoxLayout()
        second_row.addWidget(self.second_spec, 1)
        second_row.addWidget(self.second_button)
        second_row.addWidget(self.second_drop)
        second_row.addWidget(self.on_second)
        row = QHBoxLayout()
        row.addWidget(self.pin_button)
        row.addWidget(self.unpin_button)
        row.addWidget(self.export_button)
        row.addStretch(1)

        self.chips = AlignedChips()
        self.chips.setMinimumHeight(80)
        self.bars = GroupedBars()
        self.bars.getPlotItem().getAxis("left").enableAutoSIPrefix(False)  # 0.25, not 250 m
        self.lens_table = QTableWidget(0, 3)
        self.lens_table.setHorizontalHeaderLabels(["layer", "pinned: top token", "current: top token"])
        self.lens_table.verticalHeader().setVisible(False)
        self.lens_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.attention_pinned = AttentionHeatmap()
        self.attention_current = AttentionHeatmap()
        heads = QSplitter(Qt.Orientation.Horizontal)
        heads.addWidget(self.attention_pinned)
        heads.addWidget(self.attention_current)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.bars, "Next token")
        self.tabs.addTab(self.lens_table, "Logit lens")
        self.tabs.addTab(heads, "Attention")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(row)
        layout.addWidget(self.summary)
        layout.addWidget(self.note)
        layout.addLayout(second_row)
        self.split = split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.chips)
        split.addWidget(self.tabs)
        split.setSizes([120, 500])
        layout.addWidget(split, 1)
        # Until there is a comparison, a line says what will be here (not bare "A"/"B" and empty axes).
        self.waiting = QLabel("The two runs' tokens, aligned, their next-token probabilities side by side, "
                              "their logit lens and their attention appear here.")
        self.waiting.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.waiting.setWordWrap(True)
        layout.addWidget(self.waiting, 1)

        self.pin_button.clicked.connect(self.pin)
        self.unpin_button.clicked.connect(self.unpin)
        self.export_button.clicked.connect(self._export_dialog)
        self.second_button.clicked.connect(lambda: self.load_second(self.second_spec.text().strip()))
        self.second_spec.returnPressed.connect(lambda: self.load_second(self.second_spec.text().strip()))
        self.second_drop.clicked.connect(lambda: self.load_second(""))
        ctx.client.model_lost.connect(self._on_process_lost)
        self._traces = ctx.traces
        self.on_second.toggled.connect(lambda _on: self.gate.request())
        state.model_changed.connect(self._on_model)
        self.gate = ctx.gate(self._redraw, self._key)
        self.set_shown = self.gate.set_shown
        for changed in (state.trace_changed, state.settings_changed, state.selection_changed):
            changed.connect(self.gate.request)
        self._enable()

    # -- pinning ---------------------------------------------------------------------------------

    def _enable(self) -> None:
        self.unpin_button.setEnabled(self.pinned is not None)
        self.export_button.setEnabled(self.pairs is not None)
        self.split.setVisible(self.pairs is not None)
        self.waiting.setVisible(self.pairs is None)
        self.on_second.setEnabled(bool(self.second_name))
        self.second_drop.setEnabled(bool(self.second_name))

    # -- the second model ------------------------------------------------------------------------

    def load_second(self, spec: str) -> None:
        """Load `spec` beside the first model ("" drops the second one). The model thread checks that
        its weights fit in the memory left before loading anything, and that it shares the tokenizer."""
        if self.state.info is None:
            return
        self.second_button.setEnabled(False)
        self.note.setText(f"Checking that {spec} fits beside {self.state.info.name} and loading it…" if spec
                          else "Dropping the second model…")
        self._second_asker.ask(SecondModelRequest(spec))

    def _on_second(self, result: SecondModelResult) -> None:
        self.second_button.setEnabled(True)
        self.second_name = result.name
        if not result.name:
            self.on_second.setChecked(False)
            self.note.setText("Both runs use the loaded model, or load a second one with the same tokenizer beside it.")
        else:
            self.note.setText(f"Second model beside the first: {result.summary}. Tick the box to run the current "
                              "side on it.")
        self._enable()
        self.gate.request()

    def _on_second_failed(self, message: str, cancelled: bool) -> None:
        self.second_button.setEnabled(True)
        self.second_name = ""
        self.on_second.setChecked(False)
        self.note.setText("Loading the second model was cancelled." if cancelled
                          else f"The second model was not loaded: {message}")
        self._enable()

    def _on_process_lost(self, _reason: str) -> None:
        """The model process ended by itself and the first model is loaded again in a new one; the
        second is not (it may be what used up the memory): say so here and in the banner."""
        name = self.second_name
        if not name:
            return
        self.second_name = ""
        self.on_second.setChecked(False)
        self.second_button.setEnabled(True)
        self.note.setText(f"The second model ({name}) went with the model process that stopped; "
                          "Load alongside loads it again.")
        self._traces.lost_with_process(f"the second model of Side by side ({name})")
        self._enable()
        self.gate.request()

    def pin(self) -> None:
        trace = self.state.trace
        if trace is None:
            return
        self.pinned_model = self.state.info.name if self.state.info else ""
        self.pinned = Run(trace, self.state.settings, "pinned", self.pinned_model)
        self.result, self.pairs, self.lens, self._asked = None, None, [], None
        self.summary.setText(f"Pinned {trace.n_tokens} tokens ({settings_text(self.state.settings)}). Change the "
                             "prompt or the settings to compare.")
        self._enable()
        self.gate.request()

    def unpin(self) -> None:
        self.pinned, self.result, self.pairs, self.lens, self._asked = None, None, None, [], None
        self.chips.set_pairs([])
        self.bars.set_series([], {})
        self.lens_table.setRowCount(0)
        self.summary.setText("Pin a run, then change the prompt or the decoding settings to compare the two.")
        self._enable()

    def _on_model(self) -> None:
        if self.second_name:  # it was checked against the old first model's tokenizer
            self.second_name = ""
            self.on_second.setChecked(False)
            self._second_asker.ask(SecondModelRequest(""))
            self._enable()
        if self.pinned is None:
            return
        info = self.state.info
        if info is not None and info.vocab_size == self.pinned.trace.next_logits.shape[0]:
            self.note.setText(f"The pinned run was made with {self.pinned_model}; both sides are now traced "
                              f"with {info.name} (same vocabulary size).")
            return
        self.unpin()
        self.summary.setText("The pin was dropped: the new model's vocabulary differs from the pinned run's.")

    # -- comparing -------------------------------------------------------------------------------

    def _key(self) -> tuple | None:
        if self.pinned is None or self.state.result is None:
            return None
        sel = self.state.selection
        return (self.state.trace_id, self.state.settings, sel.layer, sel.head, id(self.pinned),
                self.on_second.isChecked(), self.second_name)

    def _redraw(self) -> None:
        trace = self.state.trace
        if self.pinned is None or trace is None or self.state.stale_reason:
            return
        second = self.on_second.isChecked() and bool(self.second_name)
        key = (tuple(int(i) for i in self.pinned.trace.tokens.ids), tuple(int(i) for i in trace.tokens.ids), second)
        r = self.result
        if r is None or (r.pinned_ids, r.current_ids, r.current_on_second) != key:
            if key != self._asked:
                self._asked = key
                self.summary.setText("Tracing both runs…")
                self._asker.ask(CompareRequest(*key))
            return
        self._draw()

    def _on_failed(self, message: str, _cancelled: bool) -> None:
        self._asked = None
        self.summary.setText(message)

    def _on_result(self, result: CompareResult) -> None:
        self.result = result
        self._draw()
        self._enable()
        self.comparison_changed.emit()

    def runs(self) -> tuple[Run, Run]:
        """The two sides as compared now: fresh traces, each with its own settings."""
        r = self.result
        model = self.second_name if r.current_on_second else (self.state.info.name if self.state.info else "")
        return (Run(r.pinned, self.pinned.settings, "pinned", self.pinned_model),
                Run(r.current, self.state.settings, "current", model))

    def _draw(self) -> None:
        pinned, current = self.runs()
        a, b = pinned.trace, current.trace
        la, lb = list(a.tokens.labels), list(b.tokens.labels)
        aligned = align_tokens(la, lb)
        self.chips.set_pairs([(None if i is None else la[i], None if j is None else lb[j]) for i, j in aligned],
                             ("pinned", "current"))
        self.pairs = pairs = distribution_pairs(pinned, current, N_BARS)
        self.bars.set_series([self.state.label(int(i)) for i in pairs.ids],
                             {"pinned": pairs.pinned, "current": pairs.current, "current − pinned": pairs.difference},
                             "next token", "probability")
        self.lens = lens_pairs(a, b)
        self.lens_table.setRowCount(len(self.lens))
        for r, (layer, ia, pa, ib, pb) in enumerate(reversed(self.lens)):
            cells = (str(layer), f"{self.state.label(ia)}  {pa:.1%}", f"{self.state.label(ib)}  {pb:.1%}")
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if ia != ib and c:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                    item.setToolTip("the top token differs between the runs here")
                self.lens_table.setItem(r, c, item)
        sel = self.state.selection
        layer, head = min(sel.layer, a.n_layers - 1), min(sel.head, a.n_heads - 1)
        for widget, trace, labels, name in ((self.attention_pinned, a, la, "pinned"),
                                            (self.attention_current, b, lb, "current")):
            widget.set_data(trace.attention[layer, head].astype(np.float32), labels)
            widget.set_title(f"{name}: layer {layer}, head {head}")
        differing = len(self.chips.differing())
        top_a, top_b = int(pairs.ids[np.argmax(pairs.pinned)]), int(pairs.ids[np.argmax(pairs.current)])
        biggest = int(np.argmax(np.abs(pairs.difference)))
        self.summary.setText(
            f"Pinned: {a.n_tokens} tokens ({settings_text(pinned.settings)}), top '{self.state.label(top_a)}'. "
            f"Current{' on ' + current.model if self.result.current_on_second else ''}: {b.n_tokens} tokens "
            f"({settings_text(current.settings)}), top '{self.state.label(top_b)}'. "
            + (f"{differing} token pair{'s' if differing != 1 else ''} differ. " if differing else "Same tokens. ")
            + f"Largest change: '{self.state.label(int(pairs.ids[biggest]))}' {pairs.difference[biggest]:+.1%}.")

    # -- export ----------------------------------------------------------------------------------

    def comparison_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["token_id", "token", "pinned_prob", "current_prob", "difference"])
        p = self.pairs
        for i, pa, pb, d in zip(p.ids, p.pinned, p.current, p.difference, strict=True):
            writer.writerow([int(i), self.state.label(int(i)), f"{pa:.8g}", f"{pb:.8g}", f"{d:.8g}"])
        return out.getvalue()

    def export_comparison(self, path: str) -> bool:
        """The paired distributions as CSV, or everything (bars, lens, tokens) as .npz by the suffix."""
        if self.pairs is None:
            self.summary.setText("There is no comparison to export yet: pin a run and change something.")
            return False
        try:
            if path.lower().endswith(".csv"):
                write_text_atomically(path, self.comparison_csv())
            else:
                a, b = self.runs()
                lens = np.array(self.lens, dtype=np.float64).reshape(-1, 5)
                save_npz(path, {
                    "token_ids": self.pairs.ids, "pinned_prob": self.pairs.pinned,
                    "current_prob": self.pairs.current, "difference": self.pairs.difference,
                    "lens": lens, "pinned_tokens": a.trace.tokens.ids, "current_tokens": b.trace.tokens.ids,
                    "pinned_next_logits": a.trace.next_logits, "current_next_logits": b.trace.next_logits})
        except (LogitscopeError, OSError) as exc:
            self.summary.setText(f"Could not export the comparison: {exc}")
            return False
        self.note.setText(f"Exported the comparison to {path}.")
        return True

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export comparison", "comparison.csv",
                                              "CSV (*.csv);;NumPy arrays (*.npz)")
        if path:
            self.export_comparison(path)
