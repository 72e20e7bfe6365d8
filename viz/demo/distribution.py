"""The next-token distribution as the sampling controls reshape it."""

from __future__ import annotations

import numpy as np

from viz.demo import fake
from viz.probability_bars import ProbabilityBars

N_BARS = 12  # as many as the distribution panel shows


def distribution() -> ProbabilityBars:
    """ProbabilityBars: after "…of Italy is" at T 0.8, top-p 0.9, one token penalised, one banned, 200 draws."""
    labels, probs = fake.lens_distributions()
    logits = np.log(probs[-1]) + 3.1  # [V] any constant shift: softmax forgets it
    temperature, top_p = 0.8, 0.9
    model = fake.softmax(logits / temperature)  # [V] the model alone, at this temperature
    order = np.argsort(model)[::-1]  # [V] most likely first
    penalised, banned = order[1], order[3]  # as a repetition penalty and a logit bias of -100 would
    adjusted = logits.copy()
    adjusted[penalised] -= 0.5
    adjusted[banned] = -np.inf
    scaled = fake.softmax(adjusted / temperature)  # [V]
    ranked = np.argsort(scaled)[::-1]
    cumulative = np.cumsum(scaled[ranked])
    kept = np.zeros_like(scaled, dtype=bool)
    kept[ranked[: int(np.searchsorted(cumulative, top_p)) + 1]] = True  # the smallest set reaching p
    shaped = np.where(kept, scaled, 0.0) / scaled[kept].sum()  # [V]
    draws = 200
    counts = fake.rng(23).multinomial(draws, shaped)  # [V]
    top = order[:N_BARS]
    top = top[np.argsort(-scaled[top], kind="stable")]  # ordered by what the sampler now gives them
    notes = ["repetition penalty 1.3 (2× in the text so far)" if i == penalised else
             "banned by logit bias -100" if i == banned else "" if kept[i] else f"cut by top-p {top_p:g}"
             for i in top]
    before = np.where(np.isin(top, [penalised, banned]), model[top], np.nan)
    widget = ProbabilityBars()
    # As the panel does: kept bars show the renormalised probability, filtered ones the tempered one.
    widget.set_data([labels[i] for i in top], np.where(kept[top], shaped[top], scaled[top]), kept[top],
                    logits[top], counts[top], draws=draws, before=before, notes=notes)
    widget.resize(620, 520)
    return widget
