"""Drawings for the inside of a block: bar charts of numbers, step-time lines, the anatomy diagram.

Arrays and strings in, widgets out; nothing here knows about models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from viz.theme import LIGHT, Palette, make_font, qcolor, style_plot_item

# Okabe-Ito (colour-blind safe): attention blue, MLP orange, a third series green.
SERIES_COLOURS = ("#0072B2", "#E69F00", "#009E73")


def _plain_plot(plot: pg.PlotItem, palette: Palette) -> None:
    plot.setMouseEnabled(x=False, y=False)
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.showGrid(y=True, alpha=0.15)
    style_plot_item(plot, palette, 9.0)


class SignedBars(pg.PlotWidget):
    """One bar per value, red positive and blue negative (e.g. every neuron of an MLP)."""

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT) -> None:
        super().__init__(parent, background=palette.background)
        self._theme = palette
        self._values = np.zeros(0, dtype=np.float32)  # [n]
        plot = self.getPlotItem()
        _plain_plot(plot, palette)
        self._bars = pg.BarGraphItem(x=[], height=[], width=1.0)
        plot.addItem(self._bars)
        plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen(palette.muted)), ignoreBounds=True)

    def set_values(self, values: np.ndarray, x_label: str = "", y_label: str = "") -> None:
        """values [n]: bar heights in the given order."""
        values = np.asarray(values, dtype=np.float32).reshape(-1)  # [n]
        self._values = values
        x = np.arange(len(values))
        brushes = [qcolor(self._theme.positive if v >= 0 else self._theme.negative) for v in values]
        self._bars.setOpts(x=x, height=values, width=1.0 if len(values) > 200 else 0.8, brushes=brushes,
                           pen=pg.mkPen(None))
        plot = self.getPlotItem()
        plot.setLabel("bottom", x_label)
        plot.setLabel("left", y_label)
        plot.setXRange(-0.5, max(len(values), 1) - 0.5, padding=0.01)
        if len(values):
            top = float(np.abs(values).max()) or 1.0
            plot.setYRange(min(0.0, float(values.min())) - 0.05 * top, max(0.0, float(values.max())) + 0.05 * top,
                           padding=0)

    def values(self) -> np.ndarray:
        return self._values


class GroupedBars(pg.PlotWidget):
    """Two or three series side by side per category, with a legend (e.g. ‖attn‖ vs ‖MLP‖ per layer)."""

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT) -> None:
        super().__init__(parent, background=palette.background)
        self._theme = palette
        self._series: dict[str, np.ndarray] = {}
        plot = self.getPlotItem()
        _plain_plot(plot, palette)
        self._legend = plot.addLegend(offset=(-10, 5), labelTextColor=palette.foreground,
                                      brush=pg.mkBrush(255, 255, 255, 210))  # top right, over a light box
        self._items: list[pg.BarGraphItem] = []
        plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen(palette.muted)), ignoreBounds=True)

    def set_series(self, categories: Sequence[str], series: dict[str, np.ndarray], x_label: str = "",
                   y_label: str = "", highlight: int | None = None) -> None:
        """series: name -> [C] values, drawn as C groups of len(series) bars."""
        plot = self.getPlotItem()
        for item in self._items:
            plot.removeItem(item)
        self._legend.clear()
        self._items = []
        self._series = {k: np.asarray(v, dtype=np.float32) for k, v in series.items()}
        n = max(len(self._series), 1)
        width = 0.8 / n
        x = np.arange(len(categories), dtype=np.float64)
        for j, (name, values) in enumerate(self._series.items()):
            colour = SERIES_COLOURS[j % len(SERIES_COLOURS)]
            pens = None
            if highlight is not None:
                pens = [pg.mkPen(self._theme.selection, width=2) if i == highlight else pg.mkPen(None)
                        for i in range(len(values))]
            item = pg.BarGraphItem(x=x - 0.4 + width * (j + 0.5), height=values, width=width,
                                   brush=qcolor(colour), pens=pens, pen=None if pens else pg.mkPen(None),
                                   name=name)
            plot.addItem(item)  # the legend picks the item up by its name
            self._items.append(item)
        axis = plot.getAxis("bottom")
        step = max(1, len(categories) // 16)
        axis.setTicks([[(i, str(c)) for i, c in enumerate(categories) if i % step == 0]])
        plot.setLabel("bottom", x_label)
        plot.setLabel("left", y_label)
        plot.setXRange(-0.6, max(len(categories), 1) - 0.4, padding=0)
        top = max((float(np.nanmax(v)) for v in self._series.values() if len(v)), default=1.0)
        bottom = min((float(np.nanmin(v)) for v in self._series.values() if len(v)), default=0.0)
        plot.setYRange(min(0.0, bottom) * 1.05, max(top, 1e-9) * 1.12, padding=0)

    def series(self) -> dict[str, np.ndarray]:
        return dict(self._series)


class StepLines(pg.PlotWidget):
    """A line per method over steps (e.g. milliseconds per generated token)."""

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT) -> None:
        super().__init__(parent, background=palette.background)
        self._lines: dict[str, np.ndarray] = {}
        plot = self.getPlotItem()
        _plain_plot(plot, palette)
        self._legend = plot.addLegend(offset=(10, 5), labelTextColor=palette.foreground)

    def set_lines(self, lines: dict[str, np.ndarray], x_label: str = "", y_label: str = "") -> None:
        plot = self.getPlotItem()
        plot.clear()
        self._legend.clear()
        self._lines = {k: np.asarray(v, dtype=np.float64) for k, v in lines.items()}
        for j, (name, values) in enumerate(self._lines.items()):
            colour = SERIES_COLOURS[j % len(SERIES_COLOURS)]
            plot.plot(np.arange(1, len(values) + 1), values, pen=pg.mkPen(colour, width=2), name=name,
                      symbol="o", symbolSize=4, symbolBrush=colour, symbolPen=None)
        plot.setLabel("bottom", x_label)
        plot.setLabel("left", y_label)
        plot.enableAutoRange()

    def lines(self) -> dict[str, np.ndarray]:
        return dict(self._lines)


@dataclass(frozen=True)
class DiagramBox:
    """One box of the anatomy diagram."""

    key: str  # what a click reports
    title: str
    detail: str  # shapes and counts
    kind: str  # "embed", "norm", "attention", "mlp", "add", "unembed"
    tooltip: str = ""  # the full shapes, when the detail line is cut short


_KIND_COLOURS = {
    "embed": "#CFE3F3", "norm": "#E8E8E8", "attention": "#F9D9A8", "mlp": "#CDEBDD", "add": "#FFFFFF",
    "unembed": "#E7D4EA",
}


class _ClickableBox(QGraphicsRectItem):
    def __init__(self, rect: QRectF, key: str, on_click) -> None:
        super().__init__(rect)
        self.key = key
        self._on_click = on_click
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAcceptHoverEvents(True)

    def mousePressEvent(self, event) -> None:
        self._on_click(self.key)
        event.accept()


class AnatomyDiagram(QGraphicsView):
    """Stacked boxes, bottom to top like the residual stream: embedding -> N × block -> unembedding.

    The repeated block is drawn once inside a frame labelled "× N". Clicking a box emits
    ``part_clicked(key)``.
    """

    part_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT) -> None:
        super().__init__(parent)
        self._theme = palette
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setBackgroundBrush(QBrush(QColor(palette.background)))
        self._boxes: dict[str, QGraphicsRectItem] = {}

    def set_boxes(self, before: Sequence[DiagramBox], block: Sequence[DiagramBox], after: Sequence[DiagramBox],
                  repeat_label: str) -> None:
        """Draw `before`, the repeated `block`, then `after`, from the top (output) down to the input."""
        self._scene.clear()
        self._boxes = {}
        width, height, gap = 560.0, 36.0, 5.0
        title_font, detail_font = make_font(10, bold=True), make_font(8.5)
        pen = QPen(QColor(self._theme.foreground))
        y = 0.0

        def draw(box: DiagramBox, x: float, w: float) -> None:
            nonlocal y
            h = 20.0 if box.kind == "add" else height
            rect = QRectF(x, y, w, h)
            item = _ClickableBox(rect, box.key, self.part_clicked.emit)
            item.setBrush(QBrush(QColor(_KIND_COLOURS.get(box.kind, "#FFFFFF"))))
            item.setPen(pen)
            item.setToolTip(f"{box.title}\n{box.tooltip or box.detail}\n(click to open its view)")
            self._scene.addItem(item)
            if box.key not in self._boxes:
                self._boxes[box.key] = item
            title = QGraphicsSimpleTextItem(box.title, item)
            title.setFont(title_font)
            title.setPos(x + 8, y + (2 if box.kind == "add" else 1))
            if box.detail:
                detail = QGraphicsSimpleTextItem(box.detail, item)
                detail.setFont(detail_font)
                detail.setBrush(QBrush(QColor("#333333")))
                detail.setPos(x + 8, y + 18)
            y += h + gap

        # Top of the picture = output, as the data flows upwards in most diagrams of the residual stream.
        for box in reversed(list(after)):
            draw(box, 0, width)
        frame_top = y
        y += 20
        for box in reversed(list(block)):
            draw(box, 30, width - 60)
        frame = QGraphicsRectItem(QRectF(15, frame_top, width - 30, y - frame_top))
        frame.setPen(QPen(QColor(self._theme.muted), 1.5, Qt.PenStyle.DashLine))
        frame.setZValue(-1)
        self._scene.addItem(frame)
        label = QGraphicsSimpleTextItem(repeat_label)
        label.setFont(title_font)
        label.setBrush(QBrush(QColor(self._theme.foreground)))
        label.setPos(24, frame_top + 2)
        self._scene.addItem(label)
        y += gap
        for box in reversed(list(before)):
            draw(box, 0, width)
        self._scene.setSceneRect(self._scene.itemsBoundingRect().adjusted(-10, -10, 10, 10))
        self.fitInView(self._scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def box_keys(self) -> list[str]:
        return list(self._boxes)

    def box_rect(self, key: str) -> QRectF:
        return self._boxes[key].sceneBoundingRect()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._scene.items():
            self.fitInView(self._scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
