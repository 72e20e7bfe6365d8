"""A cheap check after every forward pass: did the model compute NaN or infinity, and where first?

A broken fine-tune or a bad conversion can hold NaN in its weights; half precision can overflow.
The numbers that come out are then not probabilities at all, and must never be drawn or printed
as if they were. The check reads the residual stream and the logits once (a fraction of the
pass's cost) and, only when something is wrong, the attention too, to name the first stage that
went wrong, so the message points at the layer to suspect.
"""

from __future__ import annotations

import numpy as np

from model_core.errors import NonFiniteError


def _first_bad(array: np.ndarray) -> int | None:
    """The first index along axis 0 whose slice is not all finite, or None."""
    flat = array.reshape(array.shape[0], -1)
    bad = ~np.isfinite(flat).all(axis=1)
    return int(np.argmax(bad)) if bad.any() else None


def check_finite(arrays: dict[str, np.ndarray], next_logits: np.ndarray, model_name: str) -> None:
    """NonFiniteError saying which layer first produced NaN/inf; silent when all is finite."""
    residual = arrays["residual"]  # [L+1, Tq, d]: 0 = embeddings, l = after block l
    # Attention weights are not read on this path: a NaN weight (or a fully masked row) makes that
    # block's output NaN, so it always shows in the residual. Scanning the weights would cost more
    # than the rest of the check on a long prompt (1024 tokens of GPT-2: 150M float16 values, 0.3 s).
    if np.isfinite(residual).all() and np.isfinite(next_logits).all():
        return
    layer = _first_bad(residual)
    attention_layer = _first_bad(arrays["attention"])
    if layer == 0:
        where = "already in the token embeddings (layer 0)"
    elif attention_layer is not None and (layer is None or attention_layer < layer):
        where = f"first in the attention of block {attention_layer}"
    elif layer is not None:
        positions = int((~np.isfinite(residual[layer]).all(axis=-1)).sum())
        where = f"first in the output of block {layer - 1} (layer {layer}), at {positions} of {residual.shape[1]} positions"
    else:
        where = "in the final norm or the unembedding"
    raise NonFiniteError(
        f"{model_name} computed NaN or infinite values, {where}, so there are no probabilities to show. "
        "Its weights are probably damaged (a broken fine-tune or conversion), or half precision overflowed: "
        "try float32 or another checkpoint.")
