"""Vectors as diverging colour strips: red positive, blue negative, white zero."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from viz.theme import LIGHT, Palette, diverging_colormap, style_plot_item


class VectorStrips(pg.GraphicsLayoutWidget):
    """Named vectors [dh] drawn as one colour strip each, sharing symmetric colour levels."""

    def __init__(self, parent: QWidget | None = None, palette: Palette = LIGHT, font_size: float = 9.0) -> None:
        super().__init__(parent)
        self.setBackground(palette.background)
        self._theme = palette
        self._font_size = font_size
        self._cmap = diverging_colormap(palette)
        self._names: list[str] = []
        self._images: dict[str, pg.ImageItem] = {}
        self._plots: list[pg.PlotItem] = []
        self._bar: pg.ColorBarItem | None = None
        self._limit = 1.0

    def set_vectors(self, names: Sequence[str], vectors: Sequence[np.ndarray]) -> None:
        """Draw each vector [dh] as a strip; colour levels are ±max|value| over all of them."""
        vectors = [np.asarray(v, dtype=np.float32).reshape(-1) for v in vectors]  # each [dh]
        if list(names) != self._names:
            self._rebuild(list(names))
        self._limit = float(max((np.abs(v).max() for v in vectors if v.size), default=1.0)) or 1.0
        for name, v in zip(names, vectors, strict=True):
            image = self._images[name]
            image.setImage(v[None, :], autoLevels=False, levels=(-self._limit, self._limit))
        for plot in self._plots:
            plot.setXRange(0, max(len(vectors[0]), 1), padding=0)
            plot.setYRange(0, 1, padding=0)
        if self._bar is not None:
            self._bar.setLevels((-self._limit, self._limit))

    def image(self, name: str) -> np.ndarray:
        """[dh] the values drawn in one strip."""
        return self._images[name].image[0]

    @property
    def limit(self) -> float:
        return self._limit

    def _rebuild(self, names: list[str]) -> None:
        self.ci.clear()
        self._images.clear()
        self._plots.clear()
        self._names = names
        for row, name in enumerate(names):
            plot = self.ci.addPlot(row=row, col=0)
            plot.setMouseEnabled(x=False, y=False)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.getAxis("left").setTicks([[(0.5, name)]])
            plot.getAxis("left").setWidth(90)
            plot.showAxis("bottom", row == len(names) - 1)
            if row == len(names) - 1:
                plot.setLabel("bottom", "dimension")
            style_plot_item(plot, self._theme, self._font_size)
            image = pg.ImageItem(axisOrder="row-major")
            image.setColorMap(self._cmap)
            plot.addItem(image)
            self._images[name] = image
            self._plots.append(plot)
        if self._plots:
            self._bar = pg.ColorBarItem(values=(-1, 1), colorMap=self._cmap, interactive=False,
                                        orientation="horizontal", width=12)
            self._bar.setImageItem(list(self._images.values()))
            self.ci.addItem(self._bar, row=len(names), col=0)
