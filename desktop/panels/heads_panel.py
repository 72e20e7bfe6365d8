"""All heads at once: a layers × heads grid of attention thumbnails and a sortable table of head scores."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QLocale, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.core.context import ViewContext
from model_core.analysis.head_stats import HeadStats, head_stats, hide_first_token
from viz.head_grid import HeadGrid
from viz.table_fill import filling

COLUMNS = ("layer", "head", "previous-token", "first-token", "entropy (bits)")
# What each score column means (its header's tooltip, and the legend under the table).
COLUMN_TIPS = {
    "layer": "The block the head is in (0 = first)",
    "head": "The head within its layer",
    "previous-token": "Mean weight each token puts on the token just before it: near 1 = a previous-token head",
    "first-token": "Mean weight on token 0, the 'attention sink' heads park unused attention on: near 1 = a sink",
    "entropy (bits)": "How spread out each row is: 0 = every token reads one token, log2(T) = reads all evenly",
}
LEGEND = ("<b>previous-token</b>: weight on the token just before (1 = always) · <b>first-token</b>: weight on "
          "token 0, the sink (1 = always) · <b>entropy</b>: spread of each row in bits (0 = one token). "
          "Click a header to sort.")


SCORE_DECIMALS = 3


class FixedDecimals(QStyledItemDelegate):
    """Shows a float cell with a fixed number of decimals ("0.200" under "0.166", not "0.2"), while the
    cell keeps the number itself, so a click on the header sorts by value."""

    def __init__(self, decimals: int, parent=None) -> None:
        super().__init__(parent)
        self.decimals = decimals

    def displayText(self, value, locale: QLocale) -> str:
        if isinstance(value, float):
            return f"{value:.{self.decimals}f}"
        return super().displayText(value, locale)


class HeadsPanel(QWidget):
    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self.stats: HeadStats | None = None
        self.hide_sink = QCheckBox("Hide first-token sink")
        self.hide_sink.setToolTip("Zero the weight on token 0 and renormalise each row, for display only")
        self.note = QLabel("Click a thumbnail or a row to open that head.")
        self.grid = HeadGrid()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        for c, name in enumerate(COLUMNS):
            self.table.horizontalHeaderItem(c).setToolTip(COLUMN_TIPS[name])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self._decimals = FixedDecimals(SCORE_DECIMALS, self.table)
        for c in range(2, len(COLUMNS)):
            self.table.setItemDelegateForColumn(c, self._decimals)
        self.legend = QLabel(LEGEND)
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        controls = QHBoxLayout()
        controls.addWidget(self.hide_sink)
        controls.addWidget(self.note, 1)
        self.note.setWordWrap(True)
        scores = QWidget()
        scores_layout = QVBoxLayout(scores)
        scores_layout.setContentsMargins(0, 0, 0, 0)
        scores_layout.addWidget(self.legend)
        scores_layout.addWidget(self.table, 1)
        # The grid above the scores: it gets the panel's whole width, so 30 layers × 9 heads are
        # drawn layers-across as thumbnails of a usable size rather than 45 × 8-pixel slivers.
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.grid)
        splitter.addWidget(scores)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([600, 400])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(controls)
        layout.addWidget(splitter, 1)
        self._drawn_trace = -1  # trace id the grid and table show

        self.hide_sink.toggled.connect(lambda _on: self._redraw_grid())
        self.grid.head_clicked.connect(lambda layer, head: state.select(layer=layer, head=head))
        self.table.cellClicked.connect(self._on_row_clicked)
        # The grid and table are rebuilt only while someone can see them (panels/redraw_gate.py).
        self.gate = ctx.follow_selection(self._redraw)
        self.set_shown = self.gate.set_shown

    def _redraw(self) -> None:
        if self.state.result is not None and self.state.result.trace_id != self._drawn_trace:
            self.redraw()
        else:
            self._on_selection_changed()

    def displayed_attention(self) -> np.ndarray:
        """[L, H, T, T] what the grid draws (sink hidden when asked)."""
        attention = self.state.trace.attention
        return hide_first_token(attention) if self.hide_sink.isChecked() else attention

    def redraw(self) -> None:
        trace = self.state.trace
        if trace is None:
            return
        self._drawn_trace = self.state.result.trace_id
        self._redraw_grid()
        self.stats = head_stats(trace.attention)
        with filling(self.table) as table:
            table.setRowCount(trace.n_layers * trace.n_heads)
            row = 0
            for layer in range(trace.n_layers):
                for head in range(trace.n_heads):
                    values = (layer, head, self.stats.previous_token[layer, head], self.stats.first_token[layer, head],
                              self.stats.entropy[layer, head])
                    for c, value in enumerate(values):
                        item = QTableWidgetItem()
                        item.setData(Qt.ItemDataRole.DisplayRole, int(value) if c < 2 else float(value))
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                        table.setItem(row, c, item)
                    row += 1
        self._on_selection_changed()

    def _redraw_grid(self) -> None:
        if self.state.trace is None:
            return
        self.grid.set_attention(self.displayed_attention())
        sel = self.state.selection
        self.grid.set_selected(sel.layer, sel.head)

    def _on_row_clicked(self, row: int, _column: int) -> None:
        layer, head = self.table.item(row, 0), self.table.item(row, 1)
        if layer is not None and head is not None:
            self.state.select(layer=int(layer.text()), head=int(head.text()))

    def _on_selection_changed(self) -> None:
        if self.state.trace is None or self.state.result.trace_id != self._drawn_trace:
            return
        sel = self.state.selection
        self.grid.set_selected(sel.layer, sel.head)
        self.note.setText(f"Open: layer {sel.layer} · head {sel.head}. Click a thumbnail or a row to open "
                          "another; sort the table by a score to find interesting heads.")
