"""Inside-the-block views (MLP, anatomy, embeddings, KV cache) show the numbers for the selection."""

from __future__ import annotations

import numpy as np
import pytest

from desktop.panels.mlp_panel import CHART_MIN_HEIGHT, STRIP_MIN_HEIGHT
from model_core.analysis.model_sizes import human_count
from tests.desktop.helpers import CAPITAL, raise_dock

pytestmark = pytest.mark.builtin


def test_mlp_panel_follows_the_selection(make_window, qtbot):
    window = make_window(prompt=CAPITAL)
    state, trace = window.state, window.state.trace
    panel = window.mlp_panel
    with qtbot.waitSignal(panel.probe_changed, timeout=60_000):
        raise_dock(window, "mlp")
    with qtbot.waitSignal(panel.probe_changed, timeout=60_000):
        state.select(position=3, layer=5)
    probe = panel.probe
    assert (probe.position, probe.layer) == (3, 5) and probe.gated
    assert probe.hidden.shape == (state.info.d_mlp,)
    np.testing.assert_allclose(panel.strip.values(), probe.hidden)
    rows = panel.table_rows()
    top = int(probe.top_neurons[0])
    assert rows[0][:2] == [str(top), f"{probe.hidden[top]:+.3f}"]
    assert panel.gated_box.isVisibleTo(panel)
    np.testing.assert_allclose(panel.gated.series()["gate × up"], probe.hidden[probe.top_neurons[:16]])
    # Sub-layer updates add up to the residual change the trace recorded.
    change = trace.residual[1:, 3] - trace.residual[:-1, 3]
    np.testing.assert_allclose(probe.attn_updates + probe.mlp_updates, change, atol=1e-3)
    np.testing.assert_allclose(panel.updates.series()["‖MLP update‖"], probe.mlp_norms, rtol=1e-6)
    assert "position 3" in panel.title.text() and "Layer 5" in panel.title.text()
    # The neuron strip has room for its bars (it was once squeezed to a few pixels by the gated chart).
    assert panel.strip.height() >= STRIP_MIN_HEIGHT
    assert min(panel.gated.height(), panel.updates.height()) >= CHART_MIN_HEIGHT


def test_anatomy_sums_and_clicks_raise_docks(make_window, qtbot):
    window = make_window(prompt=CAPITAL)
    raise_dock(window, "anatomy")
    qtbot.waitUntil(lambda: window.anatomy_panel.anatomy is not None, timeout=30_000)
    anatomy = window.anatomy_panel.anatomy
    assert anatomy.total == window.state.info.n_params
    assert f"{anatomy.total:,}" in window.anatomy_panel.summary.text()
    assert window.anatomy_panel.results["Parameters"].text().startswith(f"{anatomy.total:,}")
    assert human_count(anatomy.total) in window.anatomy_panel.results["Parameters"].text()
    # The estimate for the loaded float32 model reads as the Model panel's size of its weights (once
    # 513.1 MB, in powers of 1024, beside 538.1 MB).
    fp32 = window.anatomy_panel.results["Memory fp32"].text()
    assert fp32 == "538.1 MB" and window.model_panel.facts["Memory"].text().startswith(fp32)
    assert window.anatomy_panel.calc_note.text().startswith("Largest share: the MLPs (59%).")
    for part, dock in (("mlp", "mlp"), ("attention", "attention"), ("embedding", "embeddings"),
                       ("unembedding", "distribution")):
        window.anatomy_panel.diagram.part_clicked.emit(part)
        qtbot.waitUntil(lambda d=dock: not window.docks[d].visibleRegion().isEmpty(), timeout=5_000)
    # Calculator: GPT-2 small from its shape.
    panel = window.anatomy_panel
    panel.style_box.setCurrentIndex(0)
    panel.tied_box.setCurrentIndex(0)
    for key, value in (("layers", 12), ("width", 768), ("heads", 12), ("mlp", 3072), ("vocab", 50257),
                       ("context", 1024)):
        panel.spins[key].setValue(value)
    assert panel.results["Parameters"].text().startswith("124,439,808")


def test_embeddings_neighbours_and_analogy(make_window, qtbot):
    window = make_window(prompt=CAPITAL)
    raise_dock(window, "embeddings")
    panel = window.embeddings_panel
    panel.word.setText(" king")
    with qtbot.waitSignal(panel.result_changed, timeout=30_000):
        panel.ask()
    qtbot.waitUntil(lambda: not panel.searching, timeout=30_000)
    result = panel.result
    assert "[␣king]" in panel.tokens_note.text()
    rows = panel.table_rows()
    assert rows[0] == (result.labels[0], f"{result.similarities[0]:.3f}")
    assert "␣king" not in [label for label, _ in rows]
    with qtbot.waitSignal(panel.result_changed, timeout=30_000):
        panel.ask("analogy")
    assert len(panel.result.texts) == 3 and panel.table.rowCount() == 15


def test_kv_cache_panel(make_window, qtbot):
    window = make_window(prompt="Once upon a time")
    raise_dock(window, "kv_cache")
    panel = window.kv_cache_panel
    # Before a run, a line says what will appear instead of an empty table and empty axes.
    assert panel.waiting.isVisible() and not panel.table.isVisible() and not panel.plot.isVisible()
    panel.n_new.setValue(8)
    with qtbot.waitSignal(panel.bench_changed, timeout=120_000):
        panel.run.__call__()
    bench = panel.bench
    assert panel.table.item(0, 1).text() == f"{int(bench.cached_tokens.sum()):,}"
    assert f"{bench.speedup:.1f}×" in panel.summary.text()
    assert len(panel.plot.lines()["with cache"]) == 8
    info = window.state.info
    assert bench.memory.per_token == 2 * info.n_layers * info.n_kv_heads * info.d_head * 4
    # Every column of the table is shown in full; the timing plot starts at zero.
    table = panel.table
    qtbot.waitUntil(lambda: table.horizontalHeader().length() <= table.viewport().width(), timeout=5_000)
    assert panel.plot.getPlotItem().vb.viewRange()[1][0] == pytest.approx(0)
    assert panel.table.isVisible() and panel.plot.isVisible() and not panel.waiting.isVisible()
    window.state.model_changed.emit()  # as another model arrives: the timing was of the one before
    assert panel.bench is None and panel.waiting.isVisible() and not panel.table.isVisible()


def test_the_analogy_trap_is_explained_and_fixed_in_one_click(make_window, qtbot):
    """"king − man + woman" typed without leading spaces gives junk; the panel says why and
    offers the space-prefixed tokens, which give " queen"."""
    window = make_window(prompt=CAPITAL)
    raise_dock(window, "embeddings")
    panel = window.embeddings_panel
    for edit, text in ((panel.a, "king"), (panel.b, "man"), (panel.c, "woman")):
        edit.setText(text)
    with qtbot.waitSignal(panel.result_changed, timeout=30_000):
        panel.ask("analogy")
    assert panel.space_box.isVisibleTo(panel)
    assert "'king', 'man', 'woman'" in panel.space_note.text() and "'␣king'" in panel.space_note.text()
    assert panel.table_rows()[0][0] != "␣queen"
    with qtbot.waitSignal(panel.result_changed, timeout=30_000):
        panel.use_spaced.click()
    assert (panel.a.text(), panel.b.text(), panel.c.text()) == (" king", " man", " woman")
    assert panel.table_rows()[0][0] == "␣queen"
    assert not panel.space_box.isVisibleTo(panel)
