"""Attribution results as plain numpy (no torch): what the window, the CLI and exports hold.

The attributed quantity is always one token's *logit* at the last position (not its probability):
a logit is what the model's last layer adds up linearly, so scores that sum to it read directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRAD_X_INPUT, INTEGRATED_GRADIENTS, ROLLOUT, FLOW = "grad-x-input", "integrated-gradients", "rollout", "flow"
METHODS: tuple[str, ...] = (GRAD_X_INPUT, INTEGRATED_GRADIENTS, ROLLOUT, FLOW)
METHOD_TITLES: dict[str, str] = {
    GRAD_X_INPUT: "Gradient × input",
    INTEGRATED_GRADIENTS: "Integrated gradients",
    ROLLOUT: "Attention rollout",
    FLOW: "Attention flow",
}
GRADIENT_METHODS = (GRAD_X_INPUT, INTEGRATED_GRADIENTS)
MAX_STEPS = 1024  # integrated gradients: Gauss–Legendre nodes come from an n×n eigenproblem, slow beyond this


def check_method(method: str) -> str:
    """The method name, or ValueError naming the known ones."""
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; use one of: {', '.join(METHODS)}.")
    return method


@dataclass(frozen=True)
class Attribution:
    """Scores of every prompt position for one target token's logit after the last position.

    `scores` [T] is the one row a chip tint shows; `per_layer` [L+1, T] (or empty [0, T]) is the
    same method read at each layer where the method allows it: for gradient × input, layer 0 is the
    input embeddings and layer l the output of block l-1 (gradient × activation of the residual
    stream); for rollout and flow, the attention of the blocks up to that layer. Integrated
    gradients has no per-layer row (its path runs through the inputs only).
    """

    method: str
    target_id: int
    target_label: str
    scores: np.ndarray  # [T] float32
    per_layer: np.ndarray  # [L+1, T] float32, or [0, T]
    target_logit: float  # the target's logit at the last position for the real input
    baseline_logit: float = float("nan")  # IG: the logit at the baseline
    completeness_error: float = float("nan")  # IG: sum(scores) - (target_logit - baseline_logit)
    steps: int = 0  # IG: interpolation steps
    baseline: str = ""  # IG: "pad-keep-first", "pad" or "zero"

    @property
    def n_tokens(self) -> int:
        return int(self.scores.shape[0])

    @property
    def relative_completeness_error(self) -> float:
        """|error| / |logit − baseline logit|: how far the scores are from adding up (IG)."""
        gap = self.target_logit - self.baseline_logit
        return abs(self.completeness_error) / max(abs(gap), 1e-12)
