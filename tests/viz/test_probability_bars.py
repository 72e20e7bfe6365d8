"""ProbabilityBars: bar lengths, greyed filtered bars, texts, logits toggle and sample counts."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor

from viz.probability_bars import ProbabilityBars
from viz.theme import LIGHT

LABELS = ["␣Paris", "␣the", "␣a", "␣Lyon", "␣located"]
LOGITS = np.array([17.3, 12.1, 11.5, 10.2, 9.9])
PROBS = np.array([0.974, 0.012, 0.008, 0.004, 0.002])
KEPT = np.array([True, True, False, False, True])


@pytest.fixture
def bars(show) -> ProbabilityBars:
    widget = ProbabilityBars(font_size=10)
    widget.set_data(LABELS, PROBS, KEPT, logits=LOGITS)
    return show(widget, (700, 400))


def test_bar_lengths_are_probabilities_most_likely_on_top(bars: ProbabilityBars) -> None:
    opts = bars.bar_item.opts
    np.testing.assert_allclose(opts["width"], PROBS)
    np.testing.assert_allclose(opts["y"], np.arange(5))
    vb = bars.getPlotItem().vb
    assert vb.yInverted()  # row 0 drawn at the top
    assert vb.mapViewToScene(QPointF(0.5, 0)).y() < vb.mapViewToScene(QPointF(0.5, 4)).y()


def test_filtered_bars_are_greyed(bars: ProbabilityBars) -> None:
    colours = [b.color() for b in bars.bar_item.opts["brushes"]]
    for colour, kept in zip(colours, KEPT, strict=True):
        if kept:
            assert colour == QColor(LIGHT.token)
        else:
            assert colour.rgb() == QColor(LIGHT.muted).rgb() and colour.alpha() < 255
    texts = bars.text_items()
    assert texts[2].color.rgb() == QColor(LIGHT.muted).rgb()
    assert texts[1].color.rgb() == QColor(LIGHT.foreground).rgb()


def test_each_bar_has_label_and_percentage(bars: ProbabilityBars) -> None:
    texts = [item.toPlainText().strip() for item in bars.text_items()]
    assert texts[0] == "␣Paris  97.4%"
    assert texts[1] == "␣the  1.2%"
    assert len(texts) == 5 and all(item.isVisible() for item in bars.text_items())


def test_long_bar_text_fits_inside_view(bars: ProbabilityBars) -> None:
    item = bars.text_items()[0]
    view = bars.getPlotItem().vb.sceneBoundingRect()
    assert view.contains(item.sceneBoundingRect())


def test_hover_text_shows_logit_and_probability(bars: ProbabilityBars) -> None:
    text = bars.hover_text(3)
    assert "p = 0.0040" in text and "logit = 10.200" in text and "filtered" in text

def test_mouse_over_a_bar_shows_its_logit(bars: ProbabilityBars, qtbot) -> None:
    vb = bars.getPlotItem().vb
    target = bars.mapFromScene(vb.mapViewToScene(QPointF(0.3, 3)))
    with qtbot.waitSignal(bars.bar_hovered, timeout=1000) as blocker:
        qtbot.mouseMove(bars.viewport(), target)
    assert blocker.args == [3]
    assert "logit = 10.200" in bars.getPlotItem().titleLabel.text


def test_show_logits_switches_bar_lengths(bars: ProbabilityBars) -> None:
    bars.set_show_logits(True)
    np.testing.assert_allclose(bars.bar_item.opts["width"], LOGITS)
    assert bars.text_items()[0].toPlainText().strip() == "␣Paris  17.30"
    bars.set_show_logits(False)
    np.testing.assert_allclose(bars.bar_item.opts["width"], PROBS)


def test_counts_draw_frequency_bars_and_text(bars: ProbabilityBars) -> None:
    counts = np.array([37, 2, 1, 0, 0])
    bars.set_data(LABELS, PROBS, KEPT, logits=LOGITS, counts=counts)
    assert bars.count_item.isVisible()
    np.testing.assert_allclose(bars.count_item.opts["width"], counts / counts.sum())
    assert bars.text_items()[0].toPlainText().strip() == "␣Paris  97.4%   ·  37× (92.5%)"
    assert bars.count_text(4) == "0×"
    bars.set_data(LABELS, PROBS, KEPT)
    assert not bars.count_item.isVisible()


def test_shares_are_count_over_all_draws_on_the_probability_scale(bars: ProbabilityBars) -> None:
    """1000 draws of which the bars show 850: each share is count / 1000, never count / 850 (which
    made "737× (86.8%)" sit beside p = 74.3% with a count bar longer than the probability bar)."""
    draws = 1000
    counts = np.array([737, 60, 30, 13, 10])  # 850 shown; 150 went to tokens not in the bars
    bars.set_data(LABELS, PROBS, KEPT, logits=LOGITS, counts=counts, draws=draws)
    np.testing.assert_allclose(bars.shares(), counts / draws)
    np.testing.assert_allclose(bars.count_item.opts["width"], counts / draws)
    assert bars.count_text(0) == "737× (73.7%)"
    assert all(f"({100 * c / draws:.1f}%)" in bars.bar_text(i) for i, c in enumerate(counts))
    assert bars.count_item.opts["width"].sum() <= 1.0
    with pytest.raises(ValueError, match="fewer than the counts"):
        bars.set_data(LABELS, PROBS, KEPT, counts=counts, draws=100)


def test_moved_and_removed_bars_say_why_on_hover(bars: ProbabilityBars, qtbot) -> None:
    before = np.array([np.nan, 0.05, np.nan, np.nan, 0.3])
    notes = ["", "repetition penalty 1.3 (2× in the text so far)", "cut by top-k 2", "", "banned by logit bias -100"]
    kept = np.array([True, True, False, True, False])
    bars.set_data(LABELS, PROBS, kept, logits=LOGITS, before=before, notes=notes)
    assert bars.is_moved(1) and not bars.is_moved(0)
    np.testing.assert_allclose(bars.ghost_item.opts["width"], [0.05, 0.3])  # outlines where the model put them
    assert bars.ghost_item.isVisible()
    assert "repetition penalty 1.3" in bars.hover_text(1) and "model alone: 0.0500" in bars.hover_text(1)
    assert bars.hover_text(4).endswith("banned by logit bias -100")
    assert bars.hover_text(3).endswith("(filtered out)") is False and "cut" not in bars.hover_text(3)
    vb = bars.getPlotItem().vb
    bars._on_mouse_moved(vb.mapViewToScene(QPointF(0.01, 1)))
    assert "repetition penalty" in bars.toolTip()
    # a moved bar is paler than an untouched kept one
    brushes = bars.bar_item.opts["brushes"]
    assert brushes[1].color().lightness() > brushes[0].color().lightness()
    bars.set_data(LABELS, PROBS, KEPT, logits=LOGITS)
    assert not bars.ghost_item.isVisible()


def test_mismatched_lengths_raise(bars: ProbabilityBars) -> None:
    with pytest.raises(ValueError):
        bars.set_data(LABELS, PROBS[:3], KEPT)
    with pytest.raises(ValueError):
        bars.set_data(LABELS, PROBS, KEPT, counts=np.ones(2))


def test_short_view_keeps_full_size_labels_and_shows_the_top_rows(show) -> None:
    """Large type in a short panel (presentation mode): fewer rows, never shrunken labels."""
    labels = [f"␣tok{i}" for i in range(12)]
    probs = np.linspace(0.3, 0.01, 12)
    bars = show(ProbabilityBars(font_size=16), (700, 260))
    bars.set_data(labels, probs, np.ones(12, dtype=bool))
    rows = bars.visible_rows()
    assert 3 <= rows < 12
    shown = [item for item in bars.text_items() if item.isVisible()]
    assert len(shown) == rows
    assert all(item.textItem.font().pointSizeF() == pytest.approx(16) for item in shown)
    view = bars.getPlotItem().vb
    (_, _), (top, bottom) = view.viewRange()
    assert (top, bottom) == pytest.approx((-0.5, rows - 0.5))
    # Room enough again: every bar and text comes back.
    bars.resize(700, 900)
    assert bars.visible_rows() == 12
    assert all(item.isVisible() for item in bars.text_items())


def test_line_scale_thickens_outlines_and_axes(bars: ProbabilityBars) -> None:
    def widths() -> tuple[float, float, float]:
        pens = bars.bar_item.opts["pens"]
        filtered = pens[2].widthF()  # KEPT[2] is False: outlined so the faint bar still reads
        return filtered, bars.getPlotItem().getAxis("bottom").pen().widthF(), bars._zero_line.pen.widthF()

    assert bars.bar_item.opts["pens"][0].style() == Qt.PenStyle.NoPen  # kept bars have no outline
    before = widths()
    bars.set_line_scale(2.0)
    assert widths() == pytest.approx(tuple(2 * w for w in before))
    bars.set_line_scale(1.0)
    assert widths() == pytest.approx(before)
