"""Token trajectories: every token's residual-stream vector, projected to 2-D, layer by layer.

The caller projects (e.g. PCA) and passes all layers at once; this widget only draws.
The view range is computed once from all layers so that moving the layer slider shows
real motion instead of a re-zoomed cloud. The last token (the one whose next token is
predicted) is drawn larger and red; trails show where each token has been.

Token labels never overlap each other or a dot: each goes to the first free place around its
dot (right, left, above, below, then the corners), the last and the selected token first;
a label with no free place is left out, and hovering its dot still names it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QMouseEvent, QTransform
from PySide6.QtWidgets import QWidget

from viz.theme import (
    LIGHT,
    Palette,
    Styled,
    default_font_size,
    make_font,
    qcolor,
    set_plot_title,
    style_plot_item,
)

DOT_SIZE = 11.0  # px
LAST_DOT_SIZE = 19.0  # px
SELECTED_EXTRA = 5.0  # px added to the selected dot
MAX_LABELLED_TOKENS = 64  # above this only the selected and the last token get a text label
LABEL_GAP = 3.0  # px between a dot and its label


class TrajectoryPlot(Styled, pg.PlotWidget):
    """2-D scatter of token positions at one layer, with optional trails from layer 0.

    Signal ``point_clicked(index)`` when a dot is clicked (it also becomes selected).
    """

    point_clicked = Signal(int)

    def __init__(
        self, parent: QWidget | None = None, palette: Palette = LIGHT, font_size: float | None = None
    ) -> None:
        super().__init__(parent)
        self._theme = palette
        self._font_size = font_size if font_size is not None else default_font_size()
        self._points = np.zeros((1, 0, 2), dtype=np.float64)  # [L+1, T, 2]
        self._labels: list[str] = []
        self._layer = 0
        self._trails_on = True
        self._selected: int | None = None
        self._texts: list[pg.TextItem] = []  # label pool; hidden when unused
        self._text_index: list[int] = []  # token index of each label in use (shown or left out)
        self._wanted: list[int] = []

        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.showGrid(x=True, y=True, alpha=0.15)
        self._trails = pg.PlotCurveItem(antialias=True)  # every token but the last
        self._last_trail = pg.PlotCurveItem(antialias=True)
        self._scatter = pg.ScatterPlotItem(antialias=True, hoverable=True, tip=self._tip, pxMode=True)
        self._trails.setZValue(0)
        self._last_trail.setZValue(1)
        self._scatter.setZValue(2)
        for item in (self._trails, self._last_trail, self._scatter):
            plot.addItem(item)
        self._scatter.sigClicked.connect(self._on_scatter_clicked)
        plot.vb.sigResized.connect(self._place_labels)
        plot.vb.sigRangeChanged.connect(self._place_labels)
        self._apply_style()

    # --- public API ------------------------------------------------------------------------
    def set_data(self, points: np.ndarray, labels: Sequence[str]) -> None:
        """Show points [L+1, T, 2] (layer 0 = embeddings) for T tokens; keeps the current layer if valid."""
        points = np.asarray(points, dtype=np.float64)  # [L+1, T, 2]
        if points.ndim != 3 or points.shape[2] != 2:
            raise ValueError(f"points must be [L+1, T, 2], got {points.shape}")
        if len(labels) != points.shape[1]:
            raise ValueError(f"{len(labels)} labels for {points.shape[1]} tokens")
        self._points = points
        self._labels = list(labels)
        self._layer = min(self._layer, points.shape[0] - 1)
        if self._selected is not None and self._selected >= points.shape[1]:
            self._selected = None
        self._fit_view()
        self._redraw()

    def set_layer(self, layer: int) -> None:
        """Show the dots at ``layer`` (0 = embeddings .. L = final residual stream)."""
        if not 0 <= layer < self._points.shape[0]:
            raise IndexError(f"layer {layer} out of range 0..{self._points.shape[0] - 1}")
        self._layer = layer
        self._redraw()

    def layer(self) -> int:
        return self._layer

    def set_trails(self, on: bool) -> None:
        """Draw each token's path from layer 0 to the current layer as a faint line."""
        self._trails_on = on
        self._redraw()

    def set_selected(self, index: int | None) -> None:
        """Enlarge and outline one token (None: no selection)."""
        if index is not None and not 0 <= index < self._points.shape[1]:
            raise IndexError(f"token index {index} out of range for {self._points.shape[1]} tokens")
        self._selected = index
        self._redraw()

    def selected(self) -> int | None:
        return self._selected

    def n_tokens(self) -> int:
        """How many tokens the plot shows now (its data can lag a newer trace still waiting to be drawn)."""
        return int(self._points.shape[1])

    def set_axis_labels(self, x: str, y: str) -> None:
        """Axis titles, e.g. "PC 1" / "PC 2"."""
        style = {"color": self._theme.foreground, "font-size": f"{self._font_size:g}pt"}
        self.getPlotItem().setLabel("bottom", x, **style)
        self.getPlotItem().setLabel("left", y, **style)

    def reset_view(self) -> None:
        """Back to the range that contains every layer (after the user zoomed or panned)."""
        self._fit_view()

    def hover_text(self, index: int) -> str:
        """What hovering a dot shows: its label and coordinates at the current layer."""
        x, y = self._points[self._layer, index]
        return f"{self._labels[index]} ({index})\nx = {x:.3g}, y = {y:.3g}"

    @property
    def scatter_item(self) -> pg.ScatterPlotItem:
        return self._scatter

    @property
    def trail_item(self) -> pg.PlotCurveItem:
        """Trails of every token except the last."""
        return self._trails

    @property
    def last_trail_item(self) -> pg.PlotCurveItem:
        return self._last_trail

    def label_items(self) -> list[tuple[int, pg.TextItem]]:
        """(token index, TextItem) of the text labels on screen, in token order."""
        return [(i, item) for i, item in zip(self._text_index, self._texts, strict=False) if item.isVisible()]

    def dot_scene_pos(self, index: int) -> QPointF:
        """Scene position of a token's dot at the current layer."""
        x, y = self._points[self._layer, index]
        return self.getPlotItem().vb.mapViewToScene(QPointF(float(x), float(y)))

    # --- drawing ---------------------------------------------------------------------------------
    def _fit_view(self) -> None:
        """Fix the range to every layer's points, padded, with room on the right for labels."""
        pts = self._points.reshape(-1, 2)  # [(L+1)*T, 2]
        pts = pts[np.isfinite(pts).all(axis=1)]
        if len(pts) == 0:
            return
        lo, hi = pts.min(axis=0), pts.max(axis=0)  # [2], [2]
        span = np.maximum(hi - lo, 1e-9)  # [2]
        self.getPlotItem().setRange(
            xRange=(lo[0] - 0.08 * span[0], hi[0] + 0.2 * span[0]),
            yRange=(lo[1] - 0.08 * span[1], hi[1] + 0.08 * span[1]),
            padding=0,
        )

    def _redraw(self) -> None:
        p = self._theme
        n_layers, t = self._points.shape[0], self._points.shape[1]
        xy = self._points[self._layer]  # [T, 2]
        sizes = np.full(t, DOT_SIZE)  # [T]
        brushes = [pg.mkBrush(p.token)] * t
        outline = self.pen(qcolor(p.background))
        pens = [outline] * t
        if t:
            sizes[-1] = LAST_DOT_SIZE
            brushes[-1] = pg.mkBrush(p.last_token)
        if self._selected is not None:
            sizes[self._selected] += SELECTED_EXTRA
            pens[self._selected] = self.pen(p.selection, 3)
        self._scatter.setData(pos=xy, size=sizes, brush=brushes, pen=pens, data=np.arange(t))

        if self._trails_on and self._layer > 0 and t > 0:
            path = self._points[: self._layer + 1]  # [l+1, T, 2]
            others = np.transpose(path[:, :-1], (1, 0, 2)).reshape(-1, 2)  # [(T-1)*(l+1), 2]
            connect = np.ones(len(others), dtype=bool)  # [(T-1)*(l+1)]
            connect[self._layer :: self._layer + 1] = False  # break between tokens
            # Wide antialiased strokes of a 25k-vertex path take ~1 s to paint; 1 px stays fast.
            width = 1.5 * self._line_scale if len(others) <= 2000 else 1.0
            self._trails.setPen(pg.mkPen(qcolor(p.token, 90), width=width))
            self._trails.setData(others[:, 0], others[:, 1], connect=connect)
            last = path[:, -1]  # [l+1, 2]
            self._last_trail.setData(last[:, 0], last[:, 1])
        else:
            self._trails.setData([], [])
            self._last_trail.setData([], [])

        self._update_labels()
        final = " · final" if self._layer == n_layers - 1 and n_layers > 1 else ""
        name = "embeddings" if self._layer == 0 else f"layer {self._layer} / {n_layers - 1}{final}"
        set_plot_title(self.getPlotItem(), html.escape(name), p, self._font_size * 1.15)

    def _update_labels(self) -> None:
        t = self._points.shape[1]
        if t <= MAX_LABELLED_TOKENS:
            wanted = list(range(t))
        else:
            wanted = sorted({t - 1} | ({self._selected} if self._selected is not None else set()))
        while len(self._texts) < len(wanted):
            item = pg.TextItem(anchor=(0, 0))
            item.setZValue(1.5)  # above trails, below dots: the label's backdrop never hides a dot
            self.getPlotItem().addItem(item, ignoreBounds=True)
            self._texts.append(item)
        p = self._theme
        for item, index in zip(self._texts, wanted, strict=False):
            is_last, is_selected = index == t - 1, index == self._selected
            colour = p.selection if is_selected else p.last_token if is_last else p.foreground
            item.setFont(make_font(self._font_size, bold=is_last or is_selected))
            item.setColor(colour)
            item.fill = pg.mkBrush(qcolor(p.background, 170))
            item.setText(self._labels[index])
        for item in self._texts[len(wanted) :]:
            item.setVisible(False)
        self._text_index = wanted
        self._place_labels()

    def _dot_radii(self) -> np.ndarray:
        """[T] each dot's radius in pixels, as drawn."""
        t = self._points.shape[1]
        sizes = np.full(t, DOT_SIZE)
        if t:
            sizes[-1] = LAST_DOT_SIZE
        if self._selected is not None and self._selected < t:
            sizes[self._selected] += SELECTED_EXTRA
        return sizes / 2 + 1.5 * self._line_scale  # the outline too

    def _place_labels(self, *_args: object) -> None:
        """Put each label in the first free place around its dot, most important first."""
        vb = self.getPlotItem().vb
        t = self._points.shape[1]
        labels = [(i, item) for i, item in zip(self._text_index, self._texts, strict=False) if i < t]
        if not labels or t == 0:  # (new data re-ranges the view before its labels are made)
            return
        bounds = vb.sceneBoundingRect()
        xy = self._points[self._layer]  # [T, 2]
        if bounds.width() < 2 or bounds.height() < 2:  # not laid out yet: beside each dot
            for index, item in labels:
                item.setAnchor((0, 0.5))
                item.setPos(float(xy[index, 0]), float(xy[index, 1]))
                item.setVisible(True)
            return
        scene = _mapped(vb.childTransform() * vb.sceneTransform(), xy)  # [T, 2] px, as vb.mapViewToScene
        radii = self._dot_radii()  # [T]
        dots = np.column_stack([scene - radii[:, None], scene + radii[:, None]])  # [T, 4] x0, y0, x1, y1
        placed = np.empty((0, 4))
        last, selected = t - 1, self._selected
        order = sorted(labels, key=lambda pair: (pair[0] != selected, pair[0] != last, pair[0]))
        for index, item in order:
            box = item.textItem.boundingRect()
            w, h = box.width(), box.height()
            cx, cy = scene[index]
            r = radii[index] + LABEL_GAP
            d = r * 0.75
            # Eight places around the dot, in order of preference: right, left, above, below, diagonals.
            lefts = np.array([cx + r, cx - r - w, cx - w / 2, cx - w / 2, cx + d, cx + d, cx - d - w, cx - d - w])
            tops = np.array([cy - h / 2, cy - h / 2, cy - r - h, cy + r, cy - d - h, cy + d, cy - d - h, cy + d])
            rects = np.column_stack([lefts, tops, lefts + w, tops + h])  # [8, 4]
            inside = (lefts >= bounds.left()) & (tops >= bounds.top()) & (lefts + w <= bounds.right()) \
                & (tops + h <= bounds.bottom())
            free = inside & ~_overlapping(rects, placed).any(axis=1)
            on_dots = _overlapping(rects, dots)  # [8, T]
            on_dots[:, index] = False  # its own dot is where the gap already keeps it clear of
            clear = free & ~on_dots.any(axis=1)
            # The last and the selected token are always named: over other dots if need be (the
            # dots are drawn above the label's backdrop), never over another label.
            important = index in (last, selected)
            choice = clear if clear.any() else (free if important else clear)
            if not choice.any():
                item.setVisible(False)
                continue
            spot = rects[int(np.argmax(choice))]
            placed = np.vstack([placed, spot])
            item.setAnchor((0, 0))
            item.setPos(vb.mapSceneToView(QPointF(float(spot[0]), float(spot[1]))))
            item.setVisible(True)

    def _apply_style(self) -> None:
        p = self._theme
        self.setBackground(p.background)
        plot = self.getPlotItem()
        style_plot_item(plot, p, self._font_size, self._line_scale)
        self._last_trail.setPen(self.pen(qcolor(p.last_token, 170), 2.5))
        self._redraw()

    def _tip(self, x: float, y: float, data: object) -> str:
        return self.hover_text(int(data))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        super().mousePressEvent(event)
        self._accept_point_click(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        self._accept_point_click(event)

    def _accept_point_click(self, event: QMouseEvent) -> None:
        """Claim left clicks on dots: pyqtgraph's scene leaves presses unaccepted, and an
        ignored press would travel on to the parent widget (the scene still reports the click)."""
        if event.button() != Qt.MouseButton.LeftButton:
            return
        pos = self.getPlotItem().vb.mapSceneToView(self.mapToScene(event.position().toPoint()))
        if len(self._scatter.pointsAt(pos)) > 0:
            event.accept()

    def _on_scatter_clicked(self, item: object, points: Sequence[object], event: object) -> None:
        if len(points) == 0:
            return
        index = int(points[-1].data())  # the last one listed is drawn on top
        self.set_selected(index)
        self.point_clicked.emit(index)


def _mapped(transform: QTransform, xy: np.ndarray) -> np.ndarray:
    """[N, 2] points through a QTransform at once (it is affine here: pan and zoom)."""
    m = np.array([[transform.m11(), transform.m12()], [transform.m21(), transform.m22()]])
    return xy @ m + np.array([transform.dx(), transform.dy()])


def _overlapping(rects: np.ndarray, others: np.ndarray) -> np.ndarray:
    """[K, N] whether each rect (x0, y0, x1, y1) of rects [K, 4] overlaps each row of others [N, 4]."""
    a, b = rects[:, None, :], others[None, :, :]
    return (b[..., 0] < a[..., 2]) & (b[..., 2] > a[..., 0]) & (b[..., 1] < a[..., 3]) & (b[..., 3] > a[..., 1])
