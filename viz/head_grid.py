"""Every layer × head attention pattern at once, as one mosaic image.

One ImageItem for the whole grid (much faster than an item per head for 30 × 9
heads). Each thumbnail is the head's query × key matrix, subsampled to at most
``MAX_THUMB`` pixels a side for long sequences; future keys are greyed.

Layers run down and heads across, or — when the widget is wide, as 30 layers × 9 heads in a
wide panel are — layers across and heads down: whichever gives the larger square thumbnails
(30 × 9 in a 950 × 300 panel: 31 px thumbnails across, 10 px high the other way).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QGraphicsRectItem, QWidget

from viz.theme import LIGHT, Palette, Styled, attention_colormap, qcolor, style_plot_item

MAX_THUMB = 48  # pixels per thumbnail side
GAP = 1  # pixels between thumbnails (as a fraction of a thumbnail once scaled)


class HeadGrid(Styled, pg.GraphicsLayoutWidget):
    """Layers (rows) × heads (columns) of attention thumbnails. ``head_clicked(layer, head)``."""

    head_clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT, font_size: float = 9.0) -> None:
        super().__init__(parent)
        self.setBackground(palette.background)
        self._theme = palette
        self._cmap = attention_colormap()
        self._mosaic = np.zeros((0, 0), dtype=np.float32)  # [L*pitch, H*pitch] weights, NaN = gap/mask
        self._size = 0  # thumbnail side in pixels
        self._shape = (0, 0)  # (L, H)
        self.transposed = False  # True: layers across, heads down
        self._index = np.zeros(0, dtype=np.int64)  # which token each thumbnail pixel shows
        self._attention: np.ndarray | None = None  # [L, H, T, T] drawn, kept to redraw in a new palette or shape
        self._selected = (0, 0)  # (layer, head) outlined
        self._font_size = font_size
        self._plot = self.ci.addPlot()
        plot = self._plot
        plot.invertY(True)
        plot.setAspectLocked(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.getAxis("left").enableAutoSIPrefix(False)
        plot.getAxis("top").enableAutoSIPrefix(False)
        plot.setLabel("left", "layer")
        plot.setLabel("top", "head")
        plot.showAxis("top")
        plot.hideAxis("bottom")
        style_plot_item(plot, palette, font_size)
        self._image = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self._image)
        self._selection = QGraphicsRectItem()
        self._line_scale = 1.0
        self._selection.setPen(pg.mkPen(palette.selection, width=3, cosmetic=True))
        self._selection.setZValue(2)
        self._selection.setVisible(False)
        plot.vb.addItem(self._selection, ignoreBounds=True)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    @property
    def pitch(self) -> int:
        return self._size + GAP

    def set_attention(self, attention: np.ndarray) -> None:
        """Draw attention [L, H, T, T] (weights in [0, 1], row = query)."""
        a = np.asarray(attention)  # [L, H, T, T]
        self._attention = a
        n_layers, n_heads, t, _ = a.shape
        self.transposed = self._better_transposed(n_layers, n_heads)
        size = min(t, MAX_THUMB)
        index = np.linspace(0, t - 1, size).round().astype(np.int64) if t else np.zeros(0, np.int64)  # [s]
        thumbs = a[:, :, index][:, :, :, index].astype(np.float32)  # [L, H, s, s]
        future = index[None, :] > index[:, None]  # [s, s] key after query
        thumbs[:, :, future] = np.nan
        if self.transposed:
            thumbs = thumbs.transpose(1, 0, 2, 3)  # [H, L, s, s]: rows are heads
        n_rows, n_cols = thumbs.shape[:2]
        pitch = size + GAP
        mosaic = np.full((n_rows * pitch, n_cols * pitch), np.nan, dtype=np.float32)
        view = mosaic.reshape(n_rows, pitch, n_cols, pitch)
        view[:, :size, :, :size] = thumbs.transpose(0, 2, 1, 3)
        self._mosaic, self._size, self._shape, self._index = mosaic, size, (n_layers, n_heads), index
        rgba = self._cmap.map(np.nan_to_num(np.clip(mosaic, 0, 1)), mode="byte")  # [Y, X, 4]
        gaps = np.isnan(mosaic)
        rgba[gaps] = qcolor(self._theme.masked).getRgb()
        rgba[view_gaps(n_rows, n_cols, size)] = qcolor(self._theme.background).getRgb()
        self._image.setImage(rgba, autoLevels=False, levels=(0, 255))
        self._plot.setRange(xRange=(0, n_cols * pitch), yRange=(0, n_rows * pitch), padding=0.01)
        rows_name, cols_name = ("head", "layer") if self.transposed else ("layer", "head")
        self._plot.setLabel("left", rows_name)
        self._plot.setLabel("top", cols_name)
        self._plot.getAxis("left").setTicks([[(r * pitch + size / 2, str(r)) for r in range(n_rows)]])
        self._plot.getAxis("top").setTicks([[(c * pitch + size / 2, str(c)) for c in range(n_cols)]])

    def _better_transposed(self, n_layers: int, n_heads: int) -> bool:
        """Layers across when that makes each thumbnail's shorter side longer in this widget."""
        width, height = max(self.width() - 50, 1), max(self.height() - 40, 1)  # less the axes
        down = min(width / max(n_heads, 1), height / max(n_layers, 1))
        across = min(width / max(n_layers, 1), height / max(n_heads, 1))
        return across > down * 1.1  # a clear gain only: no flipping back and forth at the edge

    def _cell(self, layer: int, head: int) -> tuple[int, int]:
        """(row, column) of a head's thumbnail in the mosaic."""
        return (head, layer) if self.transposed else (layer, head)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if getattr(self, "_attention", None) is not None and self._better_transposed(*self._shape) != self.transposed:
            self.set_attention(self._attention)
            if self._selection.isVisible():
                self.set_selected(*self._selected)

    def thumbnail(self, layer: int, head: int) -> np.ndarray:
        """[s, s] the weights drawn for one head (NaN above the diagonal)."""
        p, s = self.pitch, self._size
        row, col = self._cell(layer, head)
        return self._mosaic[row * p : row * p + s, col * p : col * p + s]

    @property
    def sample_index(self) -> np.ndarray:
        """[s] which token each thumbnail row/column shows (all of them when T <= MAX_THUMB)."""
        return self._index

    def set_selected(self, layer: int, head: int) -> None:
        p, s = self.pitch, self._size
        self._selected = (layer, head)
        row, col = self._cell(layer, head)
        self._selection.setRect(QRectF(col * p, row * p, s, s))
        self._selection.setVisible(self._size > 0)

    def _apply_style(self) -> None:
        """Page, gaps, mask, axes and the selection outline in the theme, font and line scale (`Styled`)."""
        self.setBackground(self._theme.background)
        style_plot_item(self._plot, self._theme, self._font_size, self._line_scale)
        self._selection.setPen(pg.mkPen(self._theme.selection, width=3 * self._line_scale, cosmetic=True))
        if self._attention is not None:
            self.set_attention(self._attention)

    def head_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        if self._size == 0:
            return None
        point = self._plot.vb.mapSceneToView(scene_pos)
        row, col = int(point.y() // self.pitch), int(point.x() // self.pitch)
        layer, head = (col, row) if self.transposed else (row, col)
        if 0 <= layer < self._shape[0] and 0 <= head < self._shape[1] and point.x() >= 0 and point.y() >= 0:
            return layer, head
        return None

    def head_center(self, layer: int, head: int) -> QPointF:
        """Widget coordinates of a thumbnail's centre (for tests and keyboard focus)."""
        p, s = self.pitch, self._size
        row, col = self._cell(layer, head)
        scene = self._plot.vb.mapViewToScene(QPointF(col * p + s / 2, row * p + s / 2))
        return QPointF(self.mapFromScene(scene))

    def _on_mouse_clicked(self, event: object) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        found = self.head_at(event.scenePos())
        if found is not None:
            self.set_selected(*found)
            self.head_clicked.emit(*found)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and self.head_at(
                self.mapToScene(event.position().toPoint())) is not None:
            event.accept()


def view_gaps(n_rows: int, n_cols: int, size: int) -> np.ndarray:
    """[rows*pitch, cols*pitch] bool: the separator pixels between thumbnails."""
    pitch = size + GAP
    rows = (np.arange(n_rows * pitch) % pitch) >= size
    cols = (np.arange(n_cols * pitch) % pitch) >= size
    return rows[:, None] | cols[None, :]
