"""Block views: the series key sits above the data, labels never collide, lines and fonts scale."""

from __future__ import annotations

import numpy as np
import pytest

from viz.block_views import GroupedBars, SignedBars, StepLines


@pytest.fixture
def grouped(show) -> GroupedBars:
    widget = show(GroupedBars(font_size=10), (1100, 300))
    layers = [str(i) for i in range(30)]
    widget.set_series(layers, {"‖attention update‖": np.linspace(10, 90, 30), "‖MLP update‖": np.linspace(30, 470, 30)},
                      "layer", "norm", highlight=15)
    return widget


def test_series_key_is_above_the_plot_not_over_the_bars(grouped: GroupedBars) -> None:
    plot = grouped.getPlotItem()
    assert plot.legend is None  # no legend box inside the view, where it covered the tallest bars
    title = plot.titleLabel
    assert "‖attention update‖" in title.text and "‖MLP update‖" in title.text and title.isVisible()
    assert title.sceneBoundingRect().bottom() <= plot.vb.sceneBoundingRect().top() + 1
    # The tallest bar reaches into the view's top 10 %: nothing is drawn over it any more.
    (_, _), (low, high) = plot.vb.viewRange()
    assert 470 <= high <= 470 * 1.1


def test_category_labels_thin_out_instead_of_colliding(grouped: GroupedBars) -> None:
    assert grouped.tick_labels() == [str(i) for i in range(30)]
    grouped.set_font_size(28)  # presentation-sized type in a narrow plot
    labels = grouped.tick_labels()
    assert labels[0] == "0" and 1 < len(labels) < 30


def test_highlight_outline_and_zero_line_follow_the_line_scale(grouped: GroupedBars) -> None:
    def widths() -> tuple[float, float]:
        outline = grouped._items[0].opts["pens"][15].widthF()
        return outline, grouped.getPlotItem().getAxis("bottom").pen().widthF()

    before = widths()
    grouped.set_line_scale(2.0)
    assert widths() == pytest.approx(tuple(2 * w for w in before))
    np.testing.assert_allclose(grouped.series()["‖MLP update‖"], np.linspace(30, 470, 30))  # data kept


def test_signed_bars_keep_single_spikes_visible(show) -> None:
    values = np.zeros(1536, dtype=np.float32)
    values[960] = 2.2
    strip = show(SignedBars(), (600, 160))
    strip.set_values(values, "neuron", "activation")
    pens = strip._bars.opts["pens"]
    # Bars are narrower than a pixel here; a pen in the bar's colour draws each at least 1 px wide.
    assert len(pens) == 1536 and pens[960].color() == strip._bars.opts["brushes"][960]
    strip.set_line_scale(2.0)
    assert strip._bars.opts["pens"][960].widthF() == pytest.approx(2 * pens[960].widthF())


def test_step_lines_start_at_zero_with_the_key_above(show) -> None:
    lines = show(StepLines(), (600, 300))
    lines.set_lines({"with cache": np.array([170.0, 90, 80, 85]), "recompute every step": np.array([130.0, 150, 170])},
                    "generated token", "milliseconds")
    (x_lo, x_hi), (y_lo, y_hi) = lines.getPlotItem().vb.viewRange()
    assert y_lo == pytest.approx(0) and y_hi >= 170 and (x_lo, x_hi) == pytest.approx((0.5, 4.5))
    assert "with cache" in lines.getPlotItem().titleLabel.text
    width = lines.getPlotItem().listDataItems()[0].opts["pen"].widthF()
    lines.set_line_scale(2.0)
    assert lines.getPlotItem().listDataItems()[0].opts["pen"].widthF() == pytest.approx(2 * width)


def test_a_few_long_category_names_turn_instead_of_losing_labels(qtbot) -> None:
    """Token names such as ' Paris' in a narrow comparison: every bar keeps its label, read bottom-to-top."""
    bars = GroupedBars()
    qtbot.addWidget(bars)
    bars.resize(260, 240)
    bars.show()
    qtbot.waitExposed(bars)
    names = [" Paris", " Rome", " Berlin", " Madrid", " London", " Vienna", " Prague", " Lisbon"]
    bars.set_series(names, {"pinned": np.linspace(0.1, 0.8, 8), "current": np.linspace(0.8, 0.1, 8)})
    qtbot.wait(10)
    assert bars.is_rotated() and bars.tick_labels() == names
    axis = bars.getPlotItem().getAxis("bottom")
    assert axis.height() > 40  # tall enough for the longest name on its side
    bars.resize(1200, 240)  # room for them side by side again
    qtbot.wait(10)
    assert not bars.is_rotated() and bars.tick_labels() == names
