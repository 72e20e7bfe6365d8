"""Interventions: the ablation scan's layer × head grid and per-layer strips, the patching heatmap."""

from __future__ import annotations

import numpy as np

from viz.demo import fake
from viz.effect_grid import EffectGrid

N_LAYERS, N_HEADS = 30, 9  # SmolLM2-135M
TOKENS = ["The", " capital", " of", " France", " is"]


def ablation_scan() -> EffectGrid:
    """EffectGrid: the drop in " Paris" when each of 30 × 9 heads is ablated; a few heads matter a lot."""
    gen = fake.rng(15)
    drop = gen.normal(0.0, 0.01, (N_LAYERS, N_HEADS))
    for (layer, head), value in {(23, 4): 0.63, (0, 4): 0.56, (11, 7): 0.30, (12, 0): 0.28, (17, 2): -0.08}.items():
        drop[layer, head] = value
    widget = EffectGrid()
    widget.set_data(drop, [str(i) for i in range(N_LAYERS)], [str(h) for h in range(N_HEADS)],
                    title="drop in ' Paris' (97.6%) per ablated head", row_axis="layer", col_axis="head")
    widget.resize(420, 640)
    return widget


def patching() -> EffectGrid:
    """EffectGrid: share of the clean answer restored by patching the residual at each layer × position."""
    restored = np.zeros((N_LAYERS + 1, len(TOKENS)), dtype=np.float32)
    restored[:24, 3] = 1.0 + fake.rng(3).normal(0, 0.02, 24)
    restored[24:, 4] = 1.0
    restored[20:24, 4] = np.linspace(0.1, 0.6, 4)
    widget = EffectGrid(highlight=0)
    widget.set_data(restored, [f"{i}" for i in range(N_LAYERS + 1)], TOKENS, title="France → Italy: ' Paris' restored",
                    scale=1.0, row_axis="residual entering layer", col_axis="position")
    widget.resize(460, 640)
    return widget
