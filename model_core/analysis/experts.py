"""Reading a mixture-of-experts trace: which experts each token used, and how the load spreads.

Torch-free: everything comes from the trace's router arrays (`router_ids` [L, T, k],
`router_weights` [L, T, k], `router_probs` [L, T, E]), so a view can show a saved trace, and
the selection never touches the model. Dense blocks of a MoE model (ids -1) count for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RouterChoice:
    """The router's choice for one token in one layer: the experts, most weight first."""

    layer: int
    experts: tuple[int, ...]
    weights: tuple[float, ...]  # what multiplies each chosen expert's output


def moe_layers(router_ids: np.ndarray) -> np.ndarray:
    """[L] bool: the layers whose router chose anything (dense blocks of a MoE model are False)."""
    return (router_ids >= 0).any(axis=(1, 2)) if router_ids.size else np.zeros(router_ids.shape[0], dtype=bool)


def expert_load(router_ids: np.ndarray, n_experts: int) -> np.ndarray:
    """[L, E] the share of tokens that chose each expert, per layer (each token picks k, so a row
    of a MoE layer sums to k; a balanced router gives k/E everywhere)."""
    n_layers, n_tokens, _k = router_ids.shape
    load = np.zeros((n_layers, n_experts), dtype=np.float32)
    for layer in range(n_layers):
        chosen = router_ids[layer][router_ids[layer] >= 0]
        load[layer] = np.bincount(chosen, minlength=n_experts)[:n_experts] / max(n_tokens, 1)
    return load


def gate_mass(router_ids: np.ndarray, router_weights: np.ndarray, n_experts: int) -> np.ndarray:
    """[L, E] the mean gate weight each expert received per token (zero where it was not chosen)."""
    n_layers, n_tokens, _k = router_ids.shape
    mass = np.zeros((n_layers, n_experts), dtype=np.float32)
    for layer in range(n_layers):
        keep = router_ids[layer] >= 0
        np.add.at(mass[layer], router_ids[layer][keep], router_weights[layer][keep])
    return mass / max(n_tokens, 1)


def router_choices(router_ids: np.ndarray, router_weights: np.ndarray, position: int) -> list[RouterChoice]:
    """The choice at `position` in every MoE layer, experts ordered by gate weight (largest first)."""
    out = []
    for layer in np.flatnonzero(moe_layers(router_ids)):
        ids, weights = router_ids[layer, position], router_weights[layer, position]
        order = np.argsort(-weights, kind="stable")
        out.append(RouterChoice(int(layer), tuple(int(i) for i in ids[order]),
                                tuple(float(w) for w in weights[order])))
    return out
