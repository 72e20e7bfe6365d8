"""Mixture-of-experts drawings: which experts a router chose, with what weights, for every token.

Arrays and strings in, widgets out; nothing here knows about models. Expert ids are small
integers; -1 marks "no expert" (a dense block of a MoE model).

- `RouterHeatmap`: one layer's router probabilities, positions (rows) × experts (columns), the
  chosen top-k of each token marked with a dot sized by its gate weight; click a row to select it.
- `ExpertGrid`: every layer × position, each cell naming the chosen experts (most weight first),
  tinted in the colour of the first; dense layers greyed and named; click a cell to select it.
- `RouterStrip`: one token's choice in every layer as stacked segments (width = gate weight),
  shared experts as a separate segment after a gap; click a row to select that layer.

Each expert keeps one colour everywhere (`expert_colour`): Okabe-Ito for up to eight experts,
golden-ratio hues beyond.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QMouseEvent, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGraphicsRectItem,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from viz.attention_heatmap import shorten, thinned_ticks, tick_step
from viz.cell_clicks import CellClicks
from viz.table_fill import filling
from viz.theme import (
    LIGHT,
    Palette,
    Styled,
    attention_colormap,
    blend,
    default_font_size,
    make_font,
    qcolor,
    readable_text_colour,
    set_plot_title,
    style_color_bar,
    style_plot_item,
)

# Okabe-Ito without black (colour-blind safe) for models with few experts.
_FEW_EXPERTS = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")
MAX_DOTS = 20_000  # chosen-expert dots drawn in the heatmap (positions × k) before they are left out


def expert_colour(expert: int, n_experts: int) -> QColor:
    """The one colour expert `expert` of `n_experts` has in every drawing."""
    if n_experts <= len(_FEW_EXPERTS):
        return QColor(_FEW_EXPERTS[expert % len(_FEW_EXPERTS)])
    return QColor.fromHsvF((expert * 0.618033988749895) % 1.0, 0.55, 0.92)


def choice_text(ids: Sequence[int], weights: Sequence[float]) -> str:
    """'expert 3 (0.52), expert 1 (0.48)' for the chosen experts of one token, in the order given."""
    return ", ".join(f"expert {int(i)} ({float(w):.2f})" for i, w in zip(ids, weights, strict=True) if int(i) >= 0)


def _by_weight(ids: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ids, weights [..., k] sorted by weight, largest first, along the last axis."""
    order = np.argsort(-weights, axis=-1, kind="stable")
    return np.take_along_axis(ids, order, -1), np.take_along_axis(weights, order, -1)


class _NarrowLabel(pg.LabelItem):
    """A LabelItem that asks for no width: a long title or hover text is cut at the widget's edge
    instead of widening the plot past its dock (presentation mode's large type)."""

    def updateMin(self) -> None:
        super().updateMin()
        self.setMinimumWidth(1)
        height = self._sizeHint[Qt.SizeHint.MinimumSize][1]
        self._sizeHint[Qt.SizeHint.MinimumSize] = (1, height)
        self._sizeHint[Qt.SizeHint.PreferredSize] = (1, height)
        self.updateGeometry()


class RouterHeatmap(CellClicks, Styled, pg.GraphicsLayoutWidget):
    """One layer's router probabilities [T, E], rows = positions (0 at the top), columns = experts.

    The experts each token was sent to are marked with a white dot whose size is the gate weight.
    Signals: ``row_clicked(position)`` on a click, ``cell_hovered(position, expert)``.
    A dense layer has no router: ``set_message(text)`` clears the picture and says so instead.
    """

    row_clicked = Signal(int)
    cell_hovered = Signal(int, int)

    _HOVER_PLACEHOLDER = "hover a cell: router probability, gate weight"

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT,
                 font_size: float | None = None) -> None:
        super().__init__(parent)
        self._theme = palette
        self._font_size = font_size if font_size is not None else default_font_size()
        self._probs = np.zeros((0, 0), dtype=np.float32)  # [T, E]
        self._ids = np.zeros((0, 0), dtype=np.int64)  # [T, k]
        self._weights = np.zeros((0, 0), dtype=np.float32)  # [T, k]
        self._labels: list[str] = []
        self._selected_row: int | None = None
        self._hovered: tuple[int, int] | None = None
        self._title = ""
        self._message = ""
        self._hover_text = ""
        self._ticks_shown: tuple | None = None

        self.ci.setContentsMargins(6, 6, 6, 6)
        self._title_label = _NarrowLabel(justify="left")
        self._hover_label = _NarrowLabel(justify="left")
        self._plot = pg.PlotItem(enableMenu=False)
        self.ci.addItem(self._title_label, row=0, col=0)
        self.ci.addItem(self._hover_label, row=1, col=0)
        self.ci.addItem(self._plot, row=2, col=0)
        plot = self._plot
        plot.invertY(True)
        plot.setMouseEnabled(x=False, y=False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setLabel("left", "position")
        plot.setLabel("bottom", "expert")
        plot.getAxis("left").setStyle(autoExpandTextSpace=True)
        self._image = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self._image)
        self._dots = pg.ScatterPlotItem(pxMode=True)
        self._dots.setZValue(2)
        plot.addItem(self._dots)
        self._selection = QGraphicsRectItem()
        self._selection.setZValue(3)
        self._selection.setVisible(False)
        plot.vb.addItem(self._selection, ignoreBounds=True)
        self._message_item = pg.TextItem(anchor=(0.5, 0.5))
        self._message_item.setVisible(False)
        plot.addItem(self._message_item, ignoreBounds=True)
        self._color_bar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=attention_colormap(), interactive=False,
                                          width=16, label="router probability")
        self._color_bar.setImageItem(self._image, insert_in=plot)
        plot.vb.sigResized.connect(self._update_ticks)
        plot.vb.sigResized.connect(self._draw_dots)  # dots never outgrow their cells
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self._apply_style()

    # --- public API -------------------------------------------------------------------------
    def set_data(self, probs: np.ndarray, ids: np.ndarray, weights: np.ndarray, labels: Sequence[str]) -> None:
        """probs [T, E] router probabilities; ids, weights [T, k] the chosen experts and their gate
        weights (-1: none); labels [T] one per position."""
        probs = np.asarray(probs, dtype=np.float32)  # [T, E]
        ids = np.asarray(ids, dtype=np.int64)  # [T, k]
        weights = np.asarray(weights, dtype=np.float32)  # [T, k]
        if probs.ndim != 2 or ids.shape != weights.shape or ids.ndim != 2 or ids.shape[0] != probs.shape[0]:
            raise ValueError(f"probs [T, E] and ids, weights [T, k] expected, got {probs.shape}, {ids.shape}, "
                             f"{weights.shape}")
        if len(labels) != probs.shape[0]:
            raise ValueError(f"{len(labels)} labels for {probs.shape[0]} positions")
        self._message = ""
        self._probs, self._ids, self._weights, self._labels = probs, ids, weights, list(labels)
        t, e = probs.shape
        top = float(probs.max()) if probs.size else 1.0
        self._levels = (0.0, max(top, 1e-6))
        self._image.setImage(probs, autoLevels=False, levels=self._levels)
        self._color_bar.setLevels(self._levels)
        self._image.setVisible(True)
        self._message_item.setVisible(False)
        self._plot.setRange(xRange=(0, max(e, 1)), yRange=(0, max(t, 1)), padding=0)
        if self._selected_row is not None and self._selected_row >= t:
            self._selected_row = None
        self._hovered = None
        self._draw_dots()
        self._update_selection()
        self._ticks_shown = None
        self._update_ticks()

    def set_message(self, text: str) -> None:
        """No router to show (a dense layer): the picture is cleared and `text` written in its place."""
        self._message = text
        self._probs = np.zeros((0, 0), dtype=np.float32)
        self._ids = np.zeros((0, 0), dtype=np.int64)
        self._weights = np.zeros((0, 0), dtype=np.float32)
        self._labels = []
        self._image.clear()
        self._dots.setData([])
        self._selected_row = None
        self._update_selection()
        self._plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        self._message_item.setPos(0.5, 0.5)
        self._message_item.setVisible(True)
        self._show_message()
        self._ticks_shown = None
        self._update_ticks()

    def message(self) -> str:
        return self._message

    def set_title(self, title: str) -> None:
        self._title = title
        self._title_label.setText(html.escape(title) or "&nbsp;", color=self._theme.foreground,
                                  size=f"{self._font_size * 1.1:g}pt", bold=True)

    def set_selected_row(self, row: int | None) -> None:
        """Outline position `row` (None: no outline; ignored while there is no data)."""
        self._selected_row = row if row is not None and 0 <= row < self._probs.shape[0] else None
        self._update_selection()

    def selected_row(self) -> int | None:
        return self._selected_row

    def probabilities(self) -> np.ndarray:
        """[T, E] what the image shows."""
        return self._probs

    def marked_cells(self) -> set[tuple[int, int]]:
        """{(position, expert)} the dots mark: the chosen experts."""
        rows, cols = np.nonzero(self._ids >= 0)
        return {(int(r), int(self._ids[r, c])) for r, c in zip(rows, cols, strict=True)}

    def dot_count(self) -> int:
        return len(self._dots.data)

    def cell_text(self, position: int, expert: int) -> str:
        """"'is' (11) · expert 3: router p = 0.412 · chosen, gate weight 0.52"."""
        p = float(self._probs[position, expert])
        chosen = np.flatnonzero(self._ids[position] == expert)
        what = f" · chosen, gate weight {float(self._weights[position, chosen[0]]):.2f}" if chosen.size \
            else " · not chosen"
        return f"'{self._labels[position]}' ({position}) · expert {expert}: router p = {p:.3f}{what}"

    def hover_text(self) -> str:
        return self._hover_text

    def cell_scene_pos(self, position: int, expert: int) -> QPointF:
        return self._plot.vb.mapViewToScene(QPointF(expert + 0.5, position + 0.5))

    @property
    def image_item(self) -> pg.ImageItem:
        return self._image

    @property
    def plot_item(self) -> pg.PlotItem:
        return self._plot

    # --- internals --------------------------------------------------------------------------
    def _draw_dots(self) -> None:
        rows, cols = np.nonzero(self._ids >= 0)
        if len(rows) > MAX_DOTS:
            rows, cols = rows[:MAX_DOTS], cols[:MAX_DOTS]
        experts = self._ids[rows, cols]
        t, e = self._probs.shape
        size = self._plot.vb.size()
        cell = min(size.width() / max(e, 1), size.height() / max(t, 1))  # px of the smaller side of a cell
        largest = min(14.0 * self._line_scale, max(0.9 * cell, 4.0)) if cell > 0 else 14.0 * self._line_scale
        sizes = largest * (0.3 + 0.7 * np.clip(self._weights[rows, cols], 0.0, 1.0))
        self._dots.setData(x=experts + 0.5, y=rows + 0.5, size=sizes, symbol="o",
                           brush=pg.mkBrush("#FFFFFF"), pen=self.pen("#000000", 1.2))

    def _update_selection(self) -> None:
        row = self._selected_row
        self._selection.setVisible(row is not None)
        if row is not None:
            self._selection.setRect(QRectF(0, row, self._probs.shape[1], 1))

    def _update_ticks(self) -> None:
        t, e = self._probs.shape
        if t == 0:
            if self._ticks_shown != ():
                self._ticks_shown = ()
                self._plot.getAxis("left").setTicks([[]])
                self._plot.getAxis("bottom").setTicks([[]])
            return
        view, size = self._plot.vb.viewRect(), self._plot.vb.size()
        fm = QFontMetricsF(make_font(self._font_size))
        step_y = tick_step(t, size.height() / max(view.height(), 1e-9), fm.height())
        widest = fm.horizontalAdvance(str(e - 1)) * 1.6
        step_x = tick_step(e, size.width() / max(view.width(), 1e-9), widest)
        ticks = (tuple(thinned_ticks(self._labels, step_y)),
                 tuple((i + 0.5, str(i)) for i in range(e) if i % step_x == 0))
        if ticks == self._ticks_shown:
            return
        self._ticks_shown = ticks
        self._plot.getAxis("left").setTicks([list(ticks[0])])
        self._plot.getAxis("bottom").setTicks([list(ticks[1])])

    def _show_message(self) -> None:
        self._message_item.setHtml(
            f"<div style='color:{self._theme.muted}; font-size:{self._font_size * 1.1:g}pt'>"
            f"{html.escape(self._message)}</div>")

    def _apply_style(self) -> None:
        p = self._theme
        self.setBackground(p.background)
        style_plot_item(self._plot, p, self._font_size, self._line_scale)
        style_color_bar(self._color_bar, p, self._font_size, self._line_scale)
        for name in ("left", "bottom"):
            axis = self._plot.getAxis(name)
            axis.setLabel(axis.labelText, color=p.foreground, **{"font-size": f"{self._font_size:g}pt"})
        self._selection.setPen(self.pen(p.selection, 3))
        self.set_title(self._title)
        self._show_hover(self._hover_text)
        self._show_message()
        if self._ids.size:
            self._draw_dots()
        self._ticks_shown = None
        self._update_ticks()

    def _show_hover(self, text: str) -> None:
        self._hover_text = text
        shown = html.escape(text) if text else ("&nbsp;" if self._message else self._HOVER_PLACEHOLDER)
        colour = self._theme.foreground if text else self._theme.muted
        self._hover_label.setText(shown, color=colour, size=f"{self._font_size:g}pt")

    def _cell_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        t, e = self._probs.shape
        if t == 0 or not self._plot.vb.sceneBoundingRect().contains(scene_pos):
            return None
        pt = self._plot.vb.mapSceneToView(scene_pos)
        expert, position = math.floor(pt.x()), math.floor(pt.y())
        return (position, expert) if 0 <= position < t and 0 <= expert < e else None

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        cell = self._cell_at(scene_pos)
        if cell == self._hovered:
            return
        self._hovered = cell
        if cell is None:
            self._show_hover("")
            return
        self._show_hover(self.cell_text(*cell))
        self.cell_hovered.emit(*cell)


class _FrameTheCurrentCell(QStyledItemDelegate):
    """Cells keep their expert colour when selected; the current cell gets a frame instead of the
    selection fill (which would read as one more expert colour)."""

    def paint(self, painter, option, index) -> None:
        option = QStyleOptionViewItem(option)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        option.state &= ~QStyle.StateFlag.State_Selected
        option.state &= ~QStyle.StateFlag.State_HasFocus
        super().paint(painter, option, index)
        if selected:
            grid = self.parent()
            painter.save()
            painter.setPen(QPen(QColor(grid.selection_colour), 3))
            painter.drawRect(option.rect.adjusted(1, 1, -2, -2))
            painter.restore()


class ExpertGrid(QTableWidget):
    """Every layer (rows, the last on top) × position (columns): the experts each token was sent to.

    A cell reads "3 1" (the chosen experts, most weight first) on the colour of the first, stronger
    the larger its gate weight; a dense layer's row is grey and its header says "dense". The current
    cell is the selection. ``cell_clicked(layer, position)`` when a cell is clicked.
    """

    cell_clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT) -> None:
        super().__init__(parent)
        self._theme = palette
        self._ids = np.zeros((0, 0, 0), dtype=np.int64)  # [L, T, k], sorted by weight
        self._weights = np.zeros((0, 0, 0), dtype=np.float32)  # [L, T, k]
        self._shared: np.ndarray | None = None  # [L, T, S]
        self._dense = np.zeros(0, dtype=bool)  # [L]
        self._n_experts = 0
        self._columns: list[str] = []
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setItemDelegate(_FrameTheCurrentCell(self))
        self.verticalHeader().setDefaultSectionSize(22)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.cellClicked.connect(self._on_cell_clicked)

    def set_data(self, ids: np.ndarray, weights: np.ndarray, n_experts: int, column_labels: Sequence[str],
                 shared_gate: np.ndarray | None = None) -> None:
        """ids, weights [L, T, k] (-1: no expert, a dense layer); column_labels [T]; shared_gate
        [L, T, S] the gates of experts every token uses (S = 0 or None: none)."""
        ids = np.asarray(ids, dtype=np.int64)
        weights = np.asarray(weights, dtype=np.float32)
        if ids.ndim != 3 or ids.shape != weights.shape or len(column_labels) != ids.shape[1]:
            raise ValueError(f"ids and weights [L, T, k] with T column labels expected, got {ids.shape}, "
                             f"{weights.shape}, {len(column_labels)} labels")
        self._ids, self._weights = _by_weight(ids, weights)
        self._shared = shared_gate if shared_gate is not None and np.asarray(shared_gate).size else None
        self._dense = ~(ids >= 0).any(axis=(1, 2)) if ids.size else np.ones(ids.shape[0], dtype=bool)
        self._n_experts = int(n_experts)
        self._columns = [str(c) for c in column_labels]
        self._fill()

    def _row_of(self, layer: int) -> int:
        return self._ids.shape[0] - 1 - layer

    def _fill(self) -> None:
        n_layers, n_tokens, _k = self._ids.shape
        p = self._theme
        with filling(self):
            self.clear()
            self.setRowCount(n_layers)
            self.setColumnCount(n_tokens)
            self.setHorizontalHeaderLabels([shorten(c) for c in self._columns])
            self.setVerticalHeaderLabels([f"{layer} · dense" if self._dense[layer] else str(layer)
                                          for layer in range(n_layers - 1, -1, -1)])
            for layer in range(n_layers):
                row = self._row_of(layer)
                for t in range(n_tokens):
                    item = QTableWidgetItem()
                    if self._dense[layer]:
                        item.setText("–")
                        item.setBackground(qcolor(p.masked))
                        item.setForeground(readable_text_colour(qcolor(p.masked)))
                        item.setToolTip(f"layer {layer} is dense: one MLP for every token, no router")
                    else:
                        ids, weights = self._ids[layer, t], self._weights[layer, t]
                        chosen = ids >= 0
                        item.setText(" ".join(str(int(i)) for i in ids[chosen]))
                        colour = expert_colour(int(ids[0]), self._n_experts)
                        background = blend(p.background, colour, 0.25 + 0.75 * float(np.clip(weights[0], 0, 1)))
                        item.setBackground(background)
                        item.setForeground(readable_text_colour(background))
                        item.setToolTip(self.cell_text(layer, t))
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    self.setItem(row, t, item)

    def cell_text(self, layer: int, position: int) -> str:
        """'layer 2 · position 5 'is': expert 3 (0.52), expert 1 (0.48); shared expert gate 0.71'."""
        where = f"layer {layer} · position {position} '{self._columns[position]}'"
        if self._dense[layer]:
            return f"{where}: dense (no router)"
        text = f"{where}: {choice_text(self._ids[layer, position], self._weights[layer, position])}"
        if self._shared is not None:
            gates = ", ".join(f"{g:.2f}" for g in self._shared[layer, position])
            text += f"; shared expert gate {gates}"
        return text

    def text_at(self, layer: int, position: int) -> str:
        item = self.item(self._row_of(layer), position)
        return item.text() if item is not None else ""

    def row_label(self, layer: int) -> str:
        item = self.verticalHeaderItem(self._row_of(layer))
        return item.text() if item is not None else ""

    def select(self, layer: int, position: int) -> None:
        """Make (layer, position) the current cell and scroll it into view."""
        if 0 <= layer < self.rowCount() and 0 <= position < self.columnCount():
            self.blockSignals(True)
            self.setCurrentCell(self._row_of(layer), position)
            self.blockSignals(False)
            self.scrollToItem(self.item(self._row_of(layer), position))

    def selected(self) -> tuple[int, int] | None:
        row, column = self.currentRow(), self.currentColumn()
        return None if row < 0 or column < 0 else (self._row_of(row), column)

    @property
    def selection_colour(self) -> str:
        return self._theme.selection

    def set_palette(self, palette: Palette) -> None:
        self._theme = palette
        if self._ids.size:
            current = self.selected()
            self._fill()
            if current is not None:
                self.select(*current)

    def _on_cell_clicked(self, row: int, column: int) -> None:
        self.cell_clicked.emit(self._row_of(row), column)


class RouterStrip(Styled, pg.PlotWidget):
    """One token's router choice in every layer (rows, the last on top): stacked segments as wide as
    each chosen expert's gate weight, labelled with the expert; experts every token uses (a shared
    expert) as one more segment after a gap; dense layers say so. ``layer_clicked(layer)``."""

    layer_clicked = Signal(int)

    SHARED_X = 1.15  # where the shared experts' segments start (routed weights end at 1 or below)

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT,
                 font_size: float | None = None) -> None:
        super().__init__(parent, background=palette.background, enableMenu=False)
        self._theme = palette
        self._font_size = font_size if font_size is not None else default_font_size()
        self._ids = np.zeros((0, 0), dtype=np.int64)  # [L, k], sorted by weight
        self._weights = np.zeros((0, 0), dtype=np.float32)  # [L, k]
        self._shared: np.ndarray | None = None  # [L, S]
        self._dense = np.zeros(0, dtype=bool)
        self._n_experts = 0
        self._highlight: int | None = None
        self._title = ""
        self._texts: list[pg.TextItem] = []
        plot = self.getPlotItem()
        plot.setMouseEnabled(x=False, y=False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.showGrid(x=True, alpha=0.15)
        self._bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.7)
        self._shared_bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.7)
        self._frame = QGraphicsRectItem()
        self._frame.setZValue(3)
        self._frame.setVisible(False)
        plot.addItem(self._bars)
        plot.addItem(self._shared_bars)
        plot.vb.addItem(self._frame, ignoreBounds=True)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self._apply_style()

    def set_data(self, ids: np.ndarray, weights: np.ndarray, n_experts: int,
                 shared_gate: np.ndarray | None = None, highlight: int | None = None) -> None:
        """ids, weights [L, k] one token's chosen experts per layer (-1 rows: dense layers);
        shared_gate [L, S] the gates of shared experts (None or S = 0: none); highlight a layer."""
        ids = np.asarray(ids, dtype=np.int64)
        weights = np.asarray(weights, dtype=np.float32)
        if ids.ndim != 2 or ids.shape != weights.shape:
            raise ValueError(f"ids and weights [L, k] expected, got {ids.shape}, {weights.shape}")
        self._ids, self._weights = _by_weight(ids, weights)
        self._dense = ~(ids >= 0).any(axis=1) if ids.size else np.ones(ids.shape[0], dtype=bool)
        shared = None if shared_gate is None else np.asarray(shared_gate, dtype=np.float32)
        self._shared = shared if shared is not None and shared.size else None
        self._n_experts = int(n_experts)
        self._highlight = highlight
        self._draw()

    def set_highlight(self, layer: int | None) -> None:
        self._highlight = layer
        self._place_frame()

    def set_title(self, title: str) -> None:
        self._title = title
        set_plot_title(self.getPlotItem(), html.escape(title), self._theme, self._font_size)

    def segment_texts(self, layer: int) -> list[str]:
        """The labels drawn on layer `layer`'s row, left to right."""
        return [t.toPlainText() for t in self._texts if t.layer == layer]

    def segments(self, layer: int) -> list[tuple[int, float]]:
        """(expert, gate weight) of the routed segments on `layer`'s row, widest first."""
        return [(int(i), float(w)) for i, w in zip(self._ids[layer], self._weights[layer], strict=True) if i >= 0]

    def row_center(self, layer: int) -> QPointF:
        """Scene position of the middle of a layer's row (for clicks in tests)."""
        return self.getPlotItem().vb.mapViewToScene(QPointF(0.5, float(layer)))

    def _draw(self) -> None:
        plot, p = self.getPlotItem(), self._theme
        for item in self._texts:
            plot.removeItem(item)
        self._texts = []
        n_layers = self._ids.shape[0]
        x0, y, width, brushes = [], [], [], []
        font = make_font(self._font_size * 0.9)
        for layer in range(n_layers):
            if self._dense[layer]:
                self._label(layer, 0.02, "dense MLP: no router", p.muted, font, anchor=(0, 0.5))
                continue
            start = 0.0
            for expert, w in zip(self._ids[layer], self._weights[layer], strict=True):
                if expert < 0:
                    continue
                colour = expert_colour(int(expert), self._n_experts)
                x0.append(start)
                y.append(layer)
                width.append(float(w))
                brushes.append(pg.mkBrush(colour))
                text = f"{int(expert)} · {w:.2f}" if w >= 0.2 else str(int(expert)) if w >= 0.05 else ""
                if text:  # a narrow segment keeps only its expert's number
                    self._label(layer, start + w / 2, text, readable_text_colour(colour), font, anchor=(0.5, 0.5))
                start += float(w)
        self._bars.setOpts(x0=x0, y=y, width=width, height=0.7, brushes=brushes or None,
                           pens=[self.pen(p.background) for _ in x0] or None, pen=None)
        sx0, sy, swidth = [], [], []
        if self._shared is not None:
            for layer in range(n_layers):
                if self._dense[layer]:
                    continue
                start = self.SHARED_X
                for gate in self._shared[layer]:
                    sx0.append(start)
                    sy.append(layer)
                    swidth.append(float(gate))
                    self._label(layer, start + 0.02, f"shared · {gate:.2f}", p.foreground, font, anchor=(0, 0.5))
                    start += float(gate)
        self._shared_bars.setOpts(x0=sx0, y=sy, width=swidth, height=0.7, brush=pg.mkBrush(qcolor(p.muted, 90)),
                                  pen=self.pen(p.muted), brushes=None, pens=None)
        plot.getAxis("left").setTicks([[(layer, f"{layer}") for layer in range(n_layers)]])
        plot.setLabel("left", "layer", color=p.foreground, **{"font-size": f"{self._font_size:g}pt"})
        plot.setLabel("bottom", "gate weight" + ("   |   shared expert gate" if self._shared is not None else ""),
                      color=p.foreground, **{"font-size": f"{self._font_size:g}pt"})
        # The routed weights on [0, 1]; the shared experts' gates on their own [0, 1] after the gap.
        ticks = [(v, f"{v:g}") for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
        right = 1.0
        if self._shared is not None:
            span = max(1.0, float(self._shared.sum(axis=1).max()))
            ticks += [(self.SHARED_X + v, f"{v:g}") for v in (0.0, 0.5, 1.0) if v <= span]
            right = self.SHARED_X + span
        plot.getAxis("bottom").setTicks([ticks])
        plot.setXRange(0.0, right + 0.02, padding=0)
        plot.setYRange(-0.6, max(n_layers, 1) - 0.4, padding=0)
        self._place_frame()

    def _label(self, layer: int, x: float, text: str, colour, font, anchor) -> None:
        item = pg.TextItem(text, color=colour, anchor=anchor)
        item.setFont(font)
        item.setPos(x, layer)
        item.layer = layer
        self.getPlotItem().addItem(item, ignoreBounds=True)
        self._texts.append(item)

    def _place_frame(self) -> None:
        layer = self._highlight
        shown = layer is not None and 0 <= layer < self._ids.shape[0]
        self._frame.setVisible(shown)
        if shown:
            right = self.getPlotItem().vb.viewRange()[0][1]
            self._frame.setRect(QRectF(-0.01, layer - 0.45, right, 0.9))

    def _apply_style(self) -> None:
        p = self._theme
        self.setBackground(p.background)
        style_plot_item(self.getPlotItem(), p, self._font_size, self._line_scale)
        self._frame.setPen(self.pen(p.selection, 2.5))
        self.set_title(self._title)
        self._draw()

    def _layer_at(self, scene_pos: QPointF) -> int | None:
        vb = self.getPlotItem().vb
        if not self._ids.shape[0] or not vb.sceneBoundingRect().contains(scene_pos):
            return None
        layer = round(vb.mapSceneToView(scene_pos).y())
        return int(layer) if 0 <= layer < self._ids.shape[0] else None

    def _on_mouse_clicked(self, event: object) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            layer = self._layer_at(event.scenePos())
            if layer is not None:
                self.layer_clicked.emit(layer)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        super().mousePressEvent(event)
        self._accept_row_click(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        self._accept_row_click(event)

    def _accept_row_click(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton \
                and self._layer_at(self.mapToScene(event.position().toPoint())) is not None:
            event.accept()
