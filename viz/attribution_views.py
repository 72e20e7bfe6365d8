"""Why this token: signed per-token scores as chip tints, per layer as a heatmap, and two runs'
token chips aligned.

- `AttributionChips`: one chip per prompt token, tinted on a diverging map (red: the token pushes
  the target's logit up, blue: down, white: nothing), scaled to the largest |score|; a legend
  line under the chips gives the scale; hovering a chip shows its raw score.
- `LayerScoreMap`: the same scores at every layer (rows, layer 0 = the embeddings at the bottom)
  × token (columns), on the same diverging map, symmetric around zero; hover reads the raw value.
- `AlignedChips`: two tokenisations one above the other, pair by pair (the pairs come from the
  caller); a pair whose tokens differ is outlined, a token with no partner faces a gap.

Plain numpy and Qt: the widgets know nothing about models.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from viz.attention_heatmap import shorten
from viz.flow_layout import FlowLayout
from viz.theme import (
    LIGHT,
    Palette,
    Styled,
    blend,
    default_font_size,
    diverging_colormap,
    make_font,
    readable_text_colour,
    set_plot_title,
    style_plot_item,
)

NEUTRAL = "#F7F7F7"  # the diverging map's zero


def score_tint(score: float, scale: float, palette: Palette = LIGHT) -> QColor:
    """The chip colour of `score` on a map from −scale (negative colour) through white to +scale."""
    t = 0.0 if scale <= 0 or not np.isfinite(score) else min(abs(score) / scale, 1.0)
    return blend(NEUTRAL, palette.positive if score >= 0 else palette.negative, t)


def _chip_style(background: QColor, border: str, width: float = 1.0) -> str:
    text = readable_text_colour(background).name()
    return (f"QLabel {{ background: {background.name()}; color: {text}; border: {width:g}px solid {border};"
            " border-radius: 4px; padding: 2px 5px; }")


class _Chip(QLabel):
    clicked = Signal(int)

    def __init__(self, index: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.setTextFormat(Qt.TextFormat.PlainText)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.index)
        super().mousePressEvent(event)


class AttributionChips(Styled, QWidget):
    """Token chips tinted by signed scores, with a legend of the scale (see the module docstring)."""

    chip_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT,
                 font_size: float | None = None) -> None:
        super().__init__(parent)
        self._theme = palette
        self._font_size = font_size if font_size is not None else default_font_size()
        self._labels: list[str] = []
        self._scores = np.zeros(0, np.float32)
        self._what = "score"
        self._target = ""
        self._chips: list[_Chip] = []
        self._selected: int | None = None
        self._holder = QWidget()
        self._flow = FlowLayout(self._holder, 4, 4)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._holder)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.legend)
        self._apply_style()

    # -- data ------------------------------------------------------------------------------------

    def set_scores(self, labels: Sequence[str], scores: np.ndarray, what: str = "score", target: str = "") -> None:
        """One chip per label tinted by `scores` [T]; `what` names the scores (e.g. 'gradient × input')
        and `target` the token they explain, both for the legend and the hover text."""
        self._labels = [str(s) for s in labels]
        self._scores = np.asarray(scores, dtype=np.float64)
        self._what, self._target = what, target
        while len(self._chips) < len(self._labels):
            chip = _Chip(len(self._chips))
            chip.clicked.connect(self.chip_clicked)
            self._chips.append(chip)
            self._flow.addWidget(chip)
        for i, chip in enumerate(self._chips):
            chip.setVisible(i < len(self._labels))
            if i < len(self._labels):
                chip.setText(self._labels[i])
                chip.setToolTip(self.hover_text(i))
        self._apply_style()

    def clear(self) -> None:
        self.set_scores([], np.zeros(0))

    def set_selected(self, index: int | None) -> None:
        self._selected = index
        self._apply_style()

    @property
    def scale(self) -> float:
        """The |score| that gets the full colour: the largest one shown."""
        finite = self._scores[np.isfinite(self._scores)]
        return float(np.abs(finite).max()) if finite.size else 0.0

    def count(self) -> int:
        return len(self._labels)

    def scores(self) -> np.ndarray:
        return self._scores.copy()

    def tint(self, index: int) -> QColor:
        return score_tint(float(self._scores[index]), self.scale, self._theme)

    def chip(self, index: int) -> QLabel:
        return self._chips[index]

    def hover_text(self, index: int) -> str:
        score = float(self._scores[index])
        total = float(np.abs(self._scores).sum()) or 1.0
        towards = f" for {self._target!r}" if self._target else ""
        return (f"{self._labels[index]!r} (position {index}): {self._what}{towards} = {score:+.5g} "
                f"({abs(score) / total:.0%} of the total |score|)")

    def legend_text(self) -> str:
        return self.legend.text()

    # -- style -----------------------------------------------------------------------------------

    def _apply_style(self) -> None:
        font = make_font(self._font_size)
        scale = self.scale
        for i, chip in enumerate(self._chips[: len(self._labels)]):
            chip.setFont(font)
            selected = i == self._selected
            chip.setStyleSheet(_chip_style(self.tint(i), self._theme.selection if selected else self._theme.muted,
                                           2.5 * self._line_scale if selected else self._line_scale))
        p = self._theme

        def swatch(colour: QColor | str, text: str) -> str:
            c = QColor(colour).name()
            return (f"<span style='background:{c}; color:{c}; border:1px solid {p.muted}'>&nbsp;&nbsp;&nbsp;</span>"
                    f"&nbsp;{html.escape(text)}")

        if not self._labels:
            self.legend.setText("")
            return
        target = f" {self._target!r}" if self._target else " the target"
        self.legend.setText(
            f"<span style='color:{p.foreground}'>{html.escape(self._what)}: "
            + " &nbsp; ".join((swatch(p.positive, f"+{scale:.3g} raises{target}"), swatch(NEUTRAL, "0"),
                               swatch(p.negative, f"−{scale:.3g} lowers it")))
            + " &nbsp; (hover a chip for its score)</span>")


class LayerScoreMap(Styled, pg.PlotWidget):
    """Scores per layer (rows, layer 0 at the bottom) × token (columns) on a diverging map."""

    cell_clicked = Signal(int, int)  # layer, position

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT,
                 font_size: float | None = None) -> None:
        super().__init__(parent, background=palette.background, enableMenu=False)
        self._theme = palette
        self._font_size = font_size if font_size is not None else default_font_size()
        self._values = np.zeros((0, 0), np.float32)
        self._labels: list[str] = []
        self._title = ""
        self._message = ""
        plot = self.getPlotItem()
        plot.setMouseEnabled(x=False, y=False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        self._image = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self._image)
        plot.invertY(False)
        self._hover = ""
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self._apply_style()

    def set_data(self, values: np.ndarray, labels: Sequence[str], title: str = "") -> None:
        """values [L+1, T]; labels [T]."""
        self._values = np.asarray(values, dtype=np.float32)
        self._labels = [str(s) for s in labels]
        self._title, self._message = title, ""
        self._draw()

    def set_message(self, text: str) -> None:
        """No map (e.g. integrated gradients has no per-layer rows): say why in the title."""
        self._values = np.zeros((0, 0), np.float32)
        self._message = text
        self._draw()

    def values(self) -> np.ndarray:
        return self._values.copy()

    def title_text(self) -> str:
        return self._message or self._title

    def value_text(self, layer: int, position: int) -> str:
        return (f"layer {layer}, {self._labels[position]!r} (position {position}): "
                f"{float(self._values[layer, position]):+.5g}")

    def hover_text(self) -> str:
        return self._hover

    def _cell_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        vb = self.getPlotItem().vb
        if not self._values.size or not vb.sceneBoundingRect().contains(scene_pos):
            return None
        point = vb.mapSceneToView(scene_pos)
        layer, position = int(np.floor(point.y())), int(np.floor(point.x()))
        if 0 <= layer < self._values.shape[0] and 0 <= position < self._values.shape[1]:
            return layer, position
        return None

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        cell = self._cell_at(scene_pos)
        self._hover = self.value_text(*cell) if cell else ""
        self.setToolTip(self._hover)
        set_plot_title(self.getPlotItem(), html.escape(self._hover or self.title_text()), self._theme,
                       self._font_size)

    def _on_mouse_clicked(self, event) -> None:
        cell = self._cell_at(event.scenePos())
        if cell is not None and event.button() == Qt.MouseButton.LeftButton:
            self.cell_clicked.emit(*cell)

    def _draw(self) -> None:
        plot = self.getPlotItem()
        set_plot_title(plot, html.escape(self.title_text()), self._theme, self._font_size)
        if not self._values.size:
            self._image.clear()
            return
        finite = self._values[np.isfinite(self._values)]
        top = float(np.abs(finite).max()) if finite.size else 1.0
        top = top or 1.0
        lut = diverging_colormap(self._theme).getLookupTable(nPts=256)
        self._image.setImage(np.nan_to_num(self._values), levels=(-top, top), lut=lut)
        n_layers, t = self._values.shape
        step = max(1, t // 40)
        plot.getAxis("bottom").setTicks([[(i + 0.5, shorten(s)) for i, s in enumerate(self._labels) if i % step == 0]])
        layer_step = max(1, n_layers // 12)
        plot.getAxis("left").setTicks([[(i + 0.5, str(i)) for i in range(0, n_layers, layer_step)]])
        style = {"color": self._theme.foreground, "font-size": f"{self._font_size:g}pt"}
        plot.setLabel("left", "layer (0: embeddings)", **style)
        plot.setXRange(0, t, padding=0)
        plot.setYRange(0, n_layers, padding=0)

    def _apply_style(self) -> None:
        self.setBackground(self._theme.background)
        style_plot_item(self.getPlotItem(), self._theme, self._font_size, self._line_scale)
        self._draw()


class AlignedChips(Styled, QWidget):
    """Two token rows aligned pair by pair; pairs that differ are outlined (see the module docstring)."""

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT,
                 font_size: float | None = None) -> None:
        super().__init__(parent)
        self._theme = palette
        self._font_size = font_size if font_size is not None else default_font_size()
        self._pairs: list[tuple[str | None, str | None]] = []
        self._names = ("A", "B")
        self._holder = QWidget()
        self._grid = QGridLayout(self._holder)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(3)
        self._grid.setVerticalSpacing(3)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._holder)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        self._cells: list[QLabel] = []

    def set_pairs(self, pairs: Sequence[tuple[str | None, str | None]], names: tuple[str, str] = ("A", "B")) -> None:
        """pairs: (token of row A or None, token of row B or None), in text order."""
        self._pairs = list(pairs)
        self._names = names
        self._apply_style()

    def differing(self) -> list[int]:
        """Indices of the pairs whose tokens differ (or that have no partner)."""
        return [i for i, (a, b) in enumerate(self._pairs) if a != b]

    def pairs(self) -> list[tuple[str | None, str | None]]:
        return list(self._pairs)

    def _apply_style(self) -> None:
        for cell in self._cells:
            self._grid.removeWidget(cell)
            cell.deleteLater()
        self._cells = []
        font = make_font(self._font_size)
        p = self._theme
        for row, name in enumerate(self._names):
            head = QLabel(name)
            head.setFont(make_font(self._font_size, bold=True))
            self._grid.addWidget(head, row, 0)
            self._cells.append(head)
        for column, (a, b) in enumerate(self._pairs, start=1):
            differs = a != b
            for row, text in enumerate((a, b)):
                cell = QLabel("∅" if text is None else text)
                cell.setFont(font)
                border = p.positive if differs else p.muted
                background = QColor(p.surface if text is not None else p.background)
                cell.setStyleSheet(_chip_style(background, border, (2.0 if differs else 1.0) * self._line_scale))
                cell.setToolTip("the two runs differ here" if differs else "the same token in both runs")
                self._grid.addWidget(cell, row, column)
                self._cells.append(cell)
