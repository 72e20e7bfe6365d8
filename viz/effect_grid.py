"""A grid of signed effects with named rows and columns: the ablation scan's layer × head drops, its
per-layer strips (attention, MLP), and activation patching's layer × position restoration.

One ImageItem on a diverging map centred on zero (red: the change costs the target, blue: it helps),
the biggest effects outlined so they are found at a glance, a hover readout in the title, and
``cell_clicked(row, col)`` for the panel to act on (ablate that head, select that layer and token).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QGraphicsRectItem, QWidget

from viz.theme import LIGHT, Palette, Styled, default_font_size, diverging_colormap, qcolor, style_plot_item

MAX_TICKS = 40  # labels per axis before they are thinned


def _ticks(labels: Sequence[str]) -> list[tuple[float, str]]:
    step = max(1, int(np.ceil(len(labels) / MAX_TICKS)))
    return [(i + 0.5, label) for i, label in enumerate(labels) if i % step == 0]


class EffectGrid(Styled, pg.GraphicsLayoutWidget):
    """rows × cols of signed values; ``cell_clicked(row, col)``, ``cell_hovered(row, col, value)``."""

    cell_clicked = Signal(int, int)
    cell_hovered = Signal(int, int, float)

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT, font_size: float | None = None,
                 highlight: int = 5) -> None:
        super().__init__(parent)
        self._theme = palette
        self._font_size = font_size or default_font_size()
        self._values = np.zeros((0, 0), dtype=np.float32)
        self._rows: list[str] = []
        self._cols: list[str] = []
        self._title = ""
        self._unit = ""
        self._scale: float | None = None
        self._highlight = highlight
        self._outlines: list[QGraphicsRectItem] = []
        self._hovered: tuple[int, int] | None = None
        self._plot = self.ci.addPlot()
        plot = self._plot
        plot.invertY(True)
        plot.setMouseEnabled(x=False, y=False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.showAxis("top")
        plot.hideAxis("bottom")
        self._image = pg.ImageItem(axisOrder="row-major")
        self._image.setLookupTable(diverging_colormap(palette).getLookupTable(nPts=256))
        plot.addItem(self._image)
        self.scene().sigMouseMoved.connect(self._on_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self._apply_style()

    # -- data ------------------------------------------------------------------------------------

    def set_data(self, values: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str],
                 title: str = "", unit: str = "", scale: float | None = None,
                 row_axis: str = "", col_axis: str = "") -> None:
        """values [rows, cols] (NaN: nothing there); the colours run over ±scale (default: the largest |value|)."""
        values = np.asarray(values, dtype=np.float32)
        if values.shape != (len(row_labels), len(col_labels)):
            raise ValueError(f"values {values.shape} do not match {len(row_labels)} × {len(col_labels)} labels")
        self._values, self._rows, self._cols = values, list(row_labels), list(col_labels)
        self._title, self._unit, self._scale = title, unit, scale
        finite = values[np.isfinite(values)]
        limit = scale if scale else (float(np.abs(finite).max()) if finite.size else 1.0) or 1.0
        shown = np.nan_to_num(values, nan=0.0)
        self._image.setImage(shown, levels=(-limit, limit), autoLevels=False)
        self._image.setRect(QRectF(0, 0, values.shape[1], values.shape[0]))
        self._plot.setLabel("left", row_axis)
        self._plot.setLabel("top", col_axis)
        self._plot.getAxis("left").setTicks([_ticks(self._rows)])
        self._plot.getAxis("top").setTicks([_ticks(self._cols)])
        self._plot.setRange(xRange=(0, max(1, values.shape[1])), yRange=(0, max(1, values.shape[0])), padding=0)
        self._draw_outlines()
        self._set_title(title)

    def values(self) -> np.ndarray:
        return self._values

    def top_cells(self) -> list[tuple[int, int]]:
        """The cells outlined: the `highlight` largest values (the biggest effects), largest first."""
        values = np.where(np.isfinite(self._values), self._values, -np.inf)
        if values.size == 0:
            return []
        order = np.argsort(values, axis=None)[::-1][: self._highlight]
        cols = values.shape[1]
        return [(int(i // cols), int(i % cols)) for i in order if np.isfinite(values.flat[i])]

    def cell_text(self, row: int, col: int) -> str:
        value = float(self._values[row, col])
        return f"{self._rows[row]} · {self._cols[col]}: {value:+.3f}{self._unit}"

    def cell_center(self, row: int, col: int) -> QPointF:
        """Scene position of a cell's centre (tests click there)."""
        return self._plot.vb.mapViewToScene(QPointF(col + 0.5, row + 0.5))

    # -- drawing ---------------------------------------------------------------------------------

    def _draw_outlines(self) -> None:
        for item in self._outlines:
            self._plot.removeItem(item)
        self._outlines = []
        for row, col in self.top_cells():
            rect = QGraphicsRectItem(QRectF(col, row, 1, 1))
            rect.setPen(self.pen(qcolor(self._theme.selection), 2.0))
            rect.setBrush(Qt.BrushStyle.NoBrush)
            self._plot.addItem(rect)
            self._outlines.append(rect)

    def _set_title(self, text: str) -> None:
        self._plot.setTitle(text, color=self._theme.foreground, size=f"{self._font_size:.0f}pt")

    def _apply_style(self) -> None:
        self.setBackground(self._theme.background)
        style_plot_item(self._plot, self._theme, self._font_size, self._line_scale)
        self._image.setLookupTable(diverging_colormap(self._theme).getLookupTable(nPts=256))
        self._draw_outlines()
        self._set_title(self._title)

    # -- mouse -----------------------------------------------------------------------------------

    def _cell_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        if self._values.size == 0:
            return None
        view = self._plot.vb.mapSceneToView(scene_pos)
        row, col = int(np.floor(view.y())), int(np.floor(view.x()))
        if 0 <= row < self._values.shape[0] and 0 <= col < self._values.shape[1]:
            return row, col
        return None

    def _on_moved(self, scene_pos: QPointF) -> None:
        cell = self._cell_at(scene_pos)
        if cell is None or cell == self._hovered:
            return
        self._hovered = cell
        self._set_title(f"{self._title} — {self.cell_text(*cell)}" if self._title else self.cell_text(*cell))
        self.cell_hovered.emit(cell[0], cell[1], float(self._values[cell]))

    def _on_mouse_clicked(self, event: object) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        cell = self._cell_at(event.scenePos())
        if cell is not None:
            self.cell_clicked.emit(*cell)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and self._cell_at(
                self.mapToScene(event.position().toPoint())) is not None:
            event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        if self._cell_at(self.mapToScene(event.position().toPoint())) is not None:
            event.accept()
