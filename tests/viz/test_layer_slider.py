"""LayerSlider: range, caption, signal and the Play timer."""

from __future__ import annotations

import pytest

from viz.layer_slider import LayerSlider


@pytest.fixture
def slider(show) -> LayerSlider:
    widget = LayerSlider(interval_ms=10)
    widget.set_maximum(3)
    return show(widget, (500, 60))


def test_set_layer_emits_and_updates_caption(slider: LayerSlider, qtbot) -> None:
    with qtbot.waitSignal(slider.layer_changed, timeout=1000) as blocker:
        slider.set_layer(2)
    assert blocker.args == [2]
    assert slider.layer() == 2
    assert slider.caption() == "Layer 2 / 3"
    slider.set_layer(99)
    assert slider.layer() == 3


def test_play_runs_to_the_end_and_pauses(slider: LayerSlider, qtbot) -> None:
    seen: list[int] = []
    slider.layer_changed.connect(seen.append)
    slider.play()
    assert slider.is_playing()
    qtbot.waitUntil(lambda: not slider.is_playing(), timeout=2000)
    assert seen == [1, 2, 3]
    assert slider.layer() == 3
    assert "Play" in slider._button.text()


def test_play_at_end_restarts_and_loop_wraps(slider: LayerSlider, qtbot) -> None:
    slider.set_layer(3)
    slider.set_loop(True)
    seen: list[int] = []
    slider.layer_changed.connect(seen.append)
    slider.play()
    qtbot.waitUntil(lambda: seen.count(0) >= 2, timeout=2000)
    slider.pause()
    assert not slider.is_playing()
    assert seen[:5] == [0, 1, 2, 3, 0]


def test_line_scale_thickens_the_slider_and_resets(slider: LayerSlider) -> None:
    inner = slider._slider
    assert inner.styleSheet() == ""  # the platform's slider, with tick marks
    slider.set_line_scale(2.0)
    assert slider.line_scale() == 2.0
    assert "height: 6px" in inner.styleSheet() and inner.minimumHeight() >= 32
    slider.set_line_scale(1.0)
    assert inner.styleSheet() == "" and inner.minimumHeight() == 0


def test_play_and_pause_use_glyphs_the_font_has(qtbot):
    """A glyph the font lacks is drawn as a box: "▯ Pause" on a projector."""
    from PySide6.QtGui import QFontMetrics

    slider = LayerSlider()
    qtbot.addWidget(slider)
    slider.set_maximum(3)
    metrics = QFontMetrics(slider._button.font())
    texts = [slider.button_text()]
    slider.play()
    texts.append(slider.button_text())
    slider.pause()
    assert texts[0].endswith("Play") and texts[1].endswith("Pause")
    missing = [c for text in texts for c in text if not c.isspace() and not metrics.inFontUcs4(ord(c))]
    assert missing == []
