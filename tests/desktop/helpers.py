"""Small helpers shared by the window tests."""

from __future__ import annotations

CAPITAL = "The capital of Germany is Berlin. The capital of France is"


def raise_dock(window, key: str):
    """Show a dock and bring its tab to the front, as a user clicking the tab would."""
    dock = window.docks[key]
    dock.show()
    dock.raise_()
    return dock


def show_lens(window, qtbot):
    """Raise the logit-lens panel and wait for the lens it asks the worker for; returns the trace."""
    raise_dock(window, "lens")
    qtbot.waitUntil(lambda: window.state.trace.has_lens, timeout=60_000)
    return window.state.trace


def wait_for_probe(window, qtbot, position: int, layer: int):
    """Select (position, layer) with the MLP panel raised and wait for its probe of exactly that."""
    panel = window.mlp_panel
    raise_dock(window, "mlp")
    window.state.select(position=position, layer=layer)
    qtbot.waitUntil(lambda: panel.probe is not None and (panel.probe.position, panel.probe.layer) == (position, layer),
                    timeout=60_000)
    return panel.probe


def check_every_panel(window, qtbot) -> None:
    """Every main and deeper panel drew the trace on screen, as a user clicking through the tabs sees it
    (the smoke test's checks, then attention, the lens with its mid-layer option, MLP, experts,
    anatomy, all heads, Q/K/V and the model facts). Fails naming the panel."""
    import numpy as np

    from desktop.shell.smoke_test import panel_problems
    from model_core.types.model_info import PARALLEL, POST_LN

    state, info = window.state, window.state.info
    trace = state.trace
    assert panel_problems(window) == [], panel_problems(window)
    sel = state.selection
    raise_dock(window, "attention")
    np.testing.assert_array_equal(window.attention_panel.heatmap.image_item.image,
                                  trace.attention[sel.layer, sel.head].astype(np.float32), err_msg="attention")

    # Logit lens, with the mid-layer rows where the model has a mid-block state.
    lens = window.lens_panel
    show_lens(window, qtbot)
    trace = state.trace
    assert lens.table.rowCount() == trace.n_layers + 1, "lens table"
    np.testing.assert_allclose(lens.table.probabilities(), trace.lens_probs[:, :5], err_msg="lens table")
    if info.block_layout == POST_LN:
        assert not lens.mid.isEnabled() and lens.mid_note.isVisibleTo(lens), "post-LN: the mid-layer is refused"
        assert "no mid-block state" in lens.mid_note.text()
        assert trace.mid_lens_ids is None
    else:
        lens.mid.setChecked(True)
        qtbot.waitUntil(lambda: lens.table.rowCount() == 2 * trace.n_layers + 1, timeout=10_000)
        assert lens.mid_note.isVisibleTo(lens) == (info.block_layout == PARALLEL)
        if info.block_layout == PARALLEL:
            assert "never computes" in lens.mid_note.text() and "parallel" in lens.mid.text()
        lens.mid.setChecked(False)
    with qtbot.waitSignal(lens.grid_changed, timeout=60_000):
        lens.tabs.setCurrentWidget(lens.grid_page)
    assert lens.grid.rowCount() == trace.n_layers + 1 and lens.grid.columnCount() == trace.n_tokens, "lens grid"
    lens.tabs.setCurrentIndex(0)

    # MLP: neurons, or the router on a mixture-of-experts layer; the per-layer updates or why not.
    position = trace.n_tokens - 1
    mlp = window.mlp_panel
    for layer in range(trace.n_layers):
        probe = wait_for_probe(window, qtbot, position, layer)
        if layer in info.moe_layers:
            assert probe.hidden is None and mlp.moe_box.isVisibleTo(mlp), f"MLP layer {layer}: MoE"
            np.testing.assert_allclose(mlp.strip.values(), trace.router_probs[layer, position], err_msg="router")
        else:
            assert not mlp.moe_box.isVisibleTo(mlp)
            np.testing.assert_allclose(mlp.strip.values(), probe.hidden, err_msg=f"MLP neurons, layer {layer}")
        if info.block_layout == POST_LN:
            assert not mlp.updates.isVisibleTo(mlp) and "normalises after each residual add" in mlp.updates_note.text()
        else:
            np.testing.assert_allclose(mlp.updates.series()["‖MLP update‖"], probe.mlp_norms, rtol=1e-6)

    # Experts: the router of the selected layer, or the sentence that says there is none.
    experts = window.experts_panel
    raise_dock(window, "experts")
    if info.is_moe:
        layer = info.moe_layers[0]
        state.select(layer=layer)
        qtbot.waitUntil(lambda: experts.heatmap.probabilities().shape == trace.router_probs[layer].shape,
                        timeout=5_000)
        np.testing.assert_array_equal(experts.heatmap.probabilities(), trace.router_probs[layer])
    else:
        assert experts.pages.currentWidget() is experts.dense_note and "no experts" in experts.summary.text()

    # Anatomy: every part the model has is a box.
    raise_dock(window, "anatomy")
    qtbot.waitUntil(lambda: window.anatomy_panel.anatomy is not None, timeout=30_000)
    anatomy = window.anatomy_panel.anatomy
    keys = {p.key for p in anatomy.parts}
    assert keys <= set(window.anatomy_panel.diagram.box_keys()), keys - set(window.anatomy_panel.diagram.box_keys())
    assert f"{anatomy.total:,}" in window.anatomy_panel.summary.text()

    raise_dock(window, "heads")
    qtbot.waitUntil(lambda: window.heads_panel.stats is not None, timeout=5_000)
    assert window.heads_panel.table.rowCount() == trace.n_layers * trace.n_heads, "all heads"
    raise_dock(window, "qkv")
    qtbot.waitUntil(lambda: len(window.qkv_panel.weights) == state.selection.position + 1, timeout=5_000)
    raise_dock(window, "model")
    assert info.architecture in window.model_panel.facts["Family"].text()
