"""Attention rollout and attention flow (Abnar & Zuidema, 2020), from a trace's attention alone.

Both read each layer's attention averaged over heads, with the residual connection counted as half
of every row: Â_l = ½·mean_h(A_l) + ½·I, rows renormalised to sum to 1.

- *Rollout* multiplies them: R_l = Â_l · R_{l−1}, R_0 = I. Row T−1 of R_l says how much of the last
  position's state after block l came from each input token, if mixing were the only thing blocks
  did. Row T−1 of R_L is the score; every layer's row is the per-layer view.
- *Flow* treats Â_l as capacities of a layered graph (node (l, i) receives from (l−1, j) with
  capacity Â_l[i, j]) and, for each input token j, takes the maximum flow from (0, j) to the last
  position after the last block (SciPy's maximum_flow, integer capacities scaled by `FLOW_SCALE`).

Neither depends on the target token: attention is the same whatever comes next. Plain numpy, so the
window can compute them from the trace it already holds.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow

from model_core.progress import Progress, silent

FLOW_SCALE = 1_000_000  # capacities as integers: resolution 1e-6 of one row's mass
MAX_FLOW_TOKENS = 256  # one max-flow per token on a graph of L·T² edges: beyond this it takes too long


def mixing_matrices(attention: np.ndarray) -> np.ndarray:
    """[L, T, T] float64 Â_l = ½·mean over heads + ½·I, rows renormalised, from attention [L, H, T, T]."""
    mean = attention.astype(np.float64).mean(axis=1)
    t = mean.shape[-1]
    mixed = 0.5 * mean + 0.5 * np.eye(t)[None]
    return mixed / mixed.sum(axis=-1, keepdims=True)


def rollout(attention: np.ndarray, position: int = -1) -> np.ndarray:
    """[L+1, T] float64: row `position` of R_l for l = 0 (one-hot) .. L (the score)."""
    mixed = mixing_matrices(attention)
    n_layers, t = mixed.shape[0], mixed.shape[-1]
    product = np.eye(t)
    rows = [product[position].copy()]
    for layer in range(n_layers):
        product = mixed[layer] @ product
        rows.append(product[position].copy())
    return np.stack(rows)


def flow(attention: np.ndarray, position: int = -1, progress: Progress | None = None) -> np.ndarray:
    """[T] float64: the maximum attention flow from each input token to `position` after the last block."""
    progress = progress or silent()
    mixed = mixing_matrices(attention)
    n_layers, t = mixed.shape[0], mixed.shape[-1]
    if t > MAX_FLOW_TOKENS:
        raise ValueError(f"attention flow takes one max-flow per token; {t} tokens is over the limit of "
                         f"{MAX_FLOW_TOKENS}. Use rollout for a prompt this long.")
    sink = n_layers * t + (position % t)
    n_nodes = (n_layers + 1) * t
    rows, cols, caps = [], [], []
    for layer in range(n_layers):
        capacity = np.rint(mixed[layer] * FLOW_SCALE).astype(np.int64)  # [i (to), j (from)]
        to, frm = np.nonzero(capacity)
        rows.append(layer * t + frm)
        cols.append((layer + 1) * t + to)
        caps.append(capacity[to, frm])
    graph = csr_matrix((np.concatenate(caps).astype(np.int32), (np.concatenate(rows), np.concatenate(cols))),
                       shape=(n_nodes, n_nodes))
    scores = np.zeros(t)
    for j in range(t):
        progress.report(f"Attention flow: token {j + 1} of {t}", j / t)
        scores[j] = maximum_flow(graph, j, sink).flow_value / FLOW_SCALE
    return scores
