"""Drawings for the inside of a block: bar charts of numbers, step-time lines, the anatomy diagram.

Arrays and strings in, widgets out; nothing here knows about models.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from viz.attention_heatmap import RotatedTickAxis, shorten, tick_step
from viz.theme import (
    LIGHT,
    Palette,
    Styled,
    blend,
    default_font_size,
    make_font,
    qcolor,
    set_plot_title,
    style_plot_item,
)

# Okabe-Ito (colour-blind safe): attention blue, MLP orange, a third series green.
SERIES_COLOURS = ("#0072B2", "#E69F00", "#009E73")


def series_key(names: Sequence[str]) -> str:
    """A one-line legend: a coloured square before each series name, in SERIES_COLOURS order.

    Drawn as the plot's title, above the data, so it can never cover a bar or a line.
    """
    return "&nbsp;&nbsp;&nbsp;".join(
        f"<span style='color:{SERIES_COLOURS[j % len(SERIES_COLOURS)]}'>■</span>&nbsp;{html.escape(name)}"
        for j, name in enumerate(names))


class CategoryAxis(RotatedTickAxis):
    """A bottom axis of category names: side by side while they fit, read bottom-to-top when they
    would collide (so a few long names such as tokens all keep their label), and only then every n-th."""

    def __init__(self) -> None:
        super().__init__()
        self.rotated = False

    def set_category_ticks(self, ticks: list[tuple[float, str]], rotated: bool) -> None:
        self.rotated = rotated
        if rotated:
            self.set_token_ticks(ticks)
        else:
            self._ticks = ticks
            self.setTicks([ticks])
            self.setHeight(None)  # pyqtgraph's own height for one line of labels

    def _fit_height(self) -> None:
        if self.rotated:
            super()._fit_height()

    def drawPicture(self, p: QPainter, axisSpec: object, tickSpecs: object, textSpecs: object) -> None:
        if self.rotated:
            super().drawPicture(p, axisSpec, tickSpecs, textSpecs)
        else:
            pg.AxisItem.drawPicture(self, p, axisSpec, tickSpecs, textSpecs)


class _BlockPlot(Styled, pg.PlotWidget):
    """A fixed (no zoom, no menu) plot that redraws its data in ``_draw`` whenever its style changes."""

    _draw: Callable[[], None]  # each chart's own: draw its data in the current style

    def __init__(self, parent: QWidget | None, palette: Palette, font_size: float | None,
                 axis_items: dict | None = None) -> None:
        super().__init__(parent, background=palette.background, enableMenu=False, axisItems=axis_items)
        self._theme = palette
        self._font_size = font_size if font_size is not None else default_font_size()
        self._axis_labels = ("", "")
        plot = self.getPlotItem()
        plot.setMouseEnabled(x=False, y=False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.showGrid(y=True, alpha=0.15)

    def _set_axis_labels(self, x_label: str, y_label: str) -> None:
        self._axis_labels = (x_label, y_label)
        style = {"color": self._theme.foreground, "font-size": f"{self._font_size:g}pt"}
        self.getPlotItem().setLabel("bottom", x_label, **style)
        self.getPlotItem().setLabel("left", y_label, **style)

    def _apply_style(self) -> None:
        self.setBackground(self._theme.background)
        style_plot_item(self.getPlotItem(), self._theme, self._font_size, self._line_scale)
        self._draw()


class SignedBars(_BlockPlot):
    """One bar per value, red positive and blue negative (e.g. every neuron of an MLP)."""

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT,
                 font_size: float | None = None) -> None:
        super().__init__(parent, palette, font_size)
        self._values = np.zeros(0, dtype=np.float32)  # [n]
        self._bars = pg.BarGraphItem(x=[], height=[], width=1.0)
        self._zero = pg.InfiniteLine(pos=0, angle=0)
        self.getPlotItem().addItem(self._bars)
        self.getPlotItem().addItem(self._zero, ignoreBounds=True)
        self._apply_style()

    def set_values(self, values: np.ndarray, x_label: str = "", y_label: str = "") -> None:
        """values [n]: bar heights in the given order."""
        self._values = np.asarray(values, dtype=np.float32).reshape(-1)  # [n]
        self._axis_labels = (x_label, y_label)
        self._draw()

    def values(self) -> np.ndarray:
        return self._values

    def _draw(self) -> None:
        values = self._values  # [n]
        self._zero.setPen(self.pen(self._theme.muted))
        colours = [qcolor(self._theme.positive if v >= 0 else self._theme.negative) for v in values]
        # An outline in the bar's colour keeps every bar at least a pixel wide: 1,536 neurons in
        # 600 px would otherwise lose single spikes (often the strongest neuron) to rounding.
        self._bars.setOpts(x=np.arange(len(values)), height=values, width=1.0 if len(values) > 200 else 0.8,
                           brushes=colours, pens=[self.pen(c) for c in colours] or None, pen=None)
        self._set_axis_labels(*self._axis_labels)
        plot = self.getPlotItem()
        plot.setXRange(-0.5, max(len(values), 1) - 0.5, padding=0.01)
        if len(values):
            top = float(np.abs(values).max()) or 1.0
            plot.setYRange(min(0.0, float(values.min())) - 0.05 * top, max(0.0, float(values.max())) + 0.05 * top,
                           padding=0)


class GroupedBars(_BlockPlot):
    """Two or three series side by side per category, keyed above the plot (e.g. ‖attn‖ vs ‖MLP‖ per layer)."""

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT,
                 font_size: float | None = None) -> None:
        axis = CategoryAxis()
        super().__init__(parent, palette, font_size, axis_items={"bottom": axis})
        self._axis = axis
        self._categories: list[str] = []
        self._series: dict[str, np.ndarray] = {}
        self._highlight: int | None = None
        self._ticks: list[tuple[int, str]] = []
        self._items: list[pg.BarGraphItem] = []
        self._zero = pg.InfiniteLine(pos=0, angle=0)
        self.getPlotItem().addItem(self._zero, ignoreBounds=True)
        self.getPlotItem().vb.sigResized.connect(self._update_ticks)
        self._apply_style()

    def set_series(self, categories: Sequence[str], series: dict[str, np.ndarray], x_label: str = "",
                   y_label: str = "", highlight: int | None = None) -> None:
        """series: name -> [C] values, drawn as C groups of len(series) bars; ``highlight`` outlines one group."""
        self._categories = [str(c) for c in categories]
        self._series = {k: np.asarray(v, dtype=np.float32) for k, v in series.items()}
        self._axis_labels, self._highlight = (x_label, y_label), highlight
        self._draw()

    def series(self) -> dict[str, np.ndarray]:
        return dict(self._series)

    def key_text(self) -> str:
        """The legend line drawn above the plot (HTML)."""
        return series_key(list(self._series))

    def tick_labels(self) -> list[str]:
        """The category labels the x axis shows now (every one, or every n-th when they would collide)."""
        return [text for _, text in self._ticks]

    def is_rotated(self) -> bool:
        """The category labels read bottom-to-top (they would collide side by side)."""
        return self._axis.rotated

    def _update_ticks(self) -> None:
        """Label every category side by side when the labels fit; else turned to read bottom-to-top;
        else every n-th, so labels never run together."""
        n, width = len(self._categories), self.getPlotItem().vb.width()
        fm = QFontMetricsF(make_font(self._font_size))
        widest = max((fm.horizontalAdvance(c) for c in self._categories), default=0.0) + fm.horizontalAdvance("  ")
        if width <= 0 or n * widest <= width:  # not laid out yet, or every label fits as it is
            step = 1 if width > 0 else max(1, n // 16)
            rotated = False
        else:
            step = tick_step(n, width / n, fm.height())
            rotated = True
        self._ticks = [(i, c if not rotated else shorten(c)) for i, c in enumerate(self._categories) if i % step == 0]
        self._axis.set_category_ticks(self._ticks, rotated)

    def _draw(self) -> None:
        plot = self.getPlotItem()
        for item in self._items:
            plot.removeItem(item)
        self._items = []
        self._zero.setPen(self.pen(self._theme.muted))
        n = max(len(self._series), 1)
        width = 0.8 / n
        x = np.arange(len(self._categories), dtype=np.float64)  # [C]
        for j, values in enumerate(self._series.values()):
            colour = SERIES_COLOURS[j % len(SERIES_COLOURS)]
            pens = None
            if self._highlight is not None:
                pens = [self.pen(self._theme.selection, 2) if i == self._highlight else pg.mkPen(None)
                        for i in range(len(values))]
            item = pg.BarGraphItem(x=x - 0.4 + width * (j + 0.5), height=values, width=width,
                                   brush=qcolor(colour), pens=pens, pen=None if pens else pg.mkPen(None))
            plot.addItem(item)
            self._items.append(item)
        set_plot_title(plot, self.key_text(), self._theme, self._font_size)
        self._update_ticks()
        self._set_axis_labels(*self._axis_labels)
        plot.setXRange(-0.6, max(len(self._categories), 1) - 0.4, padding=0)
        top = max((float(np.nanmax(v)) for v in self._series.values() if len(v)), default=1.0)
        bottom = min((float(np.nanmin(v)) for v in self._series.values() if len(v)), default=0.0)
        plot.setYRange(min(0.0, bottom) * 1.05, max(top, 1e-9) * 1.05, padding=0)


class StepLines(_BlockPlot):
    """A line per method over steps (e.g. milliseconds per generated token), from zero up."""

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT,
                 font_size: float | None = None) -> None:
        super().__init__(parent, palette, font_size)
        self._lines: dict[str, np.ndarray] = {}
        self._apply_style()

    def set_lines(self, lines: dict[str, np.ndarray], x_label: str = "", y_label: str = "") -> None:
        """lines: name -> values [n] for steps 1..n."""
        self._lines = {k: np.asarray(v, dtype=np.float64) for k, v in lines.items()}
        self._axis_labels = (x_label, y_label)
        self._draw()

    def lines(self) -> dict[str, np.ndarray]:
        return dict(self._lines)

    def key_text(self) -> str:
        """The legend line drawn above the plot (HTML)."""
        return series_key(list(self._lines))

    def _draw(self) -> None:
        plot = self.getPlotItem()
        plot.clear()
        for j, values in enumerate(self._lines.values()):
            colour = SERIES_COLOURS[j % len(SERIES_COLOURS)]
            plot.plot(np.arange(1, len(values) + 1), values, pen=self.pen(colour, 2),
                      symbol="o", symbolSize=5 * self._line_scale, symbolBrush=colour, symbolPen=None)
        set_plot_title(plot, self.key_text(), self._theme, self._font_size)
        self._set_axis_labels(*self._axis_labels)
        # From zero, so the gap between the lines reads as a ratio rather than being zoomed into.
        n = max((len(v) for v in self._lines.values()), default=1)
        top = max((float(np.nanmax(v)) for v in self._lines.values() if len(v)), default=1.0)
        plot.setXRange(0.5, max(n, 1) + 0.5, padding=0)
        plot.setYRange(0.0, max(top, 1e-9) * 1.08, padding=0)


@dataclass(frozen=True)
class DiagramBox:
    """One box of the anatomy diagram."""

    key: str  # what a click reports
    title: str
    detail: str  # shapes and counts; one line each, separated by "\n"
    kind: str  # "embed", "norm", "attention", "mlp", "add", "unembed"
    tooltip: str = ""  # the full shapes, when the detail line is cut short
    experts: int = 0  # a mixture of experts: one small tile per expert under the text (the router feeds them)
    shared_experts: int = 0  # experts every token uses, drawn as outlined tiles after the routed ones


MAX_TILES = 16  # expert tiles drawn in a box; more experts end in "… N"
_TILE = 14.0  # px: an expert tile's side

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
        self._drawn: tuple | None = None  # the set_boxes arguments, to redraw in a new palette
        self._tiles: dict[str, int] = {}  # box key -> expert tiles drawn (the "… N" marker not counted)

    def set_palette(self, palette: Palette) -> None:
        """Page, boxes and text in this theme's colours (pastel boxes turn dark on a dark page)."""
        self._theme = palette
        self.setBackgroundBrush(QBrush(QColor(palette.background)))
        if self._drawn is not None:
            self.set_boxes(*self._drawn)

    def box_fill(self, kind: str) -> QColor:
        """The fill of a box of this kind in the current palette."""
        colour = QColor(_KIND_COLOURS.get(kind, "#FFFFFF"))
        if QColor(self._theme.background).lightnessF() < 0.5:
            return blend(colour, self._theme.background, 0.72)
        return colour

    def set_boxes(self, before: Sequence[DiagramBox], block: Sequence[DiagramBox], after: Sequence[DiagramBox],
                  repeat_label: str) -> None:
        """Draw `before`, the repeated `block`, then `after`, from the top (output) down to the input."""
        self._drawn = (tuple(before), tuple(block), tuple(after), repeat_label)
        self._scene.clear()
        self._boxes = {}
        self._tiles = {}
        gap = 5.0
        title_font, detail_font = make_font(10, bold=True), make_font(8.5)
        line = QFontMetricsF(detail_font).lineSpacing()  # px per detail line
        # As wide as the longest text needs (block boxes are inset by 30 a side), so the view's
        # fit-to-width scale is as large as it can be.
        texts = [(title_font, b.title) for b in (*before, *block, *after)] + [(title_font, repeat_label)]
        texts += [(detail_font, t) for b in (*before, *block, *after) for t in b.detail.split("\n")]
        width = max(360.0, max(QFontMetricsF(f).horizontalAdvance(t) for f, t in texts) + 16 + 60)
        pen = QPen(QColor(self._theme.foreground))
        y = 0.0

        def draw(box: DiagramBox, x: float, w: float) -> None:
            nonlocal y
            h = 20.0 if box.kind == "add" else 22.0 + line * (box.detail.count("\n") + 1 if box.detail else 0)
            if box.experts:
                h += _TILE + 8
            rect = QRectF(x, y, w, h)
            item = _ClickableBox(rect, box.key, self.part_clicked.emit)
            item.setBrush(QBrush(self.box_fill(box.kind)))
            item.setPen(pen)
            item.setToolTip(f"{box.title}\n{box.tooltip or box.detail}\n(click to open its view)")
            self._scene.addItem(item)
            if box.key not in self._boxes:
                self._boxes[box.key] = item
            title = QGraphicsSimpleTextItem(box.title, item)
            title.setFont(title_font)
            title.setBrush(QBrush(QColor(self._theme.foreground)))
            title.setPos(x + 8, y + (2 if box.kind == "add" else 1))
            if box.detail:
                detail = QGraphicsSimpleTextItem(box.detail, item)
                detail.setFont(detail_font)
                detail.setBrush(QBrush(QColor(self._theme.foreground)))
                detail.setPos(x + 8, y + 18)
            if box.experts:
                self._draw_tiles(item, box, x + 8, y + h - _TILE - 6, w - 16)
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

    def _draw_tiles(self, parent: QGraphicsRectItem, box: DiagramBox, x: float, y: float, width: float) -> None:
        """One tile per expert (up to MAX_TILES, then "… N"), shared experts outlined after a gap."""
        pen = QPen(QColor(self._theme.foreground), 0.8)
        shown = min(box.experts, MAX_TILES)
        step = min(_TILE + 3, (width - 60) / max(shown + box.shared_experts, 1))
        side = max(step - 3, 4.0)
        for i in range(shown):
            tile = QGraphicsRectItem(QRectF(x + i * step, y, side, side), parent)
            tile.setBrush(QBrush(QColor("#7FC8A9")))
            tile.setPen(pen)
        end = x + shown * step
        if box.experts > shown:
            more = QGraphicsSimpleTextItem(f"… {box.experts}", parent)
            more.setFont(make_font(8.5))
            more.setBrush(QBrush(QColor(self._theme.foreground)))
            more.setPos(end + 2, y - 1)
            end += QFontMetricsF(make_font(8.5)).horizontalAdvance(f"… {box.experts}") + 6
        for j in range(box.shared_experts):
            tile = QGraphicsRectItem(QRectF(end + 10 + j * step, y, side, side), parent)
            tile.setBrush(QBrush(QColor("#FFFFFF")))
            tile.setPen(QPen(QColor(self._theme.foreground), 1.6))
        self._tiles[box.key] = shown

    def box_keys(self) -> list[str]:
        return list(self._boxes)

    def box_title(self, key: str) -> str:
        """The title text of the first box with this key."""
        item = self._boxes[key]
        return next(c.text() for c in item.childItems() if isinstance(c, QGraphicsSimpleTextItem))

    def box_detail(self, key: str) -> str:
        texts = [c.text() for c in self._boxes[key].childItems() if isinstance(c, QGraphicsSimpleTextItem)]
        return texts[1] if len(texts) > 1 else ""

    def expert_tiles(self, key: str) -> int:
        """How many expert tiles the box `key` draws (0: not a mixture of experts)."""
        return self._tiles.get(key, 0)

    def box_rect(self, key: str) -> QRectF:
        return self._boxes[key].sceneBoundingRect()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._scene.items():
            self.fitInView(self._scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
