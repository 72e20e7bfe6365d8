"""Mixture-of-experts demos: a Mixtral-like router (8 experts, 2 per token) on the capital prompt."""

from __future__ import annotations

from viz.demo import fake
from viz.expert_views import ExpertGrid, RouterHeatmap, RouterStrip

LAYER = 5  # the layer the heatmap shows
POSITION = len(fake.LABELS) - 1  # the token the strip shows: the last "␣is"


def router_heatmap() -> RouterHeatmap:
    """RouterHeatmap: layer 5's router probabilities per token × expert, the chosen 2 dotted by gate weight."""
    ids, weights, probs, _shared = fake.moe_routing()
    widget = RouterHeatmap()
    widget.set_data(probs[LAYER], ids[LAYER], weights[LAYER], fake.LABELS)
    widget.set_title(f"layer {LAYER}: router probabilities, chosen experts dotted")
    widget.set_selected_row(POSITION)
    widget.resize(620, 560)
    return widget


def expert_grid() -> ExpertGrid:
    """ExpertGrid: the 2 experts each token went to in every layer (last layer on top); layer 3 dense."""
    ids, weights, _probs, _shared = fake.moe_routing()
    widget = ExpertGrid()
    widget.set_data(ids, weights, fake.N_EXPERTS, [f"{t} {label}" for t, label in enumerate(fake.LABELS)])
    widget.select(LAYER, POSITION)
    widget.resize(1100, 300)
    return widget


def router_strip() -> RouterStrip:
    """RouterStrip: the last "␣is"'s experts and gate weights in each layer, with a shared expert's gate."""
    ids, weights, _probs, shared = fake.moe_routing()
    widget = RouterStrip()
    widget.set_data(ids[:, POSITION], weights[:, POSITION], fake.N_EXPERTS, shared[:, POSITION], highlight=LAYER)
    widget.set_title("'␣is' (18): experts chosen in each layer")
    widget.resize(560, 420)
    return widget
