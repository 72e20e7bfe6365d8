"""Why this token, through the real window: type a prompt, pick the token to explain from the bars
or the vocabulary, compute each method, see the chips tinted by the engine's scores, follow a
generation step, cancel, export."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from desktop.core.requests import tracing as m
from model_core.types.attribution import GRAD_X_INPUT, INTEGRATED_GRADIENTS, ROLLOUT
from tests.desktop.helpers import raise_dock

PROMPT = "The capital of France is"


@pytest.fixture
def window(make_window, tiny_llama_dir):
    return make_window(model=str(tiny_llama_dir), prompt="Hello there")


def shown(window):
    raise_dock(window, "attribution")
    return window.panel("attribution")


def wait_result(panel, qtbot, method: str, target: int | None = None, n: int | None = None):
    def ready():
        r = panel.result
        return (r is not None and r.method == method and (target is None or r.target_id == target)
                and (n is None or r.n_tokens == n) and not panel._running)

    qtbot.waitUntil(ready, timeout=60_000)
    return panel.result


def test_type_pick_compute_and_see_tints(window, tiny_llama, qtbot):
    from model_core.engine.attribution.attribute import attribute

    with qtbot.waitSignal(window.state.trace_changed, timeout=30_000):
        window.prompt_panel.set_text(PROMPT)
    panel = shown(window)
    trace = window.state.trace
    ids = trace.tokens.ids.tolist()
    top = int(np.argmax(trace.next_logits))
    # Gradient × input follows by itself, for the top prediction.
    result = wait_result(panel, qtbot, GRAD_X_INPUT, top, len(ids))
    expected = attribute(tiny_llama, ids, top, GRAD_X_INPUT)
    np.testing.assert_allclose(result.scores, expected.scores, rtol=1e-5, atol=1e-7)
    chips = panel.chips
    assert chips.count() == len(ids)
    strongest = int(np.argmax(np.abs(result.scores)))
    tint = chips.tint(strongest)
    assert (tint.red() > tint.blue()) == (result.scores[strongest] > 0)
    assert f"{result.scores[strongest]:+.5g}" in chips.chip(strongest).toolTip()
    assert "raises" in chips.legend_text() and "lowers" in chips.legend_text()
    assert panel.layers.values().shape == (tiny_llama.info.n_layers + 1, len(ids))

    # Click the third bar: that token is explained.
    third = int(np.argsort(-trace.next_logits, kind="stable")[2])
    bars = panel.bars
    qtbot.mouseClick(bars.viewport(), Qt.MouseButton.LeftButton,
                     pos=bars.mapFromScene(bars.getPlotItem().vb.mapViewToScene(QPointF(0.001, 2))))
    assert wait_result(panel, qtbot, GRAD_X_INPUT, third).target_id == third

    # Any token from the vocabulary, then integrated gradients with its completeness error.
    word = tiny_llama.tokenizer.decode([42])
    panel.set_method(INTEGRATED_GRADIENTS)
    panel.steps.setValue(8)
    assert panel.pick_text(word)
    result = wait_result(panel, qtbot, INTEGRATED_GRADIENTS, 42)
    expected = attribute(tiny_llama, ids, 42, INTEGRATED_GRADIENTS, steps=8)
    np.testing.assert_allclose(result.scores, expected.scores, rtol=1e-5, atol=1e-7)
    assert "Completeness" in panel.completeness.text() and f"{result.completeness_error:+.4g}" in panel.completeness.text()
    assert "no per-layer view" in panel.layers.title_text()
    assert not panel.pick_text("not one token at all, surely")
    assert "not one token" in panel.summary.text()

    # Rollout: chips sum to 1 and the map has every layer.
    panel.set_method(ROLLOUT)
    result = wait_result(panel, qtbot, ROLLOUT)
    assert result.scores.sum() == pytest.approx(1.0, abs=1e-4)


def test_follows_each_generation_step_and_exports(window, qtbot, tmp_path):
    panel = shown(window)
    wait_result(panel, qtbot, GRAD_X_INPUT, n=window.state.trace.n_tokens)
    with qtbot.waitSignal(window.state.trace_changed, timeout=30_000):
        qtbot.mouseClick(window.generation_panel.buttons[m.STEP], Qt.MouseButton.LeftButton)
    trace = window.state.trace
    # The token the step added is explained, from the tokens before it.
    result = wait_result(panel, qtbot, GRAD_X_INPUT, int(trace.tokens.ids[-1]), trace.n_tokens - 1)
    assert panel.chips.count() == trace.n_tokens - 1
    # Integrated gradients follows the next step too (it waits for Compute only on a new prompt).
    panel.set_method(INTEGRATED_GRADIENTS)
    panel.steps.setValue(4)
    panel.compute()
    wait_result(panel, qtbot, INTEGRATED_GRADIENTS, int(trace.tokens.ids[-1]), trace.n_tokens - 1)
    with qtbot.waitSignal(window.state.trace_changed, timeout=30_000):
        qtbot.mouseClick(window.generation_panel.buttons[m.STEP], Qt.MouseButton.LeftButton)
    trace = window.state.trace
    wait_result(panel, qtbot, INTEGRATED_GRADIENTS, int(trace.tokens.ids[-1]), trace.n_tokens - 1)
    panel.set_method(GRAD_X_INPUT)
    result = wait_result(panel, qtbot, GRAD_X_INPUT, int(trace.tokens.ids[-1]), trace.n_tokens - 1)
    csv_path, npz_path = tmp_path / "a.csv", tmp_path / "a.npz"
    assert panel.export_scores(str(csv_path)) and panel.export_scores(str(npz_path))
    assert len(csv_path.read_text().splitlines()) == trace.n_tokens
    np.testing.assert_array_equal(np.load(npz_path)["scores"], result.scores)
    assert not panel.export_scores(str(tmp_path))  # a folder: said in the panel
    assert "Could not export" in panel.summary.text()
    # The same from File ▸ Export: a failure reaches the banner too.
    from desktop.features.attribution_exports import export_to

    assert export_to(window, "attribution", "export_scores", "attribution scores", str(tmp_path / "b.npz"))
    np.testing.assert_array_equal(np.load(tmp_path / "b.npz")["scores"], result.scores)
    assert not export_to(window, "attribution", "export_scores", "attribution scores", str(tmp_path))
    assert "Could not export" in window.banner.text()
    from PySide6.QtGui import QAction

    labels = [a.text() for a in window.findChildren(QAction)]
    assert "Export attribution scores (.csv/.npz)…" in labels and "Export comparison (.csv/.npz)…" in labels


def test_cancel_a_long_integrated_gradients(window, qtbot, monkeypatch):
    from model_core.engine.attribution import gradients

    monkeypatch.setattr(gradients, "IG_BATCH", 1)  # one model call per step: 1024 calls, long enough to cancel
    panel = shown(window)
    wait_result(panel, qtbot, GRAD_X_INPUT)
    panel.set_method(INTEGRATED_GRADIENTS)
    panel.steps.setValue(10_000)
    assert panel.steps.value() == 1024  # the most the panel offers
    panel.compute()
    assert panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=30_000)
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Cancelled" in panel.summary.text(), timeout=30_000)
    assert panel.compute_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert panel.result.method == GRAD_X_INPUT  # the earlier result stays
