"""AttentionHeatmap: image content, causal mask, ticks, hover text and clicks."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from viz.attention_heatmap import AttentionHeatmap, thinned_ticks, tick_step
from viz.theme import LIGHT

LABELS = ["The", "␣capital", "␣of", "␣Germany", "␣is", "␣Berlin", ".", "␣The", "␣capital", "␣of", "␣France", "␣is"]


def causal_weights(t: int, seed: int = 0) -> np.ndarray:
    """Random rows that sum to 1 over keys <= query: [T, T]."""
    rng = np.random.default_rng(seed)
    w = np.tril(rng.random((t, t)))
    return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def heatmap(show) -> AttentionHeatmap:
    widget = AttentionHeatmap(font_size=10)
    weights = causal_weights(len(LABELS))
    weights[11, 10] = 0.412
    widget.set_data(weights, LABELS)
    return show(widget, (800, 700))


def view_point(widget: AttentionHeatmap, query: int, key: int) -> QPoint:
    return widget.mapFromScene(widget.cell_scene_pos(query, key))


def test_image_equals_input_below_diagonal(heatmap: AttentionHeatmap) -> None:
    image = heatmap.image_item.image
    assert image.shape == (12, 12)
    lower = np.tril(np.ones((12, 12), dtype=bool))
    np.testing.assert_allclose(image[lower], heatmap._weights[lower])
    assert image[11, 10] == pytest.approx(0.412)
    assert heatmap.image_item.levels is not None and tuple(heatmap.image_item.levels) == (0.0, 1.0)


def test_mask_covers_exactly_the_upper_triangle(heatmap: AttentionHeatmap) -> None:
    rgba = heatmap.mask_item.image
    assert rgba.shape == (12, 12, 4)
    np.testing.assert_array_equal(rgba[..., 3] == 255, np.triu(np.ones((12, 12), dtype=bool), k=1))
    np.testing.assert_array_equal(rgba[..., 3][np.tril(np.ones((12, 12), dtype=bool))], 0)
    grey = LIGHT.masked.lstrip("#")
    assert tuple(rgba[0, 5, :3]) == tuple(int(grey[i : i + 2], 16) for i in (0, 2, 4))


def test_mask_is_drawn_on_screen(heatmap: AttentionHeatmap) -> None:
    frame = heatmap.grab().toImage()
    masked = frame.pixelColor(view_point(heatmap, 0, 11))
    assert masked.name().upper() == LIGHT.masked.upper()
    visible = frame.pixelColor(view_point(heatmap, 11, 0))
    assert visible.name().upper() != LIGHT.masked.upper()


def test_query_zero_is_the_top_row(heatmap: AttentionHeatmap) -> None:
    assert view_point(heatmap, 0, 0).y() < view_point(heatmap, 11, 0).y()
    assert view_point(heatmap, 0, 0).x() < view_point(heatmap, 0, 11).x()


def test_hover_shows_cell_text_and_emits(heatmap: AttentionHeatmap, qtbot) -> None:
    with qtbot.waitSignal(heatmap.cell_hovered, timeout=1000) as blocker:
        qtbot.mouseMove(heatmap.viewport(), view_point(heatmap, 11, 10))
    query, key, weight = blocker.args
    assert (query, key) == (11, 10)
    assert weight == pytest.approx(0.412, abs=1e-6)
    assert heatmap.hover_text() == "query '␣is' (11) → key '␣France' (10): 0.412"
    assert "0.412" in heatmap._hover_label.text


def test_hover_over_future_key_says_masked(heatmap: AttentionHeatmap) -> None:
    assert heatmap.cell_text(2, 5) == "query '␣of' (2) → key '␣Berlin' (5): masked (future key)"


def test_every_token_is_a_tick_when_few(heatmap: AttentionHeatmap) -> None:
    left = heatmap.plot_item.getAxis("left")._tickLevels[0]
    bottom = heatmap.plot_item.getAxis("bottom")._tickLevels[0]
    assert [text for _, text in left] == LABELS
    assert [text for _, text in bottom] == LABELS
    assert [pos for pos, _ in left] == [i + 0.5 for i in range(12)]


def test_many_tokens_show_every_nth_label_ending_at_last(show) -> None:
    widget = show(AttentionHeatmap(font_size=10), (800, 700))
    labels = [f"t{i}" for i in range(200)]
    widget.set_data(causal_weights(200), labels)
    ticks = widget.plot_item.getAxis("left")._tickLevels[0]
    assert 1 < len(ticks) <= 60
    assert ticks[-1][1] == "t199"
    step = round(ticks[1][0] - ticks[0][0])
    assert step >= 4 and all(round(b[0] - a[0]) == step for a, b in zip(ticks, ticks[1:], strict=False))


def test_tick_helpers() -> None:
    assert tick_step(12, pixels_per_item=40, line_height=15) == 1
    assert tick_step(100, pixels_per_item=40, line_height=15) == 2  # capped at 60 labels
    assert tick_step(12, pixels_per_item=5, line_height=15) == 3  # at least 0.9 of a line apart
    assert thinned_ticks(["a", "b", "c", "d", "e"], 2) == [(0.5, "a"), (2.5, "c"), (4.5, "e")]
    assert thinned_ticks(["a" * 30], 1)[0][1] == "a" * 13 + "…"


def test_click_selects_and_emits_row(heatmap: AttentionHeatmap, qtbot) -> None:
    with qtbot.waitSignal(heatmap.row_clicked, timeout=1000) as blocker:
        qtbot.mouseClick(heatmap.viewport(), Qt.MouseButton.LeftButton, pos=view_point(heatmap, 5, 2))
    assert blocker.args == [5]
    assert heatmap.selected_row() == 5
    rect = heatmap.selection_item.rect()
    assert heatmap.selection_item.isVisible()
    assert (rect.x(), rect.y(), rect.width(), rect.height()) == (0, 5, 12, 1)


def test_selected_row_outline(heatmap: AttentionHeatmap) -> None:
    heatmap.set_selected_row(3)
    assert heatmap.selection_item.rect().y() == 3
    assert heatmap.selection_item.pen().color().name().upper() == LIGHT.selection.upper()
    heatmap.set_selected_row(None)
    assert not heatmap.selection_item.isVisible()
    with pytest.raises(IndexError):
        heatmap.set_selected_row(12)


def test_title_and_bad_input(heatmap: AttentionHeatmap) -> None:
    heatmap.set_title("layer 3 · head <5>")
    assert "layer 3 · head &lt;5&gt;" in heatmap._title_label.text
    with pytest.raises(ValueError):
        heatmap.set_data(np.zeros((3, 4)), ["a", "b", "c"])
    with pytest.raises(ValueError):
        heatmap.set_data(np.zeros((3, 3)), ["a", "b"])


def test_smaller_sequence_resizes_mask(heatmap: AttentionHeatmap) -> None:
    heatmap.set_selected_row(11)
    heatmap.set_data(causal_weights(4), LABELS[:4])
    assert heatmap.mask_item.image.shape == (4, 4, 4)
    assert heatmap.selected_row() is None


def test_line_scale_thickens_the_selection_outline_and_axes(heatmap: AttentionHeatmap) -> None:
    heatmap.set_selected_row(2)
    outline, axis = heatmap.selection_item.pen().widthF(), heatmap.plot_item.getAxis("left").pen().widthF()
    heatmap.set_line_scale(2.0)
    assert heatmap.selection_item.pen().widthF() == pytest.approx(2 * outline)
    assert heatmap.plot_item.getAxis("left").pen().widthF() == pytest.approx(2 * axis)
    heatmap.set_line_scale(1.0)
    assert heatmap.selection_item.pen().widthF() == pytest.approx(outline)


def test_a_short_heatmap_gives_the_hover_row_to_the_query_rows(qtbot) -> None:
    """Too short to name every row with the hover readout in a row of its own: the readout moves
    into the title's row, and every query keeps its label."""
    from PySide6.QtCore import QPointF

    heatmap = AttentionHeatmap(font_size=10)
    qtbot.addWidget(heatmap)
    labels = [f"tok{i}" for i in range(12)]
    weights = np.tril(np.ones((12, 12), dtype=np.float32))
    heatmap.set_data(weights / weights.sum(1, keepdims=True), labels)
    heatmap.set_title("Layer 1 · Head 2")
    heatmap.resize(600, 900)
    heatmap.show()
    qtbot.waitUntil(lambda: not heatmap.compact)
    tall_rows = len(heatmap._ticks_shown[0])
    assert tall_rows == 12
    heatmap.resize(600, 300)  # 12 rows of 10-point labels no longer fit beside a hover row
    qtbot.waitUntil(lambda: heatmap.compact)
    qtbot.waitUntil(lambda: heatmap._ticks_shown is not None and len(heatmap._ticks_shown[0]) == 12)
    heatmap._on_mouse_moved(heatmap.cell_scene_pos(5, 2))
    assert "tok5" in heatmap._title_label.text and "0.167" in heatmap._title_label.text
    heatmap._on_mouse_moved(QPointF(-50, -50))
    assert "Layer 1 · Head 2" in heatmap._title_label.text


def test_mask_follows_the_theme(heatmap: AttentionHeatmap) -> None:
    from PySide6.QtGui import QColor

    from viz.theme import DARK

    heatmap.set_palette(DARK)
    r, g, b, a = heatmap.mask_item.image[0, -1]
    assert QColor(int(r), int(g), int(b)) == QColor(DARK.masked) and a == 255
