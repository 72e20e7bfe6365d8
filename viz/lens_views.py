"""Logit-lens drawings: a probability-coloured table and probability-per-layer lines.

Pure arrays and strings in, widgets out: the caller resolves token ids to labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from viz.table_fill import filling
from viz.theme import LIGHT, Palette, Styled, blend, qcolor, readable_text_colour, style_plot_item

# Okabe-Ito colours (colour-blind safe) for the tracked tokens' lines.
LINE_COLOURS = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


class ProbabilityTable(QTableWidget):
    """A read-only table of texts whose cells are tinted by a probability in [0, 1]."""

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT) -> None:
        super().__init__(parent)
        self._theme = palette
        self._probs = np.zeros((0, 0), dtype=np.float32)
        self._data: tuple | None = None  # (rows, columns, texts) drawn, kept to re-tint on a new palette
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self._fit_rows()
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

    def set_data(self, row_labels: Sequence[str], column_labels: Sequence[str],
                 texts: Sequence[Sequence[str]], probs: np.ndarray) -> None:
        """Show texts [R][C] with cells tinted by probs [R, C] (0 = page colour, 1 = full tint)."""
        probs = np.asarray(probs, dtype=np.float32)  # [R, C]
        if probs.shape != (len(row_labels), len(column_labels)):
            raise ValueError(f"probs {probs.shape} do not match {len(row_labels)} x {len(column_labels)} labels")
        self._probs = probs
        self._data = (list(row_labels), list(column_labels), [list(r) for r in texts])
        with filling(self):
            self.clear()
            self.setRowCount(len(row_labels))
            self.setColumnCount(len(column_labels))
            self.setVerticalHeaderLabels(list(row_labels))
            self.setHorizontalHeaderLabels(list(column_labels))
            for r, row in enumerate(texts):
                for c, text in enumerate(row):
                    item = QTableWidgetItem(text)
                    background = blend(self._theme.background, self._theme.token, float(probs[r, c]) ** 0.5)
                    item.setBackground(background)
                    item.setForeground(readable_text_colour(background))
                    item.setToolTip(f"{text}  (p = {probs[r, c]:.4f})")
                    item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
                    self.setItem(r, c, item)

    def _fit_rows(self) -> None:
        """Rows a line of text tall plus a little: as many layers on screen as the font allows."""
        self.verticalHeader().setMinimumSectionSize(1)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 5)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # presentation mode's large type: taller rows
            self._fit_rows()

    def set_palette(self, palette: Palette) -> None:
        """Tint from this theme's page colour (a dark page gives dark cells with light text)."""
        self._theme = palette
        if self._data is not None:
            self.set_data(*self._data, self._probs)

    def cell_text(self, row: int, column: int) -> str:
        item = self.item(row, column)
        return item.text() if item is not None else ""

    def probabilities(self) -> np.ndarray:
        """[R, C] the probabilities the cells are tinted by."""
        return self._probs


class TrackPlot(Styled, pg.PlotWidget):
    """Probability of a few chosen tokens at each layer, one line each."""

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT, font_size: float = 9.0) -> None:
        super().__init__(parent, background=palette.background)
        self._theme = palette
        plot = self.getPlotItem()
        plot.setLabel("bottom", "layer (0 = embeddings)")
        plot.setLabel("left", "probability")
        plot.setYRange(0, 1, padding=0.02)
        plot.setMouseEnabled(x=False, y=False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.showGrid(x=True, y=True, alpha=0.2)
        self.legend = plot.addLegend(offset=(8, 8))
        style_plot_item(plot, palette, font_size)
        self._font_size = font_size
        self._line_scale = 1.0
        self._lines: dict[str, np.ndarray] = {}

    def _apply_style(self) -> None:
        """Theme, font (ticks, titles, legend) and line scale (`Styled`); the lines are drawn again, so
        the legend's entries take the new text style as they are made."""
        self.setBackground(self._theme.background)
        style_plot_item(self.getPlotItem(), self._theme, self._font_size, self._line_scale)
        self.legend.setLabelTextColor(self._theme.foreground)
        self.legend.setLabelTextSize(f"{self._font_size:g}pt")
        self.set_lines(self._lines)

    def set_lines(self, lines: dict[str, np.ndarray]) -> None:
        """One line per label: probabilities [L+1] by layer."""
        plot = self.getPlotItem()
        plot.clear()
        self.legend.clear()
        self._lines = {k: np.asarray(v, dtype=np.float32) for k, v in lines.items()}
        for i, (label, values) in enumerate(self._lines.items()):
            colour = LINE_COLOURS[i % len(LINE_COLOURS)]
            if colour == "#000000":  # the page's own text colour: black on light, light on dark
                colour = self._theme.foreground
            plot.plot(np.arange(len(values)), values, name=label, pen=pg.mkPen(colour, width=2.5 * self._line_scale),
                      symbol="o", symbolSize=5 * self._line_scale, symbolBrush=qcolor(colour), symbolPen=None)
        if self._lines:
            n = len(next(iter(self._lines.values())))
            plot.setXRange(0, max(n - 1, 1), padding=0.02)

    def lines(self) -> dict[str, np.ndarray]:
        return dict(self._lines)

