"""Logit-lens demos: what each layer would predict if the model stopped there."""

from __future__ import annotations

import numpy as np

from viz.demo import fake
from viz.lens_views import ProbabilityTable, TrackPlot

TOP_K = 5  # columns of the per-layer table, as in the lens panel


def _layer_names(n_layers: int) -> list[str]:
    return ["emb" if layer == 0 else str(layer) for layer in range(n_layers + 1)]


def lens_table() -> ProbabilityTable:
    """ProbabilityTable: the top 5 next tokens each layer predicts after "…of Italy is" (tint = probability)."""
    labels, probs = fake.lens_distributions()  # [V], [L+1, V]
    top = np.argsort(probs, axis=1)[:, ::-1][:, :TOP_K]  # [L+1, k]
    top_probs = np.take_along_axis(probs, top, axis=1)  # [L+1, k]
    texts = [[f"{labels[i]}  {p:.2f}" for i, p in zip(ids, ps, strict=True)] for ids, ps in zip(top, top_probs, strict=True)]
    widget = ProbabilityTable()
    widget.set_data(_layer_names(fake.N_LAYERS), [f"#{c + 1}" for c in range(TOP_K)], texts, top_probs)
    widget.resize(620, 360)
    return widget


def lens_tracks() -> TrackPlot:
    """TrackPlot: probability of the final top 3 (and "␣Paris") at every layer; "␣Rome" takes over late."""
    labels, probs = fake.lens_distributions()  # [V], [L+1, V]
    tracked = list(np.argsort(probs[-1])[::-1][:3]) + [labels.index("␣Paris")]
    widget = TrackPlot()
    widget.set_lines({labels[i]: probs[:, i] for i in tracked})
    widget.resize(620, 400)
    return widget


def lens_grid() -> ProbabilityTable:
    """ProbabilityTable as the lens grid: top-1 next token per layer (rows, final on top) and position."""
    texts, probs = fake.lens_grid()  # [L+1][T], [L+1, T]
    columns = [f"{t} {label}" for t, label in enumerate(fake.LABELS)]
    widget = ProbabilityTable()
    widget.set_data(_layer_names(fake.N_LAYERS)[::-1], columns, texts[::-1], probs[::-1])
    widget.resize(1100, 400)
    return widget
