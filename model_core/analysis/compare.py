"""Two runs side by side: the pinned one and the current one (another prompt, other decoding
settings), as plain numpy the compare panel draws and exports.

- `distribution_pairs`: the union of both runs' top tokens with each run's probability (after its
  own knobs) and the difference current − pinned.
- `lens_pairs`: the logit lens at the last position of both (top token and its probability per layer).
- `align_tokens`: the two tokenisations pair by pair (difflib on the token texts), so equal stretches
  line up and where they differ is marked; a token without a partner faces None.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model_core.analysis.sampling import SamplingSettings, shape_distribution
from model_core.types.trace import Trace


@dataclass(frozen=True)
class Run:
    """One side of a comparison: a trace (numpy), the settings its bars are shaped with, a name."""

    trace: Trace
    settings: SamplingSettings
    name: str  # "pinned", "current"
    model: str = ""  # the model's name, for the titles


@dataclass(frozen=True)
class DistributionPairs:
    ids: np.ndarray  # [k] token ids, by the larger of the two probabilities
    pinned: np.ndarray  # [k] probability in the pinned run (after its knobs)
    current: np.ndarray  # [k]
    difference: np.ndarray  # [k] current − pinned


def run_probabilities(run: Run) -> np.ndarray:
    """[V] the next-token probabilities after the last position, with the run's own knobs."""
    trace = run.trace
    return shape_distribution(trace.next_logits, run.settings, trace.tokens.ids).shaped


def distribution_pairs(pinned: Run, current: Run, k: int = 10) -> DistributionPairs:
    a, b = run_probabilities(pinned), run_probabilities(current)
    if a.shape != b.shape:
        raise ValueError("the two runs have different vocabularies; compare runs of models that share a tokenizer.")
    k = min(k, len(a))
    union = np.unique(np.concatenate([np.argsort(-a, kind="stable")[:k], np.argsort(-b, kind="stable")[:k]]))
    order = np.lexsort((union, -np.maximum(a[union], b[union])))
    ids = union[order]
    return DistributionPairs(ids, a[ids], b[ids], b[ids] - a[ids])


def lens_pairs(pinned: Trace, current: Trace) -> list[tuple[int, int, float, int, float]]:
    """Per layer (of the shorter model): (layer, pinned top id, its prob, current top id, its prob)."""
    if not (pinned.has_lens and current.has_lens):
        raise ValueError("both runs need their logit lens")
    n = min(len(pinned.lens_ids), len(current.lens_ids))
    return [(layer, int(pinned.lens_ids[layer, 0]), float(pinned.lens_probs[layer, 0]),
             int(current.lens_ids[layer, 0]), float(current.lens_probs[layer, 0])) for layer in range(n)]


def align_tokens(a: Sequence[str], b: Sequence[str]) -> list[tuple[int | None, int | None]]:
    """Pairs of positions (i in a, j in b), None where one side has no partner, in text order."""
    pairs: list[tuple[int | None, int | None]] = []
    matcher = difflib.SequenceMatcher(a=list(a), b=list(b), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pairs += list(zip(range(i1, i2), range(j1, j2), strict=True))
            continue
        for n in range(max(i2 - i1, j2 - j1)):
            pairs.append((i1 + n if i1 + n < i2 else None, j1 + n if j1 + n < j2 else None))
    return pairs
