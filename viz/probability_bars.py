"""Next-token distribution as horizontal top-k bars, most likely at the top.

Tokens that top-k / top-p / min-p filter out (or a logit bias bans) stay on screen, greyed:
seeing what was cut is the point of the sampling controls. A token a penalty or a bias moved is
drawn paler, with a dashed outline where the model alone would have put it; hovering any bar
says which knob did what. "Sample many" counts are shown as count / draws, on the same 0..1 axis
as the probabilities, so "sampling follows the probability" can be read off directly. Probabilities use a fixed 0..1 axis so that changing the
temperature visibly flattens or sharpens the bars instead of being re-zoomed away.

Bar texts keep the widget's font size: when the rows would be shorter than a line of text
(a short panel, presentation mode's large type) the view shows the most likely bars that
fit at that size rather than shrinking every text out of legibility.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QWidget

from viz.theme import (
    LIGHT,
    Palette,
    Styled,
    blend,
    default_font_size,
    make_font,
    qcolor,
    readable_text_colour,
    set_plot_title,
    style_plot_item,
)

_BAR_HEIGHT = 0.72  # rows are 1 apart
_COUNT_HEIGHT = 0.2
_HOVER_PLACEHOLDER = "hover a bar for its logit"
MIN_ROWS = 3  # rows always shown, even if their text must shrink to fit
# A row at least this many text lines tall keeps the full font size (see _place_texts).
_ROW_LINES, _ROW_LINES_WITH_COUNTS = 1.15, 1.55


class ProbabilityBars(Styled, pg.PlotWidget):
    """Top-k bars: "label  97.4%" on each; filtered tokens greyed; optional sample counts.

    With counts, a thin dark bar under each row shows the observed frequency and the bar
    text ends with "· 37× (18.5%)".

    Signal ``bar_hovered(index)`` when the mouse moves onto a new bar (-1 when it leaves);
    ``bar_menu_requested(index, global position)`` on a right click on a bar.
    """

    bar_hovered = Signal(int)
    bar_menu_requested = Signal(int, QPoint)
    bar_clicked = Signal(int)  # a left click on a bar: its row

    def __init__(
        self, parent: QWidget | None = None, palette: Palette = LIGHT, font_size: float | None = None
    ) -> None:
        super().__init__(parent, enableMenu=False)
        self._theme = palette
        self._font_size = font_size if font_size is not None else default_font_size()
        self._labels: list[str] = []
        self._probs = np.zeros(0)  # [k]
        self._kept = np.zeros(0, dtype=bool)  # [k]
        self._logits: np.ndarray | None = None  # [k]
        self._counts: np.ndarray | None = None  # [k]
        self._draws = 0  # how many draws the counts came from
        self._before: np.ndarray | None = None  # [k] the model's own probability, NaN where no knob moved it
        self._notes: list[str] = []  # [k] why a knob changed or removed each token ("" none)
        self._show_logits = False
        self._hovered = -1
        self._texts: list[pg.TextItem] = []

        plot = self.getPlotItem()
        plot.invertY(True)  # rank 0 at the top
        plot.setMouseEnabled(x=False, y=False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.hideAxis("left")
        plot.showGrid(x=True, alpha=0.15)
        self._bars = pg.BarGraphItem(x0=[], y=[], height=_BAR_HEIGHT, width=[])
        self._count_bars = pg.BarGraphItem(x0=[], y=[], height=_COUNT_HEIGHT, width=[])
        self._ghosts = pg.BarGraphItem(x0=[], y=[], height=_BAR_HEIGHT, width=[])
        self._zero_line = pg.InfiniteLine(pos=0, angle=90)
        plot.addItem(self._ghosts)
        plot.addItem(self._bars)
        plot.addItem(self._count_bars)
        plot.addItem(self._zero_line, ignoreBounds=True)
        plot.vb.sigResized.connect(self._place_texts)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self._apply_style()

    # --- public API ----------------------------------------------------------------------------
    def set_data(
        self,
        labels: Sequence[str],
        probs: np.ndarray,
        kept: np.ndarray,
        logits: np.ndarray | None = None,
        counts: np.ndarray | None = None,
        draws: int | None = None,
        before: np.ndarray | None = None,
        notes: Sequence[str] | None = None,
    ) -> None:
        """Show k bars, most likely first.

        probs [k]: the reshaped (every knob) probabilities, the bar lengths.
        kept [k] bool: False bars are drawn greyed (filtered out or banned) but still drawn.
        logits [k]: raw logits, shown on hover and by ``set_show_logits(True)``.
        counts [k]: how often each token came out of "sample many"; drawn as thin bars of
            length count / draws.
        draws: how many draws there were in all (the counts of tokens not shown count too);
            default: the sum of ``counts``.
        before [k]: the probability without the penalties and the bias, NaN where they did
            not move the token; drawn as a dashed outline behind the bar.
        notes [k]: why a knob changed or removed each token ("" for none), shown on hover.
        """
        k = len(labels)
        probs = np.asarray(probs, dtype=np.float64).reshape(-1)  # [k]
        kept = np.asarray(kept, dtype=bool).reshape(-1)  # [k]
        arrays = {"probs": probs, "kept": kept}
        if logits is not None:
            logits = np.asarray(logits, dtype=np.float64).reshape(-1)  # [k]
            arrays["logits"] = logits
        if counts is not None:
            counts = np.asarray(counts, dtype=np.float64).reshape(-1)  # [k]
            arrays["counts"] = counts
        if before is not None:
            before = np.asarray(before, dtype=np.float64).reshape(-1)  # [k]
            arrays["before"] = before
        for name, arr in arrays.items():
            if arr.shape != (k,):
                raise ValueError(f"{name} has shape {arr.shape}, expected ({k},)")
        if notes is not None and len(notes) != k:
            raise ValueError(f"notes has {len(notes)} entries, expected {k}")
        total = float(counts.sum()) if counts is not None else 0.0
        if draws is not None and counts is not None and draws < total:
            raise ValueError(f"draws ({draws}) cannot be fewer than the counts shown ({total:g})")
        self._labels, self._probs, self._kept = list(labels), probs, kept
        self._logits, self._counts = logits, counts
        self._draws = int(draws) if draws is not None else int(total)
        self._before = before
        self._notes = list(notes) if notes is not None else [""] * k
        self._hovered = -1
        self._redraw()

    def set_show_logits(self, on: bool) -> None:
        """Bar lengths are raw logits (True) or probabilities (False). Needs logits in set_data."""
        self._show_logits = on
        self._redraw()

    def shows_logits(self) -> bool:
        """True when bars currently show logits (asked for, and logits were given)."""
        return self._show_logits and self._logits is not None

    def bar_text(self, index: int) -> str:
        """Text drawn on bar ``index``: label and percentage (or logit), then the sample count."""
        if self.shows_logits():
            text = f"{self._labels[index]}  {self._logits[index]:.2f}"
        else:
            text = f"{self._labels[index]}  {100 * self._probs[index]:.1f}%"
        counted = self.count_text(index)
        return f"{text}   ·  {counted}" if counted else text

    def count_text(self, index: int) -> str:
        """The sample count and its share of all the draws (count / draws) of bar ``index``
        ('' without counts)."""
        if not self._has_counts():
            return ""
        count = int(self._counts[index])
        if count == 0:
            return "0×"
        return f"{count}× ({100 * self.shares()[index]:.1f}%)"

    def shares(self) -> np.ndarray:
        """[k] count / draws: each token's share of every draw, on the probabilities' scale."""
        if not self._has_counts():
            return np.zeros(len(self._labels))
        return self._counts / max(self._draws, 1)

    def draws(self) -> int:
        return self._draws

    def _has_counts(self) -> bool:
        return self._counts is not None and self._counts.sum() > 0

    def note(self, index: int) -> str:
        """Why a knob changed or removed bar ``index`` ('' when none did)."""
        return self._notes[index] if 0 <= index < len(self._notes) else ""

    def is_moved(self, index: int) -> bool:
        """True when a penalty or a bias moved this token (a ghost outline shows where it was)."""
        return self._before is not None and bool(np.isfinite(self._before[index]))

    def hover_text(self, index: int) -> str:
        """Plain text shown while hovering bar ``index``: probability, raw logit, and what the knobs did."""
        logit = "n/a" if self._logits is None else f"{self._logits[index]:.3f}"
        text = f"'{self._labels[index]}'  p = {self._probs[index]:.4f}  logit = {logit}"
        if self.is_moved(index):
            text += f"  (model alone: {self._before[index]:.4f})"
        note = self.note(index)
        if note:
            return f"{text} — {note}"
        return text if self._kept[index] else f"{text}  (filtered out)"

    def bar_values(self) -> np.ndarray:
        """Current bar lengths [k] (probabilities or logits)."""
        return self._logits if self.shows_logits() else self._probs

    @property
    def bar_item(self) -> pg.BarGraphItem:
        return self._bars

    @property
    def count_item(self) -> pg.BarGraphItem:
        return self._count_bars

    @property
    def ghost_item(self) -> pg.BarGraphItem:
        return self._ghosts

    def text_items(self) -> list[pg.TextItem]:
        """The bar texts, in bar order (rows scrolled out of view are hidden)."""
        return self._texts[: len(self._labels)]

    def visible_rows(self) -> int:
        """How many bars the view shows: all of them, or the most likely that fit at the font size."""
        k = len(self._labels)
        height = self.getPlotItem().vb.height()
        if height <= 0:
            return k
        counts = self._has_counts() and not self.shows_logits()
        row_px = QFontMetricsF(make_font(self._font_size)).height() * (_ROW_LINES_WITH_COUNTS if counts else _ROW_LINES)
        return min(k, max(MIN_ROWS, int(height // row_px)))

    # --- drawing -------------------------------------------------------------------------------
    def _redraw(self) -> None:
        p = self._theme
        k = len(self._labels)
        values = self.bar_values()  # [k]
        has_counts = self._has_counts() and not self.shows_logits()  # frequencies live on the 0..1 axis
        rows = np.arange(k, dtype=np.float64)  # [k]
        bar_y = rows - 0.12 if has_counts else rows  # [k]
        height = _BAR_HEIGHT - 0.12 if has_counts else _BAR_HEIGHT
        moved = [self.is_moved(i) for i in range(k)]
        # kept: the token colour (paler when a knob moved it); filtered or banned: a faint grey.
        brushes = [pg.mkBrush(blend(p.token, p.background, 0.45) if m else qcolor(p.token)) if kept
                   else pg.mkBrush(qcolor(p.muted, 110)) for kept, m in zip(self._kept, moved, strict=True)]
        # A filtered bar's faint fill gets an outline so it still reads on a washed-out projector.
        pens = [(self.pen(p.token) if m else pg.mkPen(None)) if kept else self.pen(p.muted)
                for kept, m in zip(self._kept, moved, strict=True)] or None  # [] upsets pyqtgraph
        self._bars.setOpts(x0=np.zeros(k), y=bar_y, width=values, height=height, brushes=brushes, pens=pens,
                           pen=None)
        ghost_rows = [i for i in range(k) if moved[i]] if not self.shows_logits() else []
        if ghost_rows:  # where the model alone would have put the bar
            self._ghosts.setOpts(x0=np.zeros(len(ghost_rows)), y=bar_y[ghost_rows], height=height,
                                 width=self._before[ghost_rows], brush=pg.mkBrush(None), brushes=None,
                                 pen=self.pen(p.foreground, 1.2, style=Qt.PenStyle.DashLine), pens=None)
            self._ghosts.setVisible(True)
        else:
            self._ghosts.setOpts(x0=[], y=[], width=[], height=height)
            self._ghosts.setVisible(False)
        if has_counts:
            freq = self.shares()  # [k] count / draws, never longer than the share of all draws
            self._count_bars.setOpts(
                x0=np.zeros(k), y=rows + 0.34, width=freq, height=_COUNT_HEIGHT,
                brushes=None, brush=pg.mkBrush(p.foreground), pens=None, pen=None,
            )
            self._count_bars.setVisible(True)
        else:
            self._count_bars.setOpts(x0=[], y=[], width=[], height=_COUNT_HEIGHT)
            self._count_bars.setVisible(False)

        plot = self.getPlotItem()
        if self.shows_logits():
            lo, hi = min(0.0, float(values.min(initial=0.0))), max(0.0, float(values.max(initial=0.0)))
            span = max(hi - lo, 1e-9)
            plot.setXRange(lo - 0.02 * span, hi + 0.05 * span, padding=0)
            label = "logit"
        else:
            plot.setXRange(0.0, 1.0, padding=0.02)
            label = "probability"
        plot.setLabel("bottom", label, color=p.foreground, **{"font-size": f"{self._font_size:g}pt"})
        self._zero_line.setVisible(self.shows_logits())
        self._show_hover(self._hovered if self._hovered < k else -1)
        self._place_texts()

    def _place_texts(self) -> None:
        """Show the rows that fit; put each bar's text just past the bar end, or inside it when it would not fit."""
        p = self._theme
        k = self.visible_rows()
        plot = self.getPlotItem()
        vb = plot.vb
        plot.setYRange(-0.5, max(k, 1) - 0.5, padding=0)
        (x_lo, x_hi), _ = vb.viewRange()
        px_per_unit = vb.width() / max(x_hi - x_lo, 1e-12)
        values = self.bar_values()
        has_counts = self._has_counts() and not self.shows_logits()
        # Shrink the text when rows are shorter than a line, so neighbouring texts never collide.
        row_px = vb.height() / max(k, 1)
        line_px = QFontMetricsF(make_font(self._font_size)).height()
        scale = min(1.0, row_px * (0.66 if has_counts else 0.9) / line_px)
        font = make_font(max(6.0, self._font_size * scale))
        fm = QFontMetricsF(font)
        self._ensure_pool(self._texts, k)
        for i in range(k):
            item = self._texts[i]
            text = self.bar_text(i)
            end = max(float(values[i]), 0.0)
            room_after = (x_hi - end) * px_per_unit
            room_inside = (end - max(x_lo, 0.0)) * px_per_unit
            needed = fm.horizontalAdvance(text) + 12
            inside = room_after < needed and room_inside > room_after
            bar_colour = qcolor(p.token) if self._kept[i] else qcolor(p.muted)
            if inside:
                colour = readable_text_colour(bar_colour) if self._kept[i] else qcolor(p.foreground)
                item.setAnchor((1, 0.5))
                item.setText(text + "\u2002")
            else:
                colour = qcolor(p.foreground if self._kept[i] else p.muted)
                item.setAnchor((0, 0.5))
                item.setText("\u2002" + text)
            item.setFont(font)
            item.setColor(colour)
            item.setPos(end, i - 0.12 if has_counts else i)
            item.setVisible(True)

    def _ensure_pool(self, pool: list[pg.TextItem], n: int) -> None:
        while len(pool) < n:
            item = pg.TextItem(anchor=(0, 0.5))
            item.setZValue(3)
            self.getPlotItem().addItem(item, ignoreBounds=True)
            pool.append(item)
        for item in pool[n:]:
            item.setVisible(False)

    def _apply_style(self) -> None:
        p = self._theme
        self.setBackground(p.background)
        style_plot_item(self.getPlotItem(), p, self._font_size, self._line_scale)
        self._zero_line.setPen(self.pen(p.foreground))
        self._redraw()

    def _show_hover(self, index: int) -> None:
        plot = self.getPlotItem()
        if index < 0:
            set_plot_title(plot, _HOVER_PLACEHOLDER, self._theme, self._font_size)
            plot.titleLabel.setText(_HOVER_PLACEHOLDER, color=self._theme.muted)
        else:
            set_plot_title(plot, html.escape(self.hover_text(index)), self._theme, self._font_size)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        index = self._row_at(scene_pos)
        if index != self._hovered:
            self._hovered = index
            self._show_hover(index)
            self.setToolTip(self.hover_text(index).replace(" — ", "\n") if index >= 0 else "")
            self.bar_hovered.emit(index)

    def _row_at(self, scene_pos: QPointF) -> int:
        vb = self.getPlotItem().vb
        if vb.sceneBoundingRect().contains(scene_pos) and self._labels:
            row = int(round(vb.mapSceneToView(scene_pos).y()))
            return row if 0 <= row < len(self._labels) else -1
        return -1

    def _on_mouse_clicked(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            index = self._row_at(event.scenePos())
            if index >= 0:
                self.bar_clicked.emit(index)
            return
        if event.button() != Qt.MouseButton.RightButton:
            return
        index = self._row_at(event.scenePos())
        if index >= 0:
            event.accept()
            self.bar_menu_requested.emit(index, event.screenPos().toPoint())

    def leaveEvent(self, event: object) -> None:
        if self._hovered != -1:
            self._hovered = -1
            self._show_hover(-1)
            self.bar_hovered.emit(-1)
        super().leaveEvent(event)
