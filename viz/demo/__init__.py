"""Every viz widget on its own, drawing made-up data (the pyqtgraph-examples habit).

``DEMOS`` maps a demo's name to a function that builds the widget, fills it with seeded
fake arrays through the widget's public API, gives it a sensible size and returns it
(a QApplication must exist). The first line of each function's docstring says what it shows.

    python -m viz.demo                      # list the demos
    python -m viz.demo attention            # open one in a window
    python -m viz.demo --all                # every demo, as tabs
    python -m viz.demo heads --screenshot heads.png
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QWidget

from viz.demo import (
    attention,
    attribution,
    block,
    distribution,
    experts,
    interventions,
    lens,
    tokens,
    trajectory,
)

DEMOS: dict[str, Callable[[], QWidget]] = {
    "attention": attention.attention,
    "heads": attention.heads,
    "qkv": attention.qkv,
    "chips": tokens.chips,
    "chat_chips": tokens.chat_chips,
    "flow": tokens.flow,
    "distribution": distribution.distribution,
    "trajectory": trajectory.trajectory,
    "layer_slider": trajectory.layer_slider,
    "lens_table": lens.lens_table,
    "lens_tracks": lens.lens_tracks,
    "lens_grid": lens.lens_grid,
    "neurons": block.neurons,
    "gated_mlp": block.gated_mlp,
    "layer_updates": block.layer_updates,
    "kv_cache": block.kv_cache,
    "anatomy": block.anatomy,
    "router_heatmap": experts.router_heatmap,
    "expert_grid": experts.expert_grid,
    "router_strip": experts.router_strip,
    "attribution_chips": attribution.attribution_chips,
    "layer_scores": attribution.layer_scores,
    "aligned_chips": attribution.aligned_chips,
    "ablation_scan": interventions.ablation_scan,
    "patching": interventions.patching,
}


def summary(name: str) -> str:
    """One line on what a demo shows (its builder's docstring, first line)."""
    doc = DEMOS[name].__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def build(name: str) -> QWidget:
    """Build the named demo's widget (KeyError for an unknown name)."""
    return DEMOS[name]()
