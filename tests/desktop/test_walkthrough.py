"""Drive the real main window like a user, on the built-in model, offscreen."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from desktop.core.presets import DEFAULT_PROMPT
from desktop.shell.smoke_test import panel_problems

pytestmark = pytest.mark.builtin

CAPITAL = "The capital of Germany is Berlin. The capital of France is"


def pick_preset(window, qtbot, name_part: str):
    combo = window.prompt_panel.presets
    index = next(i for i in range(combo.count()) if name_part in combo.itemText(i))
    with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
        combo.setCurrentIndex(index)
        combo.activated.emit(index)
    return combo.itemData(index)


def test_capital_walkthrough(make_window, qtbot):
    window = make_window(prompt="Hello")
    text = pick_preset(window, qtbot, "Capital of France")
    assert text == CAPITAL
    state = window.state
    trace = state.trace
    assert not panel_problems(window)

    # Token chips: 12 tokens with ids, leading spaces visible.
    chips = window.prompt_panel.chips
    assert chips.count() == trace.n_tokens == 12
    assert chips.chip(1).label == "␣capital"
    assert chips.chip(1).token_id == int(trace.tokens.ids[1])
    assert "58 characters · 58 bytes · 12 tokens" in window.prompt_panel.counts.text()

    # Attention heatmap: T x T with the selected layer/head's weights.
    heat = window.attention_panel.heatmap
    sel = state.selection
    np.testing.assert_allclose(heat.image_item.image[np.tril_indices(12)],
                               trace.attention[sel.layer, sel.head].astype(np.float32)[np.tril_indices(12)], atol=1e-6)

    # Trajectories: one point per token; the last is the red one.
    assert len(window.trajectory_panel.plot.scatter_item.data) == 12

    # Distribution: " Paris" on top at about 97%.
    bars = window.distribution_panel.bars
    assert bars.bar_text(0).startswith("␣Paris")
    assert 0.95 < bars.bar_values()[0] < 0.99

    # Stepper shows the prompt and 0 / 20.
    assert window.generation_panel.counter.text() == "0 / 20"
    assert window.generation_panel.text.toPlainText() == CAPITAL


def test_step_grows_the_prompt_and_every_panel_follows(make_window, qtbot):
    window = make_window(prompt=CAPITAL)
    with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
        qtbot.mouseClick(window.generation_panel.buttons["step"], Qt.MouseButton.LeftButton)
    trace = window.state.trace
    assert trace.n_tokens == 13 and trace.n_prompt == 12
    assert window.state.label(int(trace.tokens.ids[-1])) == "␣Paris"
    assert window.generation_panel.counter.text() == "1 / 20"
    assert window.generation_panel.text.toPlainText() == CAPITAL + " Paris"
    assert window.prompt_panel.chips.count() == 13
    assert window.prompt_panel.chips.chip(12).is_new
    # The counts line counts the prompt's characters, bytes and tokens, then the generated ones.
    qtbot.waitUntil(lambda: window.prompt_panel.counts.text().endswith("· 12 tokens + 1 generated"), timeout=5_000)
    assert window.attention_panel.heatmap.image_item.image.shape == (13, 13)
    assert len(window.trajectory_panel.plot.scatter_item.data) == 13
    assert window.state.selection.position == 12
    # Undo goes back to the prompt.
    with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
        qtbot.mouseClick(window.generation_panel.buttons["undo"], Qt.MouseButton.LeftButton)
    assert window.state.trace.n_tokens == 12
    assert window.generation_panel.counter.text() == "0 / 20"


def test_layer_slider_moves_the_capital_tokens_apart(make_window, qtbot):
    window = make_window(prompt=CAPITAL)
    panel = window.trajectory_panel
    L = window.state.info.n_layers
    panel.slider.set_layer(0)
    at_zero = np.array(panel.plot.scatter_item.getData()).T.copy()  # [T, 2]
    panel.slider.set_layer(L)
    at_last = np.array(panel.plot.scatter_item.getData()).T.copy()
    assert not np.allclose(at_zero, at_last)
    # the two " capital" tokens (positions 1 and 8) coincide at layer 0, then separate
    assert np.linalg.norm(at_zero[1] - at_zero[8]) < 1e-6
    assert np.linalg.norm(at_last[1] - at_last[8]) > 1e-3


def test_selection_changes_redraw_without_the_model(make_window, qtbot):
    window = make_window(prompt=CAPITAL)
    requests = []
    window.client.request_sent.connect(requests.append)
    qtbot.mouseClick(window.prompt_panel.chips.chip(3), Qt.MouseButton.LeftButton)
    assert window.state.selection.position == 3
    assert window.attention_panel.heatmap.selected_row() == 3
    window.attention_panel.layer_box.activated.emit(2)
    assert window.state.selection.layer == 2
    image = window.attention_panel.heatmap.image_item.image
    np.testing.assert_allclose(image[np.tril_indices(12)], window.state.trace.attention[2, window.state.selection.head]
                               .astype(np.float32)[np.tril_indices(12)], atol=1e-6)
    # Only a cheap position request (unembedding of the selected token) may go out; no new trace.
    assert all(type(r).__name__ == "PositionRequest" for r in requests)


def test_temperature_reshapes_bars_and_top_k_greys(make_window, qtbot):
    window = make_window(prompt=CAPITAL)
    panel = window.distribution_panel
    panel.top_k.setValue(3)
    kept = panel.bars._kept
    assert kept[:3].all() and not kept[3:].any()
    before = panel.bars.bar_values()[0]
    panel.top_k.setValue(0)
    panel.temperature.setValue(3.0)
    assert panel.bars.bar_values()[0] < before


def test_bad_prompt_shows_a_message_and_the_app_keeps_working(make_window, qtbot):
    window = make_window(prompt=CAPITAL)
    window.prompt_panel.set_text("", submit=True)
    assert "empty" in window.banner.text()
    with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
        window.prompt_panel.set_text("Hello world")
    assert window.state.trace.n_tokens == 2


def test_default_prompt_is_the_capital_sentence():
    assert DEFAULT_PROMPT == CAPITAL


def test_chips_can_be_tinted_by_surprisal(make_window, qtbot):
    window = make_window(prompt=CAPITAL)
    qtbot.waitUntil(lambda: window.state.surprisal is not None, timeout=30_000)
    panel = window.prompt_panel
    panel.tint.setCurrentIndex(1)
    panel.tint.activated.emit(1)
    bits = window.state.surprisal.bits
    assert np.isnan(bits[0]) and np.isfinite(bits[1:]).all()
    weights = [panel.chips.chip(i).weight for i in range(12)]
    most = int(np.nanargmax(bits))
    assert weights[most] == pytest.approx(1.0)
    assert weights[0] == 0.0
    np.testing.assert_allclose(weights[1:], bits[1:] / np.nanmax(bits), atol=1e-6)
    assert "surprisal" in panel.chips.chip(most).toolTip() or "bits" in panel.chips.chip(most).toolTip()
