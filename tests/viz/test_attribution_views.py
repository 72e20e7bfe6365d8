"""The attribution widgets: tints follow the signed scores, hover gives raw values, the per-layer map
reads its cells, the aligned chips mark where two runs differ."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from viz.attribution_views import NEUTRAL, AlignedChips, AttributionChips, LayerScoreMap, score_tint
from viz.theme import LIGHT


def test_chip_tints_follow_sign_and_size(show, qtbot):
    widget = show(AttributionChips(), (600, 160))
    scores = np.array([2.0, -1.0, 0.0, 0.5])
    widget.set_scores(["a", "b", "c", "d"], scores, "gradient × input", "␣Paris")
    assert widget.count() == 4 and widget.scale == 2.0
    assert widget.tint(0) == QColor(LIGHT.positive)  # the largest: full colour
    assert widget.tint(2) == QColor(NEUTRAL)  # zero: white
    red, blue = widget.tint(3), widget.tint(1)
    assert red.red() > red.blue() and blue.blue() > blue.red()
    assert score_tint(-2.0, 2.0) == QColor(LIGHT.negative)
    assert "+0.5" in widget.chip(3).toolTip() and "'␣Paris'" in widget.chip(3).toolTip()
    assert "+2 raises" in widget.legend_text() and "−2 lowers" in widget.legend_text()
    clicked = []
    widget.chip_clicked.connect(clicked.append)
    qtbot.mouseClick(widget.chip(1), Qt.MouseButton.LeftButton)
    assert clicked == [1]
    widget.set_scores(["x"], np.array([0.0]))  # fewer chips: the rest hide, no division by zero
    assert widget.count() == 1 and not widget.chip(2).isVisible() and widget.tint(0) == QColor(NEUTRAL)


def test_layer_map_reads_its_cells(show, qtbot):
    widget = show(LayerScoreMap(), (600, 400))
    values = np.arange(12, dtype=np.float32).reshape(3, 4) - 5
    widget.set_data(values, ["a", "b", "c", "d"], "per layer")
    np.testing.assert_array_equal(widget.values(), values)
    assert widget.value_text(2, 1) == "layer 2, 'b' (position 1): +4"
    vb = widget.getPlotItem().vb
    qtbot.wait(20)
    from PySide6.QtCore import QPointF

    widget._on_mouse_moved(vb.mapViewToScene(QPointF(1.5, 2.5)))
    assert widget.hover_text() == "layer 2, 'b' (position 1): +4"
    widget.set_message("no per-layer rows")
    assert widget.title_text() == "no per-layer rows" and widget.values().size == 0


def test_aligned_chips_mark_differences(show):
    widget = show(AlignedChips(), (600, 120))
    widget.set_pairs([("The", "The"), ("␣France", "␣Ger"), (None, "many")], ("pinned", "current"))
    assert widget.differing() == [1, 2]
    assert widget.pairs()[2] == (None, "many")
