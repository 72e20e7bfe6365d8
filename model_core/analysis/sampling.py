"""Temperature, top-k and top-p: the decoding step of nanoGPT's generate loop, made visible.

`shape_distribution` returns the distribution before and after filtering, so the
UI can grey out what top-k / top-p removed instead of hiding it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SamplingSettings:
    """How the next token is chosen. temperature 0 means greedy; top_k 0 and top_p 1 mean off."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0

    def validated(self) -> SamplingSettings:
        if not (self.temperature >= 0 and np.isfinite(self.temperature)):
            raise ValueError("temperature must be a number ≥ 0")
        if self.top_k < 0:
            raise ValueError("top-k must be ≥ 0 (0 = off)")
        if not (0 < self.top_p <= 1):
            raise ValueError("top-p must be in (0, 1]")
        return self


@dataclass(frozen=True)
class Distribution:
    """The next-token distribution before and after temperature/top-k/top-p."""

    logits: np.ndarray  # [V] float32 raw
    scaled: np.ndarray  # [V] float32 softmax(logits / temperature), before filtering (T=0: T=1 shown)
    shaped: np.ndarray  # [V] float32 after filtering, renormalised (T=0: one-hot at the argmax)
    kept: np.ndarray  # [V] bool: survived top-k and top-p

    def top(self, k: int) -> np.ndarray:
        """Ids of the k most likely tokens before filtering, most likely first."""
        k = min(k, len(self.scaled))
        idx = np.argpartition(-self.scaled, k - 1)[:k]
        return idx[np.argsort(-self.scaled[idx], kind="stable")]


def softmax(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.float64) - np.max(x)
    e = np.exp(z)
    return (e / e.sum()).astype(np.float32)


def _leading(scaled: np.ndarray, m: int) -> np.ndarray:
    """At least the m most likely ids, in the order a stable descending sort of all of them gives
    (ties: lower id first; every id tied with the m-th is included, so nothing left out outranks
    anything returned)."""
    if m >= len(scaled):
        return np.argsort(-scaled, kind="stable")
    threshold = np.partition(scaled, len(scaled) - m)[len(scaled) - m]  # the m-th largest
    ids = np.flatnonzero(scaled >= threshold)  # ascending, so the stable sort keeps lower ids first
    return ids[np.argsort(-scaled[ids], kind="stable")]


def shape_distribution(logits: np.ndarray, settings: SamplingSettings) -> Distribution:
    """Apply temperature, then top-k, then top-p (nucleus), as Hugging Face's samplers do.

    Only the leading tokens are sorted (a full sort of a 50k vocabulary costs more than the rest
    and runs on every redraw): top-p keeps the smallest prefix of the sorted order whose mass
    reaches p, so the prefix is grown until it does.
    """
    settings = settings.validated()
    logits = np.asarray(logits, dtype=np.float32)
    vocab = len(logits)
    greedy = settings.temperature == 0
    scaled = softmax(logits if greedy else logits / settings.temperature)
    kept = np.ones(vocab, dtype=bool)
    if greedy:
        kept[:] = False
        kept[int(np.argmax(scaled))] = True
    else:
        limit = settings.top_k if 0 < settings.top_k < vocab else vocab
        if limit < vocab or settings.top_p < 1.0:
            m = limit if settings.top_p >= 1.0 else min(limit, 256)
            while True:
                order = _leading(scaled, m)
                n_keep = min(limit, len(order))
                if settings.top_p < 1.0:
                    cumulative = np.cumsum(scaled[order].astype(np.float64))
                    # keep the smallest prefix whose mass reaches top_p (always at least one token);
                    # the tolerance keeps a prefix that sums to exactly top_p from losing to float rounding
                    cutoff = int(np.searchsorted(cumulative, settings.top_p - 1e-6, side="left")) + 1
                    if cutoff > len(order) and m < limit:
                        m = min(limit, m * 8)  # the mass is spread out: look further down
                        continue
                    n_keep = min(n_keep, cutoff)
                break
            kept[:] = False
            kept[order[:n_keep]] = True
    shaped = np.where(kept, scaled, 0.0).astype(np.float64)
    shaped = (shaped / shaped.sum()).astype(np.float32)
    return Distribution(logits=logits, scaled=scaled, shaped=shaped, kept=kept)


def draw(distribution: Distribution, rng: np.random.Generator) -> int:
    """Draw one token id from the shaped distribution."""
    p = distribution.shaped.astype(np.float64)
    return int(rng.choice(len(p), p=p / p.sum()))


def draw_many(distribution: Distribution, n: int, rng: np.random.Generator) -> np.ndarray:
    """[V] counts of `n` independent draws: "sample many" next to the probabilities."""
    p = distribution.shaped.astype(np.float64)
    return rng.multinomial(n, p / p.sum())


def rng_for(seed: int, step: int) -> np.random.Generator:
    """The generator for one step: depends only on (seed, step), so undo + redo repeats exactly."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(step)])
