"""The effect grid: values land in the right cells, the biggest effects are outlined, a click names its cell."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from viz.effect_grid import EffectGrid


def test_biggest_effects_outlined_and_clicks_name_their_cell(qtbot, show):
    values = np.zeros((6, 4), dtype=np.float32)
    values[4, 1], values[0, 3], values[2, 2] = 0.9, 0.5, -0.7
    values[5, 0] = np.nan  # nothing there (a post-LN block's attention)
    grid = show(EffectGrid(highlight=2), (400, 500))
    grid.set_data(values, [str(i) for i in range(6)], list("abcd"), title="drop", row_axis="layer", col_axis="head")
    assert grid.top_cells() == [(4, 1), (0, 3)]  # largest first; negative effects are not "biggest drops"
    assert grid.cell_text(2, 2) == "2 · c: -0.700"
    qtbot.wait(20)
    for row, col in ((4, 1), (0, 0), (5, 3)):
        with qtbot.waitSignal(grid.cell_clicked) as blocker:
            qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=grid.mapFromScene(grid.cell_center(row, col)))
        assert blocker.args == [row, col]


def test_mismatched_labels_are_refused(show):
    grid = show(EffectGrid())
    with pytest.raises(ValueError, match="do not match"):
        grid.set_data(np.zeros((2, 3)), ["a", "b"], ["x"])
