"""The deeper views (logit lens, Q/K/V, all heads, tokenizers) checked against the trace."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QLocale, Qt

from desktop.panels.lens_panel import takeover_text
from model_core.text.bpe_merges import bpe_steps_from_ranks, merge_table
from model_core.text.tokenizer_compare import ENCODINGS, get_encoding, load_ranks
from tests.desktop.helpers import CAPITAL, raise_dock, show_lens

pytestmark = pytest.mark.builtin


def test_logit_lens_table_takeover_and_tracking(make_window, qtbot):
    window = make_window(prompt=CAPITAL)
    state = window.state
    # The lens (2L+1 rows against the whole vocabulary) is computed only once its panel shows.
    assert not state.trace.has_lens
    trace = show_lens(window, qtbot)
    assert state.result.trace_id == window.client.worker.session.trace_id  # same trace, now with its lens
    panel = window.lens_panel
    last = trace.n_tokens - 1
    assert state.selection.position == last

    # Table: rows = layers 0..L, top 5 of the trace's lens at the last position.
    table = panel.table
    assert table.rowCount() == trace.n_layers + 1 and table.columnCount() == 5
    for layer in (0, trace.n_layers // 2, trace.n_layers):
        for rank in range(5):
            label = state.label(int(trace.lens_ids[layer, rank]))
            assert table.cell_text(layer, rank) == f"{label}  {trace.lens_probs[layer, rank]:.2f}"
    np.testing.assert_allclose(table.probabilities(), trace.lens_probs[:, :5])

    # Take-over: the first layer from which ' Paris' is top-1 and stays top-1.
    top1 = trace.lens_ids[:, 0]
    assert state.label(int(top1[-1])) == "␣Paris"
    expected = max(layer for layer in range(len(top1)) if top1[layer] != top1[-1]) + 1 \
        if (top1 != top1[-1]).any() else 0
    assert panel.takeover_layer == expected
    assert panel.takeover.text() == takeover_text("␣Paris", expected, trace.n_layers)
    assert takeover_text("␣Paris", 30, 30) == "'␣Paris' becomes top-1 only at the last layer (30)"
    assert takeover_text("␣Paris", 0, 30).endswith("top-1 at every layer, from the embeddings on")
    assert takeover_text("␣Paris", 21, 30) == "'␣Paris' is top-1 from layer 21 on (of 30)"

    # Tracking typed tokens: probability per layer from lens_logprobs.
    panel.targets.setText(" Paris, London")
    panel.targets.editingFinished.emit()
    found, missing = panel.resolve(" Paris, London")
    assert set(found) == {"␣Paris", "␣London"} and not missing
    lines = panel.track.lines()
    paris = found["␣Paris"]
    np.testing.assert_allclose(lines["␣Paris"], np.exp(trace.lens_logprobs[:, paris]), rtol=1e-5)
    assert len(lines["␣London"]) == trace.n_layers + 1

    # Another position: the table follows the worker's PositionResult for it.
    state.select(position=3)
    qtbot.waitUntil(lambda: panel.position_lens is not None and panel.position_lens.position == 3, timeout=60_000)
    pr = panel.position_lens
    assert table.cell_text(trace.n_layers, 0) == f"{state.label(int(pr.lens_ids[-1, 0]))}  {pr.lens_probs[-1, 0]:.2f}"

    # Layer x position grid: asked of the worker only when its tab is shown.
    assert panel.grid_result is None
    with qtbot.waitSignal(panel.grid_changed, timeout=120_000):
        panel.tabs.setCurrentWidget(panel.grid_page)
    grid = panel.grid_result
    assert grid.ids.shape == (trace.n_layers + 1, trace.n_tokens)
    assert grid.ids[-1, last] == trace.lens_ids[-1, 0]
    # Rows are drawn final layer first.
    assert panel.grid.cell_text(0, last) == "␣Paris"
    assert panel.grid.rowCount() == trace.n_layers + 1 and panel.grid.columnCount() == trace.n_tokens


def test_qkv_softmax_equals_the_attention_row(make_window, qtbot):
    window = make_window(prompt=CAPITAL)
    state, trace = window.state, window.state.trace
    raise_dock(window, "qkv")
    panel = window.qkv_panel
    state.select(position=9, layer=5, head=4)
    qtbot.waitUntil(lambda: len(panel.weights) == 10, timeout=5_000)
    g = int(trace.kv_head_of[4])
    np.testing.assert_allclose(panel.strips.image("query  q9"), trace.queries[5, 4, 9])
    np.testing.assert_allclose(panel.strips.image("key  k9"), trace.keys[5, g, 9])
    np.testing.assert_allclose(panel.strips.image("value  v9"), trace.values[5, g, 9])
    np.testing.assert_allclose(panel.dots, trace.keys[5, g, :10] @ trace.queries[5, 4, 9], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(panel.scaled, panel.dots / np.sqrt(trace.queries.shape[-1]))
    np.testing.assert_allclose(panel.weights, trace.attention[5, 4, 9, :10].astype(np.float64), atol=2e-3)
    assert panel.rows.rowCount() == 10
    assert panel.rows.cell_text(9, 1) == state.label(int(trace.tokens.ids[9]))
    assert panel.rows.cell_text(9, 4) == f"{panel.weights[9]:.4f}"
    assert f"query head 4 reads key/value head {g}" in panel.kv_note.text()


def test_heads_grid_table_and_click(make_window, qtbot):
    window = make_window(prompt=CAPITAL)
    state, trace = window.state, window.state.trace
    raise_dock(window, "heads")
    panel = window.heads_panel
    qtbot.waitUntil(lambda: panel.stats is not None, timeout=5_000)
    t = trace.n_tokens
    lower = np.tril_indices(t)
    thumb = panel.grid.thumbnail(7, 3)
    np.testing.assert_allclose(thumb[lower], trace.attention[7, 3].astype(np.float32)[lower])
    assert np.isnan(thumb[np.triu_indices(t, 1)]).all()

    # Table: one row per head, sortable by score, values from the trace.
    assert panel.table.rowCount() == trace.n_layers * trace.n_heads
    a = trace.attention.astype(np.float64)
    prev = np.mean([a[..., i, i - 1] for i in range(1, t)], axis=0)
    np.testing.assert_allclose(panel.stats.previous_token, prev, atol=1e-6)
    panel.table.sortItems(2, Qt.SortOrder.DescendingOrder)
    best = np.unravel_index(np.argmax(prev), prev.shape)
    assert (int(panel.table.item(0, 0).text()), int(panel.table.item(0, 1).text())) == tuple(int(x) for x in best)
    # Every score with the same three decimals ("0.200", not "0.2"), sorted by its value.
    item = panel.table.item(0, 2)
    shown = panel.table.itemDelegateForColumn(2).displayText(item.data(Qt.ItemDataRole.DisplayRole), QLocale())
    assert shown == f"{prev[best]:.3f}"
    panel.table.cellClicked.emit(0, 2)
    assert (state.selection.layer, state.selection.head) == tuple(int(x) for x in best)

    # Clicking a thumbnail opens that head.
    qtbot.mouseClick(panel.grid.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.grid.head_center(12, 6).toPoint())
    assert (state.selection.layer, state.selection.head) == (12, 6)
    raise_dock(window, "attention")  # it shares the heads panel's tab area; it redraws when raised
    assert window.attention_panel.head_box.currentIndex() == 6

    # Hiding the sink zeroes key 0 and renormalises rows.
    panel.hide_sink.setChecked(True)
    thumb = panel.grid.thumbnail(7, 3)
    np.testing.assert_allclose(thumb[:, 0], 0.0)
    np.testing.assert_allclose(np.nansum(thumb[1:], axis=1), 1.0, atol=1e-3)


def test_tokenizer_counts_and_bpe_steps(make_window, qtbot):
    window = make_window(prompt=CAPITAL)
    state, trace = window.state, window.state.trace
    raise_dock(window, "tokenizers")
    panel = window.tokenizer_panel
    qtbot.waitUntil(lambda: panel.chips["gpt2"].count() > 0, timeout=5_000)
    assert panel.chips["model"].count() == trace.n_tokens
    assert panel.chips["model"].chip(1).label == "␣capital"
    for name in ENCODINGS:
        n = len(get_encoding(name).encode(CAPITAL))
        assert panel.chips[name].count() == n
        assert f"{n} tokens" in panel.counts[name].text()

    state.select(position=1)  # ' capital'
    steps = bpe_steps_from_ranks(b" capital", load_ranks("gpt2"))
    lines = [panel.bpe_list.item(i).text() for i in range(panel.bpe_list.count())]
    assert lines[1:-1] == merge_table(steps)
    assert lines[-1] == "result: ␣capital"
    assert "'␣capital'" in panel.bpe_title.text()
    assert panel.bpe_title.text().endswith(f"8 bytes → 1 token after {len(steps)} merges")


def test_logit_lens_mid_layer_rows(make_window, qtbot):
    window = make_window(prompt=CAPITAL)
    trace = show_lens(window, qtbot)
    panel = window.lens_panel
    panel.mid.setChecked(True)
    table = panel.table
    assert table.rowCount() == 2 * trace.n_layers + 1
    # row 1 is layer 1 after its attention (before its MLP), row 2 is the whole of layer 1
    label = window.state.label(int(trace.mid_lens_ids[0, 0]))
    assert table.cell_text(1, 0) == f"{label}  {trace.mid_lens_probs[0, 0]:.2f}"
    label = window.state.label(int(trace.lens_ids[1, 0]))
    assert table.cell_text(2, 0) == f"{label}  {trace.lens_probs[1, 0]:.2f}"
    panel.mid.setChecked(False)
    assert table.rowCount() == trace.n_layers + 1
