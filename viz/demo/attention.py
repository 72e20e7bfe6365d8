"""Attention demos: one head's heatmap, every head at once, and one position's q/k/v vectors."""

from __future__ import annotations

import numpy as np

from viz.attention_heatmap import AttentionHeatmap
from viz.demo import fake
from viz.head_grid import HeadGrid
from viz.vector_strips import VectorStrips


def attention() -> AttentionHeatmap:
    """AttentionHeatmap: one head with a first-token sink, a previous-token diagonal and an induction stripe."""
    layer, head = fake.DEMO_HEAD
    widget = AttentionHeatmap()
    widget.set_data(fake.demo_head(fake.LABELS), fake.LABELS)
    widget.set_title(f"Layer {layer} · Head {head}: which earlier tokens each token reads")
    widget.set_selected_row(len(fake.LABELS) - 1)
    widget.resize(760, 720)
    return widget


def heads() -> HeadGrid:
    """HeadGrid: 12 layers × 12 heads: previous-token heads early, induction heads mid, sinks late."""
    widget = HeadGrid()
    widget.set_attention(fake.head_zoo(fake.LABELS))
    widget.set_selected(*fake.DEMO_HEAD)  # the head the attention demo shows
    widget.resize(760, 760)
    return widget


def qkv() -> VectorStrips:
    """VectorStrips: the query, key and value of the last token in one head (64 dimensions each)."""
    gen = fake.rng(17)
    dh = 64
    dims = np.arange(dh)
    # Rotary pairs (i, i + dh/2) of low frequency carry the large query/key components.
    envelope = 0.4 + 1.6 * (dims % (dh // 2) >= dh // 2 - 8)  # [dh]
    q = gen.normal(0.0, 1.0, dh) * envelope
    k = gen.normal(0.0, 1.0, dh) * envelope
    k[[5, 5 + dh // 2]] = [4.8, -4.1]  # a key bias dimension, the same at every position
    v = gen.normal(0.0, 0.45, dh)
    last = len(fake.LABELS) - 1
    widget = VectorStrips()
    widget.set_vectors((f"query  q{last}", f"key  k{last}", f"value  v{last}"), (q, k, v))
    widget.resize(760, 320)
    return widget
