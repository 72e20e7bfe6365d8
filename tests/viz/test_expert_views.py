"""Mixture-of-experts drawings: what each cell, dot and segment shows is the router data given, and
clicks report the position / layer under the mouse."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from viz.block_views import AnatomyDiagram, DiagramBox
from viz.expert_views import ExpertGrid, RouterHeatmap, RouterStrip, choice_text, expert_colour
from viz.theme import DARK

LABELS = ["The", "␣capital", "␣of", "␣France", "␣is"]


def routing(n_layers: int = 3, t: int = 5, e: int = 4, k: int = 2, dense: tuple[int, ...] = (1,), seed: int = 3):
    """ids [L, T, k] (not sorted by weight), weights, probs [L, T, E]; `dense` layers have no router."""
    gen = np.random.default_rng(seed)
    probs = gen.dirichlet(np.ones(e), size=(n_layers, t)).astype(np.float32)
    ids = np.argsort(probs, axis=-1)[..., -k:].astype(np.int16)  # ascending: the heaviest last
    weights = np.take_along_axis(probs, ids.astype(np.int64), -1)
    weights = (weights / weights.sum(-1, keepdims=True)).astype(np.float32)
    for layer in dense:
        ids[layer], weights[layer], probs[layer] = -1, 0.0, 0.0
    return ids, weights, probs


def test_expert_colours_are_stable_and_distinct() -> None:
    few = {expert_colour(i, 8).name() for i in range(8)}
    many = {expert_colour(i, 64).name() for i in range(64)}
    assert len(few) == 8 and len(many) == 64
    assert expert_colour(5, 64) == expert_colour(5, 64)
    assert choice_text([3, 1, -1], [0.52, 0.48, 0.0]) == "expert 3 (0.52), expert 1 (0.48)"


def test_heatmap_shows_the_probabilities_and_dots_the_chosen(show, qtbot) -> None:
    ids, weights, probs = routing()
    widget = show(RouterHeatmap(font_size=10), (600, 500))
    widget.set_data(probs[0], ids[0], weights[0], LABELS)
    np.testing.assert_array_equal(widget.probabilities(), probs[0])
    np.testing.assert_array_equal(widget.image_item.image, probs[0])
    chosen = {(t, int(e)) for t in range(5) for e in ids[0, t]}
    assert widget.marked_cells() == chosen and widget.dot_count() == 10
    # Hover text names the token, the expert, its probability and, when chosen, its gate weight.
    t, e = 4, int(ids[0, 4, -1])
    assert widget.cell_text(t, e) == (f"'␣is' (4) · expert {e}: router p = {probs[0, 4, e]:.3f} · chosen, "
                                      f"gate weight {weights[0, 4, -1]:.2f}")
    unchosen = next(x for x in range(4) if x not in ids[0, 0])
    assert widget.cell_text(0, unchosen).endswith("not chosen")
    # A click on a cell selects its row (the position).
    with qtbot.waitSignal(widget.row_clicked, timeout=1_000) as clicked:
        qtbot.mouseClick(widget.viewport(), Qt.MouseButton.LeftButton,
                         pos=widget.mapFromScene(widget.cell_scene_pos(3, 1)))
    assert clicked.args == [3] and widget.selected_row() == 3


def test_heatmap_says_a_dense_layer_has_no_router(show) -> None:
    ids, weights, probs = routing()
    widget = show(RouterHeatmap(), (500, 400))
    widget.set_data(probs[0], ids[0], weights[0], LABELS)
    widget.set_message("Layer 1 is dense")
    assert widget.message() == "Layer 1 is dense"
    assert widget.dot_count() == 0 and widget.probabilities().size == 0 and widget.selected_row() is None
    widget.set_palette(DARK)  # restyles without data
    widget.set_data(probs[2], ids[2], weights[2], LABELS)
    assert widget.message() == "" and widget.dot_count() == 10


def test_heatmap_rejects_mismatched_arrays(show) -> None:
    ids, weights, probs = routing()
    widget = show(RouterHeatmap(), (400, 300))
    with pytest.raises(ValueError, match="labels"):
        widget.set_data(probs[0], ids[0], weights[0], LABELS[:3])
    with pytest.raises(ValueError, match=r"\[T, k\]"):
        widget.set_data(probs[0], ids[0], weights[0, :, :1], LABELS)


def test_grid_names_the_experts_by_weight_with_the_last_layer_on_top(show, qtbot) -> None:
    ids, weights, _probs = routing()
    shared = np.full((3, 5, 1), 0.25, dtype=np.float32)
    widget = show(ExpertGrid(), (700, 200))
    widget.set_data(ids, weights, 4, [f"{t} {label}" for t, label in enumerate(LABELS)], shared)
    assert widget.rowCount() == 3 and widget.columnCount() == 5
    for layer in (0, 2):
        for t in range(5):
            heavy, light = (ids[layer, t, 1], ids[layer, t, 0]) if weights[layer, t, 1] >= weights[layer, t, 0] \
                else (ids[layer, t, 0], ids[layer, t, 1])
            assert widget.text_at(layer, t) == f"{heavy} {light}"
    assert widget.row_label(1) == "1 · dense" and widget.text_at(1, 2) == "–"
    assert widget.verticalHeaderItem(0).text() == "2"  # the last layer is the top row
    assert widget.cell_text(1, 0).endswith("dense (no router)")
    assert widget.cell_text(2, 4).endswith("shared expert gate 0.25")
    with qtbot.waitSignal(widget.cell_clicked, timeout=1_000) as clicked:
        rect = widget.visualItemRect(widget.item(0, 3))  # top row = layer 2
        qtbot.mouseClick(widget.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert clicked.args == [2, 3]
    widget.select(0, 1)
    assert widget.selected() == (0, 1)
    widget.set_palette(DARK)
    assert widget.selected() == (0, 1) and widget.text_at(0, 0)


def test_strip_segments_are_the_gate_weights_and_shared_experts_follow(show, qtbot) -> None:
    ids, weights, _probs = routing()
    shared = np.array([[0.7], [0.0], [0.4]], dtype=np.float32)
    widget = show(RouterStrip(font_size=10), (500, 300))
    widget.set_data(ids[:, 4], weights[:, 4], 4, shared, highlight=2)
    for layer in (0, 2):
        segments = widget.segments(layer)
        assert [w for _e, w in segments] == sorted((float(w) for w in weights[layer, 4]), reverse=True)
        assert {e for e, _w in segments} == {int(i) for i in ids[layer, 4]}
        assert widget.segment_texts(layer)[-1] == f"shared · {shared[layer, 0]:.2f}"
    assert widget.segments(1) == [] and widget.segment_texts(1) == ["dense MLP: no router"]
    with qtbot.waitSignal(widget.layer_clicked, timeout=1_000) as clicked:
        qtbot.mouseClick(widget.viewport(), Qt.MouseButton.LeftButton,
                         pos=widget.mapFromScene(widget.row_center(2)))
    assert clicked.args == [2]
    widget.set_line_scale(2.0)
    widget.set_font_size(20)
    assert widget.segments(0)  # restyling keeps the data


def test_anatomy_diagram_draws_expert_tiles_and_every_part(show) -> None:
    before = [DiagramBox("embedding", "Token embedding", "1 K", "embed"),
              DiagramBox("embedding_norm", "LayerNorm on the embeddings", "128", "norm")]
    block = [DiagramBox("norm1", "RMSNorm", "64", "norm"), DiagramBox("attention", "Attention", "12 K", "attention"),
             DiagramBox("attn_post_norm", "RMSNorm (on attention's output)", "64", "norm"),
             DiagramBox("add", "+ add", "", "add"),
             DiagramBox("mlp", "Mixture of 60 experts (4 per token)", "98 K", "mlp", experts=60, shared_experts=1),
             DiagramBox("mlp_post_norm", "RMSNorm (on the MLP's output)", "64", "norm")]
    after = [DiagramBox("unembedding", "Unembedding", "tied", "unembed")]
    widget = show(AnatomyDiagram(), (500, 700))
    widget.set_boxes(before, block, after, "× 3 blocks")
    assert set(widget.box_keys()) == {"embedding", "embedding_norm", "norm1", "attention", "attn_post_norm", "add",
                                      "mlp", "mlp_post_norm", "unembedding"}
    assert widget.expert_tiles("mlp") == 16 and widget.expert_tiles("attention") == 0  # 16 drawn, then "… 60"
    assert widget.box_title("mlp") == "Mixture of 60 experts (4 per token)" and widget.box_detail("mlp") == "98 K"
    # Data flows upwards: the embedding is drawn below the block, the unembedding above it.
    assert widget.box_rect("embedding").top() > widget.box_rect("mlp").top() > widget.box_rect("unembedding").top()
