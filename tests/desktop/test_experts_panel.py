"""The Experts panel on tiny mixture-of-experts checkpoints through the real window: what it draws is
the trace's router data, clicks select for every panel, it follows every generation step, dense
layers and Qwen2-MoE's shared expert are shown as such, and a dense model is told apart. The
anatomy's total vs active parameters and presentation mode are checked with it."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from desktop.core.requests import tracing as m
from desktop.features import presentation
from model_core.analysis.experts import expert_load
from model_core.analysis.model_sizes import GPT2_STYLE, LLAMA_STYLE
from tests.desktop.helpers import raise_dock, wait_for_probe

PROMPT = "The capital of Germany is Berlin. The capital of France is"


@pytest.fixture
def mixtral(make_window, family_dir):
    return make_window(model=str(family_dir("mixtral")), prompt=PROMPT)


def shown_experts(window, qtbot):
    panel = window.experts_panel
    raise_dock(window, "experts")
    last = window.state.trace.n_tokens - 1
    qtbot.waitUntil(lambda: panel.token_title.text().endswith("the experts the router chose in each layer")
                    and f"(position {last})" in panel.token_title.text(), timeout=10_000)
    return panel


def test_the_panel_draws_the_routers_choice(mixtral, qtbot):
    window, state = mixtral, mixtral.state
    panel = shown_experts(window, qtbot)
    trace, sel = state.trace, state.selection
    layer, position = sel.layer, sel.position
    info = state.info
    assert panel.pages.currentWidget() is panel.moe_page
    assert panel.summary.text().startswith("Mixtral: 4 experts, 2 chosen per token in layers 0–2")
    assert f"{info.n_active_params / info.n_params:.0%}" in panel.summary.text()
    # The heatmap is the selected layer's router probabilities; the dots are the chosen experts.
    np.testing.assert_array_equal(panel.heatmap.probabilities(), trace.router_probs[layer])
    assert panel.heatmap.marked_cells() == {(t, int(e)) for t in range(trace.n_tokens)
                                            for e in trace.router_ids[layer, t]}
    assert panel.heatmap.selected_row() == position
    # The load bars: the share of tokens each expert got in this layer (a row sums to k).
    load = panel.load_bars.series()["share of tokens"]
    np.testing.assert_allclose(load, expert_load(trace.router_ids, 4)[layer])
    assert load.sum() == pytest.approx(2.0)
    # The strip: the selected token's experts in every layer, most weight first, as the trace has them.
    for each in range(trace.n_layers):
        order = np.argsort(-trace.router_weights[each, position], kind="stable")
        segments = panel.strip.segments(each)
        assert [e for e, _w in segments] == [int(trace.router_ids[each, position, i]) for i in order]
        np.testing.assert_allclose([w for _e, w in segments], trace.router_weights[each, position][order])
    # Beside it, the next-token bars the distribution panel shows for the same position.
    assert panel.next_title.text().startswith(f"Next token after '{trace.tokens.labels[position]}'")
    raise_dock(window, "distribution")
    top = [window.distribution_panel.bars.bar_text(i) for i in range(3)]
    raise_dock(window, "experts")
    assert [panel.bars.bar_text(i) for i in range(3)] == top


def test_clicks_select_for_every_panel_and_steps_redraw(mixtral, qtbot):
    window, state = mixtral, mixtral.state
    panel = shown_experts(window, qtbot)
    # A heatmap row selects that position everywhere (the attention panel outlines it).
    qtbot.mouseClick(panel.heatmap.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.heatmap.mapFromScene(panel.heatmap.cell_scene_pos(3, 1)))
    assert state.selection.position == 3
    trace = state.trace
    assert panel.token_title.text().startswith(f"'{trace.tokens.labels[3]}' (position 3)")
    raise_dock(window, "attention")
    assert window.attention_panel.heatmap.selected_row() == 3
    # A grid cell selects its layer and position.
    raise_dock(window, "experts")
    panel.tabs.setCurrentWidget(panel.grid_page)
    qtbot.waitUntil(lambda: panel.grid.columnCount() == trace.n_tokens, timeout=5_000)
    for layer in range(trace.n_layers):
        order = np.argsort(-trace.router_weights[layer, 5], kind="stable")
        assert panel.grid.text_at(layer, 5) == " ".join(str(int(trace.router_ids[layer, 5, i])) for i in order)
    row = panel.grid.rowCount() - 1  # the bottom row is layer 0
    qtbot.mouseClick(panel.grid.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.grid.visualItemRect(panel.grid.item(row, 6)).center())
    assert (state.selection.layer, state.selection.position) == (0, 6)
    # A strip row selects that layer.
    panel.tabs.setCurrentIndex(0)
    qtbot.mouseClick(panel.strip.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.strip.mapFromScene(panel.strip.row_center(2)))
    assert state.selection.layer == 2 and panel.layer_spin.value() == 2
    np.testing.assert_array_equal(panel.heatmap.probabilities(), trace.router_probs[2])
    # Every generation step grows the heatmap and moves the strip to the new token.
    state.select(position=trace.n_tokens - 1)
    for _ in range(2):
        n = state.trace.n_tokens
        with qtbot.waitSignal(state.trace_changed, timeout=30_000):
            window.generation_action(m.STEP)
        qtbot.waitUntil(lambda n=n: panel.heatmap.probabilities().shape[0] == n + 1, timeout=5_000)
        new = state.trace
        np.testing.assert_array_equal(panel.heatmap.probabilities(), new.router_probs[2])
        assert panel.token_title.text().startswith(f"'{new.tokens.labels[-1]}' (position {n})")
    panel.tabs.setCurrentWidget(panel.grid_page)
    qtbot.waitUntil(lambda: panel.grid.columnCount() == state.trace.n_tokens, timeout=5_000)


def test_dense_layers_and_the_shared_expert(make_window, family_dir, qtbot):
    window = make_window(model=str(family_dir("qwen2_moe@sparse")), prompt=PROMPT)
    state, info = window.state, window.state.info
    assert info.moe_layers == (0, 2) and info.shared_experts == 1
    panel = shown_experts(window, qtbot)
    trace = state.trace
    position = state.selection.position
    assert "layer 1 dense" in panel.summary.text() and "1 shared expert on every token" in panel.summary.text()
    state.select(layer=1)
    assert panel.heatmap.message().startswith("Layer 1 is dense")
    assert panel.heatmap.dot_count() == 0 and panel.load_bars.series() == {}
    assert panel.strip.segment_texts(1) == ["dense MLP: no router"]
    gate = trace.shared_expert_gate[2, position, 0]
    assert panel.strip.segment_texts(2)[-1] == f"shared · {gate:.2f}"
    state.select(layer=2)
    assert f"scaled by its own gate: {gate:.2f} here" in panel.layer_note.text()
    panel.tabs.setCurrentWidget(panel.grid_page)
    qtbot.waitUntil(lambda: panel.grid.rowCount() == 3, timeout=5_000)
    assert panel.grid.row_label(1) == "1 · dense" and panel.grid.text_at(1, 0) == "–"
    # The MLP panel: a dense layer has neurons; a MoE layer shows the router and points to this panel.
    mlp = window.mlp_panel
    probe = wait_for_probe(window, qtbot, position, 1)
    assert probe.hidden is not None and not mlp.moe_box.isVisibleTo(mlp)
    probe = wait_for_probe(window, qtbot, position, 2)
    assert probe.hidden is None and "mixture of 4 experts" in mlp.moe_note.text()
    rows = mlp.table_rows()
    assert rows[-1][0] == "shared 0" and rows[-1][1] == f"{gate:.3f}"
    assert [r[0] for r in rows[:2]] == [str(int(i)) for i in
                                        trace.router_ids[2, position][np.argsort(-trace.router_weights[2, position])]]
    mlp.experts_button.click()
    qtbot.waitUntil(lambda: not window.docks["experts"].visibleRegion().isEmpty(), timeout=5_000)


def test_a_dense_model_says_it_has_no_experts(make_window, tiny_gpt2_dir, qtbot):
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello there")
    panel = window.experts_panel
    raise_dock(window, "experts")
    assert panel.pages.currentWidget() is panel.dense_note
    assert "has no experts: it is a dense model" in panel.summary.text()
    assert "no router to show" in panel.dense_note.text()
    with qtbot.waitSignal(window.state.trace_changed, timeout=30_000):
        window.generation_action(m.STEP)
    assert panel.pages.currentWidget() is panel.dense_note  # and nothing tried to draw a router


def test_anatomy_counts_total_and_active_parameters(mixtral, qtbot):
    window = mixtral
    panel = window.anatomy_panel
    raise_dock(window, "anatomy")
    qtbot.waitUntil(lambda: panel.anatomy is not None, timeout=30_000)
    anatomy = panel.anatomy
    assert anatomy.active == window.state.info.n_active_params < anatomy.total
    assert f"A token uses {anatomy.active:,} of them" in panel.summary.text()
    assert panel.diagram.expert_tiles("mlp") == 4
    assert "used per token" in panel.diagram.box_detail("mlp")
    # The calculator starts from the model's shape and style, experts included: the same two numbers.
    assert panel.style_box.currentData() == LLAMA_STYLE
    assert panel.results["Parameters"].text().startswith(f"{anatomy.total:,}")
    assert panel.results["Active per token"].text().startswith(f"{anatomy.active:,}")
    # The mixture-of-experts box opens the Experts panel.
    panel.diagram.part_clicked.emit("mlp")
    qtbot.waitUntil(lambda: not window.docks["experts"].visibleRegion().isEmpty(), timeout=5_000)


@pytest.mark.parametrize(("spec", "style"), [("mistral", LLAMA_STYLE), ("gptj", GPT2_STYLE)])
def test_the_calculator_style_comes_from_the_anatomy(spec, style, make_window, family_dir, qtbot):
    window = make_window(model=str(family_dir(spec)), prompt="Hello there")
    panel = window.anatomy_panel
    raise_dock(window, "anatomy")
    qtbot.waitUntil(lambda: panel.anatomy is not None, timeout=30_000)
    assert panel.anatomy.style == style and panel.style_box.currentData() == style


def test_presentation_mode_with_the_experts_panel(mixtral, qtbot):
    window = mixtral
    panel = shown_experts(window, qtbot)
    strip_before, heat_before = panel.strip._font_size, panel.heatmap._font_size
    mode = window.presentation
    mode.enter()
    try:
        assert mode.show_view("experts")  # the view switcher in the main place's title bar
        assert panel.strip._font_size == pytest.approx(strip_before * presentation.FONT_SCALE)
        assert panel.heatmap._font_size == pytest.approx(heat_before * presentation.FONT_SCALE)
        # Large type never makes the heatmap wider than the room it has (the colour bar stays in view).
        qtbot.waitUntil(lambda: window.isFullScreen(), timeout=5_000)
        heat = panel.heatmap
        assert heat.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize).width() <= heat.width()
        n = window.state.trace.n_tokens
        with qtbot.waitSignal(window.state.trace_changed, timeout=30_000):
            qtbot.keyClick(window, Qt.Key.Key_Space)  # step
        qtbot.waitUntil(lambda: panel.heatmap.probabilities().shape[0] == n + 1, timeout=5_000)
        qtbot.keyClick(window, Qt.Key.Key_Up)  # next layer: the heatmap follows
        layer = window.state.selection.layer
        np.testing.assert_array_equal(panel.heatmap.probabilities(), window.state.trace.router_probs[layer])
    finally:
        mode.leave()
    assert panel.strip._font_size == pytest.approx(strip_before)
