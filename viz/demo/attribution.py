"""Why this token: attribution chips, scores per layer, and two runs' tokens aligned."""

from __future__ import annotations

import numpy as np

from viz.attribution_views import AlignedChips, AttributionChips, LayerScoreMap
from viz.demo import fake

PROMPT = ["The", "␣capital", "␣of", "␣France", "␣is", "␣a", "␣city", "␣called"]
OTHER = ["The", "␣capital", "␣of", "␣Germany", "␣is", "␣a", "␣city", "␣named"]


def _scores(seed: int = 3) -> np.ndarray:
    """Made-up gradient × input for ' Paris': 'France' carries it, 'capital' helps, 'The' a little against."""
    gen = fake.rng(seed)
    scores = gen.normal(0.0, 0.15, len(PROMPT))
    scores[3], scores[1], scores[0] = 2.4, 0.9, -0.6
    return scores


def attribution_chips() -> AttributionChips:
    """AttributionChips: gradient × input for ' Paris' on 8 tokens, red raises it, blue lowers it."""
    widget = AttributionChips()
    widget.set_scores(PROMPT, _scores(), "gradient × input", "␣Paris")
    widget.resize(700, 160)
    return widget


def layer_scores() -> LayerScoreMap:
    """LayerScoreMap: 13 layers × 8 tokens; 'France' takes over the last token's residual in the middle."""
    final = _scores()
    n = fake.N_LAYERS + 1
    depth = np.linspace(0, 1, n)[:, None]
    start = np.zeros(len(PROMPT))
    start[-1] = final.sum()
    values = (1 - depth) * start + depth * final + fake.rng(5).normal(0, 0.05, (n, len(PROMPT)))
    widget = LayerScoreMap()
    widget.set_data(values, PROMPT, "Gradient × activation of the residual stream per layer")
    widget.resize(700, 360)
    return widget


def aligned_chips() -> AlignedChips:
    """AlignedChips: two prompts token by token; ' France' / ' Germany' and ' called' / ' named' outlined."""
    widget = AlignedChips()
    widget.set_pairs(list(zip(PROMPT, OTHER, strict=True)) + [(None, "␣Berlin")], ("pinned", "current"))
    widget.resize(700, 120)
    return widget
