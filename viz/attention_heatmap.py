"""Attention heatmap: one head's query x key weights, with the causal mask greyed out.

Rows are queries (query 0 at the top, in token order), columns are keys. Future keys
(above the diagonal) can never be attended to; they are painted a flat grey by an RGBA
overlay rather than by the colour map, so "zero because masked" never looks like
"zero because ignored". Items are built once and updated with setImage / setTicks.

Token labels: rotating the key labels lets every column carry its token up to ~60
tokens; beyond that (or when cells get smaller than a line of text) only every n-th
label is kept, counted back from the last token so the last position is always named.

When the widget is too short to name every query row with a line of its own, the hover
readout moves into the title row (shown instead of the title while the mouse is on a cell),
giving its own row to the rows.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QFontMetricsF, QPainter
from PySide6.QtWidgets import QGraphicsRectItem, QWidget

from viz.cell_clicks import CellClicks
from viz.theme import (
    LIGHT,
    Palette,
    Styled,
    attention_colormap,
    default_font_size,
    make_font,
    qcolor,
    style_color_bar,
    style_plot_item,
)

MAX_TICK_LABELS = 60  # more than this is unreadable whatever the pixel size
MAX_LABEL_CHARS = 14  # longer tick labels are shortened with an ellipsis


def shorten(label: str, max_chars: int = MAX_LABEL_CHARS) -> str:
    """Single-line, at most max_chars characters (ellipsis if cut)."""
    label = label.replace("\n", "↵").replace("\t", "⇥").replace("\r", "␍")
    return label if len(label) <= max_chars else label[: max_chars - 1] + "…"


LABEL_SPACING = 0.9  # of a line height: a label's letters (ascender to descender) fit in that; no overlap


def tick_step(n: int, pixels_per_item: float, line_height: float, max_labels: int = MAX_TICK_LABELS) -> int:
    """Show every step-th label so labels are at least LABEL_SPACING lines apart and at most max_labels."""
    if n <= 0:
        return 1
    by_count = math.ceil(n / max_labels)
    by_pixels = math.ceil(line_height * LABEL_SPACING / pixels_per_item - 1e-9) if pixels_per_item > 0 else n
    return max(1, by_count, by_pixels)


def thinned_ticks(labels: Sequence[str], step: int) -> list[tuple[float, str]]:
    """(centre, text) for every step-th label counted back from the last; cell i spans [i, i+1]."""
    n = len(labels)
    return [(i + 0.5, shorten(labels[i])) for i in range(n) if (n - 1 - i) % step == 0]


class RotatedTickAxis(pg.AxisItem):
    """A bottom axis whose tick labels read bottom-to-top, so narrow columns each get a label.

    pyqtgraph's AxisItem only draws horizontal text; this draws the line and ticks through
    the base class and the labels itself. The axis height follows the longest label.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("bottom", **kwargs)
        self._ticks: list[tuple[float, str]] = []

    def set_token_ticks(self, ticks: list[tuple[float, str]]) -> None:
        """Set (value, text) ticks and resize the axis to fit the longest text."""
        self._ticks = ticks
        self.setTicks([ticks])
        self._fit_height()

    def _fit_height(self) -> None:
        fm = QFontMetricsF(self.style["tickFont"] or self.font())
        longest = max((fm.horizontalAdvance(t) for _, t in self._ticks), default=0.0)
        label_h = self.label.boundingRect().height() if self.label.isVisible() else 0.0
        self.setHeight(int(math.ceil(longest + self._text_offset() + label_h + 6)))

    def _text_offset(self) -> float:
        return max(0, self.style["tickLength"]) + self.style["tickTextOffset"][1]

    def setTickFont(self, font: object) -> None:
        super().setTickFont(font)
        self._fit_height()

    def drawPicture(self, p: QPainter, axisSpec: object, tickSpecs: object, textSpecs: object) -> None:
        super().drawPicture(p, axisSpec, tickSpecs, [])
        view = self.linkedView()
        if view is None or not self._ticks:
            return
        font = self.style["tickFont"] or self.font()
        p.setFont(font)
        p.setPen(self.textPen())
        fm = QFontMetricsF(font)
        height = fm.height()
        top = self._text_offset()
        width = self.boundingRect().width()
        for value, text in self._ticks:
            x = self.mapFromScene(view.mapViewToScene(QPointF(value, 0))).x()
            if not -0.5 <= x <= width + 0.5:
                continue
            text_w = fm.horizontalAdvance(text) + 2
            p.save()
            p.translate(x, top)
            p.rotate(-90)  # local -x now points down the screen
            p.drawText(
                QRectF(-text_w, -height / 2, text_w, height),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                text,
            )
            p.restore()


class AttentionHeatmap(CellClicks, Styled, pg.GraphicsLayoutWidget):
    """Query (rows) x key (columns) attention weights of one head, causal mask in grey.

    Signals: ``cell_hovered(query, key, weight)`` when the mouse enters a new cell,
    ``row_clicked(query)`` when a cell is clicked (the clicked row also becomes selected).
    """

    cell_hovered = Signal(int, int, float)
    row_clicked = Signal(int)

    _HOVER_PLACEHOLDER = "hover a cell to read its weight"

    def __init__(
        self, parent: QWidget | None = None, palette: Palette = LIGHT, font_size: float | None = None
    ) -> None:
        super().__init__(parent)
        self._theme = palette
        self._font_size = font_size if font_size is not None else default_font_size()
        self._weights = np.zeros((0, 0), dtype=np.float32)  # [T, T], row = query
        self._ticks_shown: tuple | None = None  # (left, bottom) ticks on the axes now
        self._labels: list[str] = []
        self._selected_row: int | None = None
        self._hovered: tuple[int, int] | None = None
        self._title = ""
        self._hover_text = ""
        self._compact = False  # the hover readout shares the title's row

        self.ci.setContentsMargins(6, 6, 6, 6)
        self._title_label = pg.LabelItem(justify="center")
        self._hover_label = pg.LabelItem(justify="left")
        self._bottom_axis = RotatedTickAxis()
        self._plot = pg.PlotItem(axisItems={"bottom": self._bottom_axis}, enableMenu=False)
        self.ci.addItem(self._title_label, row=0, col=0)
        self.ci.addItem(self._hover_label, row=1, col=0)
        self.ci.addItem(self._plot, row=2, col=0)

        plot = self._plot
        plot.invertY(True)  # query 0 at the top, like reading order
        plot.setMouseEnabled(x=False, y=False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setLabel("left", "query")
        plot.setLabel("bottom", "key")
        for name in ("left", "bottom"):  # token axes: no "(x0.001)" scale before there are tokens
            plot.getAxis(name).enableAutoSIPrefix(False)
        plot.getAxis("left").setStyle(autoExpandTextSpace=True)

        self._image = pg.ImageItem(axisOrder="row-major")
        self._mask = pg.ImageItem(axisOrder="row-major")  # RGBA overlay of the future keys
        self._mask.setZValue(1)
        self._selection = QGraphicsRectItem()
        self._selection.setZValue(2)
        self._selection.setVisible(False)
        plot.addItem(self._image)
        plot.addItem(self._mask)
        plot.vb.addItem(self._selection, ignoreBounds=True)

        self._color_bar = pg.ColorBarItem(
            values=(0.0, 1.0), colorMap=attention_colormap(), interactive=False, width=16
        )
        self._color_bar.setImageItem(self._image, insert_in=plot)

        plot.vb.sigResized.connect(self._update_ticks)
        plot.vb.sigResized.connect(self._update_compact)  # decided from the widget's height: no see-saw
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self._apply_style()

    # --- public API -------------------------------------------------------------------------
    def set_data(self, weights: np.ndarray, labels: Sequence[str]) -> None:
        """Show weights [T, T] in [0, 1] (row = query, column = key) with T token labels."""
        weights = np.asarray(weights, dtype=np.float32)  # [T, T]
        if weights.ndim != 2 or weights.shape[0] != weights.shape[1]:
            raise ValueError(f"weights must be square [T, T], got {weights.shape}")
        if len(labels) != weights.shape[0]:
            raise ValueError(f"{len(labels)} labels for {weights.shape[0]} tokens")
        t = weights.shape[0]
        resized = t != self._weights.shape[0]
        self._weights = weights
        self._labels = list(labels)
        self._image.setImage(weights, autoLevels=False, levels=(0.0, 1.0))
        if resized:
            self._mask.setImage(self._mask_rgba(t), autoLevels=False, levels=(0, 255))
            self._plot.setRange(xRange=(0, max(t, 1)), yRange=(0, max(t, 1)), padding=0)
        if self._selected_row is not None and self._selected_row >= t:
            self._selected_row = None
        self._hovered = None
        self._update_selection()
        self._update_ticks()
        self._update_compact()

    def set_selected_row(self, row: int | None) -> None:
        """Outline query row ``row`` (None: no outline)."""
        if row is not None and not 0 <= row < self._weights.shape[0]:
            raise IndexError(f"query row {row} out of range for {self._weights.shape[0]} tokens")
        self._selected_row = row
        self._update_selection()

    def selected_row(self) -> int | None:
        return self._selected_row

    def set_title(self, title: str) -> None:
        """Title above the plot, e.g. "layer 3 · head 5"."""
        self._title = title
        if self._compact and self._hover_text:
            return  # the hover readout has the row; the title comes back when the mouse leaves
        self._title_label.setText(html.escape(title) or "&nbsp;", color=self._theme.foreground,
                                  size=f"{self._font_size * 1.2:g}pt", bold=True)

    @property
    def compact(self) -> bool:
        """True while the hover readout shares the title's row (a short widget)."""
        return self._compact

    def _update_compact(self) -> None:
        """Give the hover readout its own row only when the query rows still get a line each."""
        t = len(self._labels)
        line = QFontMetricsF(make_font(self._font_size)).height()
        if not self._compact and self._hover_label.geometry().height() > 0:
            self._hover_row = self._hover_label.geometry().height()  # measured while it has its row
        hover_row = getattr(self, "_hover_row", line * 1.3)
        plot_height = self._plot.vb.height()
        if plot_height <= 0:
            return  # not laid out yet
        with_hover_row = plot_height - hover_row if self._compact else plot_height  # [px] the plot, hover row shown
        compact = t > 0 and with_hover_row < t * line * LABEL_SPACING
        if compact == self._compact:
            return
        self._compact = compact
        if compact:
            self.ci.removeItem(self._hover_label)
            self._hover_label.hide()
        else:
            self.ci.addItem(self._hover_label, row=1, col=0)
            self._hover_label.show()
        self._show_hover(self._hover_text)

    def set_palette(self, palette: Palette) -> None:
        self._theme = palette
        if self._weights.shape[0]:
            self._mask.setImage(self._mask_rgba(self._weights.shape[0]), autoLevels=False, levels=(0, 255))
        self._apply_style()

    def hover_text(self) -> str:
        """The plain text currently shown above the plot for the hovered cell ('' if none)."""
        return self._hover_text

    def cell_text(self, query: int, key: int) -> str:
        """Describe one cell: "query 'is' (11) → key ' France' (10): 0.412"."""
        q, k = self._labels[query], self._labels[key]
        value = "masked (future key)" if key > query else f"{self._weights[query, key]:.3f}"
        return f"query '{q}' ({query}) → key '{k}' ({key}): {value}"

    def cell_scene_pos(self, query: int, key: int) -> QPointF:
        """Scene position of a cell's centre (for tests and for placing annotations)."""
        return self._plot.vb.mapViewToScene(QPointF(key + 0.5, query + 0.5))

    @property
    def image_item(self) -> pg.ImageItem:
        """The weights image (read only)."""
        return self._image

    @property
    def mask_item(self) -> pg.ImageItem:
        """The RGBA causal-mask overlay (read only)."""
        return self._mask

    @property
    def selection_item(self) -> QGraphicsRectItem:
        return self._selection

    @property
    def plot_item(self) -> pg.PlotItem:
        return self._plot

    # --- internals --------------------------------------------------------------------------
    def _mask_rgba(self, t: int) -> np.ndarray:
        """[T, T, 4] uint8: the masked grey where key > query, fully transparent elsewhere."""
        colour = qcolor(self._theme.masked)
        rgba = np.zeros((t, t, 4), dtype=np.uint8)  # [T, T, RGBA]
        future = np.triu(np.ones((t, t), dtype=bool), k=1)  # [T, T]
        rgba[future] = (colour.red(), colour.green(), colour.blue(), 255)
        return rgba

    def _update_selection(self) -> None:
        row = self._selected_row
        self._selection.setVisible(row is not None)
        if row is not None:
            self._selection.setRect(QRectF(0, row, self._weights.shape[0], 1))

    def _update_ticks(self) -> None:
        t = len(self._labels)
        if t == 0:
            self._ticks_shown = None
            self._bottom_axis.set_token_ticks([])
            self._plot.getAxis("left").setTicks([[]])
            return
        view = self._plot.vb.viewRect()  # visible data rect
        size = self._plot.vb.size()
        line = QFontMetricsF(make_font(self._font_size)).height()
        step_y = tick_step(t, size.height() / max(view.height(), 1e-9), line)
        step_x = tick_step(t, size.width() / max(view.width(), 1e-9), line)
        ticks = (thinned_ticks(self._labels, step_y), thinned_ticks(self._labels, step_x))
        if ticks == self._ticks_shown:
            return  # new ticks make both axes lay out and paint their labels again: the costliest part
        self._ticks_shown = ticks
        self._plot.getAxis("left").setTicks([ticks[0]])
        self._bottom_axis.set_token_ticks(ticks[1])

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
        self._ticks_shown = None  # fonts may have changed: lay the ticks out again
        self._update_compact()
        self._update_ticks()

    def _show_hover(self, text: str) -> None:
        self._hover_text = text
        shown = html.escape(text) if text else self._HOVER_PLACEHOLDER
        colour = self._theme.foreground if text else self._theme.muted
        self._hover_label.setText(shown, color=colour, size=f"{self._font_size:g}pt")
        if self._compact:
            if text:
                self._title_label.setText(html.escape(text), color=self._theme.foreground,
                                          size=f"{self._font_size * 1.2:g}pt")
            else:
                self.set_title(self._title)


    def _cell_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        t = self._weights.shape[0]
        if t == 0 or not self._plot.vb.sceneBoundingRect().contains(scene_pos):
            return None
        pt = self._plot.vb.mapSceneToView(scene_pos)
        key, query = math.floor(pt.x()), math.floor(pt.y())
        if 0 <= query < t and 0 <= key < t:
            return query, key
        return None

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        cell = self._cell_at(scene_pos)
        if cell == self._hovered:
            return
        self._hovered = cell
        if cell is None:
            self._show_hover("")
            return
        query, key = cell
        self._show_hover(self.cell_text(query, key))
        self.cell_hovered.emit(query, key, float(self._weights[query, key]))
