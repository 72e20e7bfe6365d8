"""2-D views of the residual stream for token trajectories (scikit-learn PCA).

Each vector is scaled to unit length first, the way the next layer's norm sees
it. Without this, the first token's residual (often hundreds of times longer
than the others: the attention sink) would be the only thing PCA shows.

Two bases: `shared` fits one PCA on every layer's vectors together, so motion
between layers is comparable; `per_layer` fits each layer on its own (the best
2-D picture of that layer, but axes jump between layers, so each layer's axes
are sign-aligned to the previous layer's to limit flips).
"""

from __future__ import annotations

import numpy as np

SHARED = "shared"
PER_LAYER = "per-layer"


def project_residual(residual: np.ndarray, basis: str = SHARED) -> np.ndarray:
    """[L+1, T, d] -> [L+1, T, 2] token positions per layer."""
    from sklearn.decomposition import PCA  # imported here: the window names the bases before sklearn loads

    n_layers1, t, d = residual.shape
    x = residual.astype(np.float64)
    x = x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-8)
    if t < 2:
        return np.zeros((n_layers1, t, 2), dtype=np.float32)
    if basis == SHARED:
        x = x - x.mean(axis=1, keepdims=True)  # each layer centred on its own mean
        flat = x.reshape(-1, d)
        # Randomized SVD: the two leading components in ~60 ms where the full SVD of a 1000 x 768
        # matrix takes seconds on a busy laptop core, and this runs after every generated token.
        pca = PCA(n_components=2, svd_solver="randomized", random_state=0)
        return pca.fit_transform(flat).reshape(n_layers1, t, 2).astype(np.float32)
    if basis == PER_LAYER:
        out = np.zeros((n_layers1, t, 2), dtype=np.float32)
        previous: np.ndarray | None = None
        for layer in range(n_layers1):
            layer_x = x[layer] - x[layer].mean(axis=0)
            points = PCA(n_components=2, random_state=0).fit_transform(layer_x)
            if previous is not None:
                for axis in range(2):  # flip an axis if that brings the points closer to the previous layer
                    if np.dot(points[:, axis], previous[:, axis]) < 0:
                        points[:, axis] *= -1
            out[layer] = points
            previous = points
        return out
    raise ValueError(f"unknown basis {basis!r}; use {SHARED!r} or {PER_LAYER!r}")
