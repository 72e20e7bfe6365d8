"""TrajectoryPlot: dots at the requested layer, last token red and larger, trails, labels."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from viz.theme import LIGHT
from viz.trajectory_plot import TrajectoryPlot

T, L = 6, 4
LABELS = ["The", "␣capital", "␣of", "␣France", "␣is", "␣Paris"]


@pytest.fixture
def points() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.normal(size=(L + 1, T, 2)).cumsum(axis=0)  # [L+1, T, 2]


@pytest.fixture
def plot(show, points: np.ndarray) -> TrajectoryPlot:
    widget = TrajectoryPlot(font_size=10)
    widget.set_data(points, LABELS)
    return show(widget, (700, 600))


def test_scatter_has_t_points_at_requested_layer(plot: TrajectoryPlot, points: np.ndarray) -> None:
    for layer in (0, 2, L):
        plot.set_layer(layer)
        x, y = plot.scatter_item.getData()
        assert len(x) == T
        np.testing.assert_allclose(np.column_stack([x, y]), points[layer])


def test_last_point_is_red_and_larger(plot: TrajectoryPlot) -> None:
    spots = plot.scatter_item.points()
    assert spots[-1].brush().color() == QColor(LIGHT.last_token)
    assert all(s.brush().color() == QColor(LIGHT.token) for s in spots[:-1])
    assert spots[-1].size() > max(s.size() for s in spots[:-1])


def test_selected_point_is_enlarged_and_outlined(plot: TrajectoryPlot) -> None:
    plot.set_selected(2)
    spots = plot.scatter_item.points()
    assert spots[2].size() > spots[1].size()
    assert spots[2].pen().color() == QColor(LIGHT.selection)
    plot.set_selected(None)
    assert plot.scatter_item.points()[2].size() == spots[1].size()


def test_trails_have_one_vertex_per_token_per_layer(plot: TrajectoryPlot, points: np.ndarray) -> None:
    plot.set_trails(True)
    plot.set_layer(3)
    x, y = plot.trail_item.getData()
    assert len(x) == (T - 1) * 4
    connect = plot.trail_item.opts["connect"]
    assert (~connect).sum() == T - 1  # one break after each token's path
    np.testing.assert_allclose(np.column_stack([x, y])[:4], points[:4, 0])  # token 0, layers 0..3
    lx, ly = plot.last_trail_item.getData()
    np.testing.assert_allclose(np.column_stack([lx, ly]), points[:4, -1])
    plot.set_layer(0)
    assert len(plot.trail_item.getData()[0]) == 0
    plot.set_layer(L)
    plot.set_trails(False)
    assert len(plot.trail_item.getData()[0]) == 0 and len(plot.last_trail_item.getData()[0]) == 0


def label_rects(widget: TrajectoryPlot) -> dict[int, object]:
    return {i: item.sceneBoundingRect() for i, item in widget.label_items()}


def test_every_token_labelled_when_few(plot: TrajectoryPlot, points: np.ndarray) -> None:
    plot.set_layer(2)
    labels = plot.label_items()
    assert [i for i, _ in labels] == list(range(T))
    assert [item.toPlainText().strip() for _, item in labels] == LABELS
    for i, rect in label_rects(plot).items():  # each label right beside its own dot
        dot = plot.dot_scene_pos(i)
        gap = max(rect.left() - dot.x(), dot.x() - rect.right(), rect.top() - dot.y(), dot.y() - rect.bottom(), 0)
        assert gap < 20, (i, gap)


def test_labels_of_a_crowded_plot_never_overlap(show) -> None:
    """Tokens bunched together (as the embeddings often are) keep readable labels: none overlaps
    another label or a dot; the last and the selected token are always named."""
    widget = show(TrajectoryPlot(font_size=10), (520, 260))
    rng = np.random.default_rng(3)
    n = 24
    points = rng.normal(scale=0.05, size=(2, n, 2))  # [L+1, T, 2] a tight cloud ...
    points[:, :3] += 3.0  # ... and three far away, so the view is wide and the cloud small
    widget.set_data(points, [f"token{i}" for i in range(n)])
    widget.set_selected(5)
    rects = label_rects(widget)
    assert {5, n - 1} <= set(rects)
    assert len(rects) < n  # some had no free place: their dots still name them on hover
    items = list(rects.items())
    for a, (i, ra) in enumerate(items):
        for j, rb in items[a + 1:]:
            assert not ra.intersects(rb), (i, j)
        for k in range(n):
            if k != i:
                dot = widget.dot_scene_pos(k)
                assert not ra.contains(dot), (i, k)


def test_only_selected_and_last_labelled_when_many(show) -> None:
    widget = show(TrajectoryPlot(), (600, 500))
    n = 100
    widget.set_data(np.random.default_rng(0).normal(size=(3, n, 2)), [f"w{i}" for i in range(n)])
    widget.set_selected(7)
    assert [i for i, _ in widget.label_items()] == [7, n - 1]
    assert sum(item.isVisible() for item in widget._texts) == 2


def test_view_range_fixed_across_layers(plot: TrajectoryPlot, points: np.ndarray) -> None:
    before = plot.getPlotItem().vb.viewRange()
    plot.set_layer(L)
    after = plot.getPlotItem().vb.viewRange()
    np.testing.assert_allclose(before, after)
    (x0, x1), (y0, y1) = after
    assert x0 < points[..., 0].min() and x1 > points[..., 0].max()
    assert y0 < points[..., 1].min() and y1 > points[..., 1].max()


def test_hover_text_and_click(plot: TrajectoryPlot, points: np.ndarray, qtbot) -> None:
    plot.set_layer(1)
    text = plot.hover_text(3)
    assert text.startswith("␣France (3)") and f"{points[1, 3, 0]:.3g}" in text
    assert plot.scatter_item.opts["tip"](x=0, y=0, data=3) == text
    vb = plot.getPlotItem().vb
    target = plot.mapFromScene(vb.mapViewToScene(plot.scatter_item.points()[3].pos()))
    with qtbot.waitSignal(plot.point_clicked, timeout=1000) as blocker:
        qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=target)
    assert blocker.args == [3]
    assert plot.selected() == 3


def test_title_names_the_layer(plot: TrajectoryPlot) -> None:
    plot.set_layer(0)
    assert "embeddings" in plot.getPlotItem().titleLabel.text
    plot.set_layer(2)
    assert "layer 2 / 4" in plot.getPlotItem().titleLabel.text
    with pytest.raises(IndexError):
        plot.set_layer(L + 1)


def test_line_scale_thickens_trails_selection_and_axes(plot: TrajectoryPlot) -> None:
    plot.set_layer(L)
    plot.set_selected(1)

    def widths() -> list[float]:
        return [plot.trail_item.opts["pen"].widthF(), plot.last_trail_item.opts["pen"].widthF(),
                plot.scatter_item.points()[1].pen().widthF(), plot.getPlotItem().getAxis("left").pen().widthF()]

    before = widths()
    plot.set_line_scale(2.0)
    assert plot.line_scale() == 2.0
    assert widths() == pytest.approx([2 * w for w in before])
    plot.set_line_scale(1.0)
    assert widths() == pytest.approx(before)
