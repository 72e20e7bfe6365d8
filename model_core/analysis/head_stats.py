"""Per-head summaries of attention patterns, and small numeric helpers for the deeper views.

Pure numpy (no torch, no Qt), so the GUI thread can call these on a Trace's arrays.
Scores average over the query rows that have a choice (rows 1..T-1: row 0 can only
read itself); with a single token, row 0 is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "HeadStats",
    "attention_breakdown",
    "first_token_score",
    "head_stats",
    "hide_first_token",
    "mean_entropy_bits",
    "previous_token_score",
    "takeover_layer",
]


def _rows(attention: np.ndarray) -> np.ndarray:
    """[..., R, T] the query rows scores average over (1..T-1, or row 0 alone when T == 1)."""
    a = np.asarray(attention, dtype=np.float64)  # [..., T, T]
    if a.shape[-1] != a.shape[-2]:
        raise ValueError(f"attention must be square in its last two axes, got {a.shape}")
    return a[..., 1:, :] if a.shape[-1] > 1 else a


def mean_entropy_bits(attention: np.ndarray) -> np.ndarray:
    """[...] mean entropy (bits) of each query row's weights: 0 = reads one token, high = spread out."""
    rows = _rows(attention)  # [..., R, T]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(rows > 0, -rows * np.log2(np.where(rows > 0, rows, 1.0)), 0.0)
    return terms.sum(axis=-1).mean(axis=-1)


def previous_token_score(attention: np.ndarray) -> np.ndarray:
    """[...] mean weight each query t puts on key t-1 (1.0 = a pure previous-token head)."""
    a = np.asarray(attention, dtype=np.float64)  # [..., T, T]
    t = a.shape[-1]
    if t < 2:
        return np.zeros(a.shape[:-2])
    idx = np.arange(1, t)
    return a[..., idx, idx - 1].mean(axis=-1)


def first_token_score(attention: np.ndarray) -> np.ndarray:
    """[...] mean weight on key 0 (the "attention sink" many heads park unused weight on)."""
    return _rows(attention)[..., 0].mean(axis=-1)


@dataclass(frozen=True)
class HeadStats:
    """Summaries of every head: each array is [L, H]."""

    entropy: np.ndarray
    previous_token: np.ndarray
    first_token: np.ndarray


def head_stats(attention: np.ndarray) -> HeadStats:
    """Summaries for attention [L, H, T, T]."""
    return HeadStats(
        entropy=mean_entropy_bits(attention),
        previous_token=previous_token_score(attention),
        first_token=first_token_score(attention),
    )


def hide_first_token(attention: np.ndarray) -> np.ndarray:
    """[..., T, T] float32 weights with key 0 zeroed and each row renormalised (for display).

    Rows left with no weight (row 0, or a head that only read token 0) stay all zero.
    """
    a = np.array(attention, dtype=np.float32)  # [..., T, T]
    a[..., 0] = 0.0
    total = a.sum(axis=-1, keepdims=True)
    np.divide(a, total, out=a, where=total > 0)
    return a


def attention_breakdown(
    query: np.ndarray, keys: np.ndarray, scale: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One attention row from its parts: (q·k [N], q·k·scale [N], softmax weights [N]).

    ``query`` is [dh], ``keys`` [N, dh] (the keys the query may read). ``scale`` defaults to
    1/sqrt(dh), what GPT-2 and Llama-style models use.
    """
    q = np.asarray(query, dtype=np.float64)  # [dh]
    k = np.asarray(keys, dtype=np.float64)  # [N, dh]
    if scale is None:
        scale = 1.0 / np.sqrt(q.shape[-1])
    dots = k @ q  # [N]
    scaled = dots * scale  # [N]
    z = np.exp(scaled - scaled.max()) if len(scaled) else scaled
    return dots, scaled, z / z.sum() if len(z) else z


def takeover_layer(top1: np.ndarray) -> int:
    """First layer from which the top-1 token [L+1] stays equal to the final layer's."""
    top1 = np.asarray(top1)  # [L+1]
    differs = np.flatnonzero(top1 != top1[-1])
    return int(differs[-1] + 1) if len(differs) else 0
