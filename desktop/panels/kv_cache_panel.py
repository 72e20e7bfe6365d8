"""KV cache: time greedy generation with and without the key/value cache, live on the loaded model."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QBoxLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.core.context import ViewContext
from desktop.core.requests.block_views import KvBenchRequest
from model_core.analysis.model_sizes import human_bytes
from viz.block_views import StepLines

SUMMARY = ("Generates greedily from the current prompt twice: with the cache (one new token per step) and "
           "recomputing the whole sequence every step.")


class KvCachePanel(QWidget):
    bench_changed = Signal()  # a timing finished and is drawn (`bench`)

    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = ctx.state
        self._asker = ctx.asker(self._on_bench, self._on_failed)
        self.bench = None  # model_core.engine.probes.kv_cache.KvBench of the last run
        self.n_new = QSpinBox()
        self.n_new.setRange(1, 512)
        self.n_new.setValue(32)
        self.n_new.setSuffix(" new tokens")
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.summary = QLabel(SUMMARY)
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["measure", "with cache", "recompute every step"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setWordWrap(False)
        # As wide as its columns, whatever the font (presentation mode); the plot takes the rest.
        self.table.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.plot = StepLines()
        # Until a run there is nothing to tabulate or plot: empty axes would read as a broken chart.
        self.waiting = QLabel("Press Run: the times of both ways, step by step, appear here.")
        self.waiting.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.waiting.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Generate"))
        row.addWidget(self.n_new)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        self.results = results = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        results.addWidget(self.table, 0, Qt.AlignmentFlag.AlignTop)
        results.addWidget(self.plot, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(row)
        layout.addWidget(self.summary)
        layout.addLayout(results, 1)
        layout.addWidget(self.waiting, 1)
        self._show_results(False)

        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(ctx.client.cancel)
        self.state.model_changed.connect(self._forget)

    def _show_results(self, shown: bool) -> None:
        self.table.setVisible(shown)
        self.plot.setVisible(shown)
        self.waiting.setVisible(not shown)

    def _forget(self) -> None:
        """Another model: the last timing (or the one on its way) was of the one before."""
        self._asker.forget()
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.bench = None
        self._show_results(False)
        self.summary.setText(SUMMARY)

    def run(self) -> None:
        if self.state.result is None:
            return
        self._asker.ask(KvBenchRequest(self.n_new.value()))
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.summary.setText(f"Timing {self.n_new.value()} new tokens both ways…")

    def _on_failed(self, message: str, _cancelled: bool) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.summary.setText(message)

    def _on_bench(self, bench) -> None:
        self.bench = bench
        self._redraw()
        self.bench_changed.emit()

    def _redraw(self) -> None:
        b = self.bench
        if b is None:
            return
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self._show_results(True)
        mem = b.memory
        rows = [
            ("tokens processed", f"{int(b.cached_tokens.sum()):,}", f"{int(b.recompute_tokens.sum()):,}"),
            ("total time", f"{b.cached_total * 1000:,.0f} ms", f"{b.recompute_total * 1000:,.0f} ms"),
            ("per new token", f"{b.cached_total / b.n_new * 1000:,.1f} ms", f"{b.recompute_total / b.n_new * 1000:,.1f} ms"),
            ("first step (reads the prompt)", f"{b.cached_times[0] * 1000:,.1f} ms",
             f"{b.recompute_times[0] * 1000:,.1f} ms"),
            ("last step", f"{b.cached_times[-1] * 1000:,.1f} ms", f"{b.recompute_times[-1] * 1000:,.1f} ms"),
            ("cache memory now", human_bytes(mem.per_token * (b.n_prompt + b.n_new)), "none"),
        ]
        self.table.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.plot.set_lines({"with cache": b.cached_times * 1000, "recompute every step": b.recompute_times * 1000},
                           "generated token", "milliseconds")
        same = "the same tokens both ways" if b.same_tokens else "tokens differed slightly (floating point)"
        self.summary.setText(
            f"Speed-up {b.speedup:.1f}× for {b.n_new} tokens after a {b.n_prompt}-token prompt ({same}). "
            f"The cache holds 2 × {mem.n_layers} layers × {mem.n_kv_heads} key/value heads × {mem.head_dim} "
            f"× {mem.bytes_per_number} bytes = {human_bytes(mem.per_token)} per token; "
            f"{human_bytes(mem.full_context)} for the full {mem.context_length:,}-token context.")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # e.g. presentation mode: the table grows
            QTimer.singleShot(0, self, self._arrange)  # once the table has the new font too

    def _arrange(self) -> None:
        """Table beside the plot when the panel is at least twice the table's width, else above it."""
        wide = self.width() >= 2 * self.table.sizeHint().width()
        self.results.setDirection(QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom)
