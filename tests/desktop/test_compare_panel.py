"""Side by side, through the real window: pin a run, type another prompt and change the temperature,
and the panel shows exactly what two independent traces give."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from model_core.analysis.sampling import SamplingSettings, shape_distribution
from tests.desktop.helpers import raise_dock


def test_pin_and_compare_two_prompts(make_window, tiny_llama_dir, tiny_llama, qtbot, tmp_path):
    from model_core.engine.tracing import run_trace

    window = make_window(model=str(tiny_llama_dir), prompt="The capital of France is")
    raise_dock(window, "compare")
    panel = window.panel("compare")
    assert panel.waiting.isVisible() and not panel.split.isVisible()  # not bare "A"/"B" and empty axes
    qtbot.mouseClick(panel.pin_button, Qt.MouseButton.LeftButton)
    assert panel.pinned is not None and panel.unpin_button.isEnabled()
    with qtbot.waitSignal(window.state.trace_changed, timeout=30_000):
        window.prompt_panel.set_text("The capital of Germany is")
    window.distribution_panel.temperature.setValue(1.5)
    settings = window.state.settings
    assert settings.temperature == pytest.approx(1.5)
    qtbot.waitUntil(lambda: panel.pairs is not None and panel.result is not None
                    and panel.result.current.text == "The capital of Germany is", timeout=60_000)
    qtbot.waitUntil(lambda: "Current" in panel.summary.text(), timeout=10_000)
    assert panel.split.isVisible() and not panel.waiting.isVisible()
    a = run_trace(tiny_llama, "The capital of France is")
    b = run_trace(tiny_llama, "The capital of Germany is")
    pa = shape_distribution(a.next_logits, SamplingSettings(), a.tokens.ids).shaped
    pb = shape_distribution(b.next_logits, settings, b.tokens.ids).shaped
    pairs = panel.pairs
    np.testing.assert_allclose(pairs.pinned, pa[pairs.ids], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(pairs.current, pb[pairs.ids], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(panel.bars.series()["current − pinned"], pb[pairs.ids] - pa[pairs.ids], atol=1e-6)
    # Token chips aligned: the country differs, the rest lines up.
    differing = panel.chips.differing()
    assert differing and all(panel.chips.pairs()[i][0] != panel.chips.pairs()[i][1] for i in differing)
    assert len(differing) < len(panel.chips.pairs())
    # The lens of both, and the selected head's attention in both.
    assert panel.lens_table.rowCount() == tiny_llama.info.n_layers + 1
    assert [row[1] for row in panel.lens] == [int(i) for i in a.lens_ids[:, 0]]
    assert [row[3] for row in panel.lens] == [int(i) for i in b.lens_ids[:, 0]]
    sel = window.state.selection
    for heatmap, trace in ((panel.attention_pinned, a), (panel.attention_current, b)):
        np.testing.assert_allclose(heatmap.image_item.image, trace.attention[sel.layer, sel.head].astype(np.float32),
                                   atol=2e-3)
    assert panel.attention_current._title == f"current: layer {sel.layer}, head {sel.head}"
    # Export: the paired bars as CSV, everything as .npz.
    assert panel.export_comparison(str(tmp_path / "c.csv")) and panel.export_comparison(str(tmp_path / "c.npz"))
    assert len((tmp_path / "c.csv").read_text().splitlines()) == len(pairs.ids) + 1
    np.testing.assert_allclose(np.load(tmp_path / "c.npz")["current_next_logits"], b.next_logits, rtol=1e-5, atol=1e-5)
    panel.unpin()
    assert panel.pinned is None and not panel.unpin_button.isEnabled()
    assert panel.waiting.isVisible() and not panel.split.isVisible()


def test_second_model_alongside_checks_memory_and_tokenizer(make_window, tiny_llama_dir, tiny_gpt2_dir, tiny_chat_dir,
                                                            tiny_gpt2, qtbot, monkeypatch):
    from model_core.engine import memory
    from model_core.engine.tracing import trace_ids

    window = make_window(model=str(tiny_llama_dir), prompt="The capital of France is")
    raise_dock(window, "compare")
    panel = window.panel("compare")
    panel.pin()
    # Not enough memory left: refused before loading, said in the panel; nothing is loaded.
    monkeypatch.setattr(memory, "free_memory", lambda _device: 1024)
    panel.load_second(str(tiny_llama_dir))
    qtbot.waitUntil(lambda: "not loaded" in panel.note.text(), timeout=30_000)
    assert "does not fit" in panel.note.text() and not panel.on_second.isEnabled()
    assert window.client.worker.session.second_lm is None
    monkeypatch.undo()
    # Another tokenizer (the chat model has two more tokens): refused, naming both.
    panel.load_second(str(tiny_chat_dir))
    qtbot.waitUntil(lambda: "not loaded" in panel.note.text() and "tokenizer" in panel.note.text(), timeout=30_000)
    assert window.client.worker.session.second_lm is None
    # GPT-2 with the same vocabulary: loaded; the current side runs on it and equals its own trace of the same ids.
    panel.load_second(str(tiny_gpt2_dir))
    qtbot.waitUntil(lambda: panel.on_second.isEnabled(), timeout=30_000)
    assert "Second model beside the first" in panel.note.text()
    panel.on_second.setChecked(True)
    with qtbot.waitSignal(window.state.trace_changed, timeout=30_000):
        window.prompt_panel.set_text("The capital of Germany is")
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.current_on_second
                    and panel.result.current.text == "The capital of Germany is", timeout=60_000)
    expected = trace_ids(tiny_gpt2, window.state.trace.tokens.ids.tolist())
    np.testing.assert_allclose(panel.result.current.next_logits, expected.next_logits, rtol=1e-5, atol=1e-5)
    assert " on " in panel.summary.text()
    panel.load_second("")
    qtbot.waitUntil(lambda: not panel.on_second.isEnabled(), timeout=30_000)
    assert window.client.worker.session.second_lm is None
