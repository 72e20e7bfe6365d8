"""The next-token distribution as the sampling controls reshape it."""

from __future__ import annotations

import numpy as np

from viz.demo import fake
from viz.probability_bars import ProbabilityBars

N_BARS = 12  # as many as the distribution panel shows


def distribution() -> ProbabilityBars:
    """ProbabilityBars: next token after "…of Italy is" at temperature 0.8, top-p 0.9, 200 samples."""
    labels, probs = fake.lens_distributions()
    logits = np.log(probs[-1]) + 3.1  # [V] any constant shift: softmax forgets it
    temperature, top_p = 0.8, 0.9
    scaled = fake.softmax(logits / temperature)  # [V]
    order = np.argsort(scaled)[::-1]  # [V] most likely first
    cumulative = np.cumsum(scaled[order])
    kept = np.zeros_like(scaled, dtype=bool)
    kept[order[: int(np.searchsorted(cumulative, top_p)) + 1]] = True  # the smallest set reaching p
    shaped = np.where(kept, scaled, 0.0) / scaled[kept].sum()  # [V]
    counts = fake.rng(23).multinomial(200, shaped)  # [V]
    top = order[:N_BARS]
    widget = ProbabilityBars()
    # As the panel does: kept bars show the renormalised probability, filtered ones the tempered one.
    widget.set_data([labels[i] for i in top], np.where(kept[top], shaped[top], scaled[top]), kept[top],
                    logits[top], counts[top])
    widget.resize(620, 520)
    return widget
