"""The all-heads grid picks the orientation that gives the larger thumbnails, and clicks and
thumbnails still name the right head either way."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF

from viz.head_grid import HeadGrid


def attention(layers: int = 30, heads: int = 9, t: int = 12) -> np.ndarray:
    rng = np.random.default_rng(0)
    a = np.tril(rng.random((layers, heads, t, t))).astype(np.float32)  # [L, H, T, T]
    return a / a.sum(-1, keepdims=True)


def test_a_wide_widget_puts_layers_across_and_keeps_every_head_addressable(qtbot):
    grid = HeadGrid()
    qtbot.addWidget(grid)
    grid.resize(950, 300)
    grid.show()
    a = attention()
    grid.set_attention(a)
    assert grid.transposed  # 30 layers across: ~30 px thumbnails instead of 9 px slivers
    for layer, head in ((0, 0), (7, 3), (29, 8)):
        lower = np.tril_indices(12)
        np.testing.assert_allclose(grid.thumbnail(layer, head)[lower], a[layer, head][lower])
        centre = grid.head_center(layer, head)
        assert grid.head_at(grid.mapToScene(centre.toPoint())) == (layer, head)
    view = grid._plot.vb
    one = view.mapViewToScene(QPointF(0, 0))
    other = view.mapViewToScene(QPointF(grid.pitch, grid.pitch))
    assert min(other.x() - one.x(), other.y() - one.y()) >= 25  # px per thumbnail, both ways


def test_a_tall_widget_puts_layers_down(qtbot):
    grid = HeadGrid()
    qtbot.addWidget(grid)
    grid.resize(300, 900)
    grid.show()
    grid.set_attention(attention())
    assert not grid.transposed
    grid.set_selected(12, 6)
    assert grid.head_at(grid.mapToScene(grid.head_center(12, 6).toPoint())) == (12, 6)
    grid.resize(1200, 300)  # the dock is dragged wide: the grid turns
    qtbot.waitUntil(lambda: grid.transposed, timeout=2_000)
    assert grid.head_at(grid.mapToScene(grid.head_center(12, 6).toPoint())) == (12, 6)
