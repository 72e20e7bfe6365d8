"""Interventions on the model thread: set the list in effect (the trace is run again under it), the model
as trained for "before → after", the ablation scan, activation patching, and a steering direction.

Setting interventions changes what every later forward pass computes, so its request is never
skipped, and its answers are the new trace (and its follow-ups) for every panel. The scan and
patching run many batched forward passes: they report through `session.progress`, which raises
Cancelled between batches — the engine removes its hooks whatever happens.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from desktop.core.requests.base import Request, WorkerSession, handles
from desktop.core.requests.tracing import followups, traced
from model_core.types.interventions import Intervention, InterventionSet, Steering

# -- answers ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InterventionsApplied:
    interventions: InterventionSet  # what the model runs with now


@dataclass(frozen=True)
class BaselineResult:
    trace_id: int
    logits: np.ndarray  # [V] after the last position, the model as trained (no interventions)


@dataclass(frozen=True)
class ScanResult:
    trace_id: int
    target_id: int
    mode: str
    base_prob: float
    heads: np.ndarray  # [L, H] target probability with each head ablated
    attention: np.ndarray  # [L]
    mlp: np.ndarray  # [L]

    @property
    def head_drop(self) -> np.ndarray:
        return self.base_prob - self.heads


@dataclass(frozen=True)
class PatchResult:
    clean_labels: tuple[str, ...]
    corrupt_labels: tuple[str, ...]
    differ_at: tuple[int, ...]
    message: str  # which tokens differ
    answer_id: int
    clean_prob: float
    corrupt_prob: float
    residual_restored: np.ndarray  # [L+1, T]
    heads_restored: np.ndarray  # [L, H]


# -- requests -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetInterventionsRequest(Request):
    """Make `items` the interventions in effect (their `enabled` flags say which act) and trace again."""

    items: tuple[Intervention, ...]
    supersedable: ClassVar[bool] = False
    kind: ClassVar[str] = "interventions"


@dataclass(frozen=True)
class BaselineRequest(Request):
    trace_id: int
    kind: ClassVar[str] = "before"


@dataclass(frozen=True)
class ScanRequest(Request):
    trace_id: int
    target_id: int | None = None  # None: the top prediction
    mode: str = "zero"
    kind: ClassVar[str] = "ablation scan"


@dataclass(frozen=True)
class PatchRequest(Request):
    clean: str
    corrupt: str
    kind: ClassVar[str] = "patching"


@dataclass(frozen=True)
class SteeringRequest(Request):
    """The steering direction from two prompts at `layer`, answered as a Steering item."""

    towards: str
    away: str
    layer: int
    strength: float
    kind: ClassVar[str] = "steering"


# -- handlers (worker thread) ---------------------------------------------------------------------


@handles(SetInterventionsRequest)
def set_model_interventions(session: WorkerSession, request: SetInterventionsRequest) -> Iterator:
    from model_core.engine.interventions.applied import set_interventions

    applied = set_interventions(session.lm, InterventionSet(tuple(request.items)))  # refused: nothing changes
    yield InterventionsApplied(applied)
    from model_core.errors import PromptError

    stepper = session.stepper
    try:
        _ = stepper.trace
    except PromptError:  # nothing traced yet: the next prompt runs under them
        return
    stepper.rerun()
    yield traced(session, "intervene")
    yield from followups(session)


@handles(BaselineRequest)
def baseline(session: WorkerSession, request: BaselineRequest) -> BaselineResult:
    import torch

    from model_core.engine.interventions.applied import suspended
    from model_core.engine.interventions.batched import last_logits

    session.check_trace(request.trace_id)
    ids = session.stepper.trace.tokens.ids.tolist()
    with torch.inference_mode(), suspended(session.lm):
        logits = last_logits(session.lm, ids, 1)[0].cpu().numpy()
    return BaselineResult(request.trace_id, logits)


@handles(ScanRequest)
def scan(session: WorkerSession, request: ScanRequest) -> ScanResult:
    from model_core.engine.interventions.scan import ablation_scan

    session.check_trace(request.trace_id)
    ids = session.stepper.trace.tokens.ids.tolist()
    result = ablation_scan(session.lm, ids, request.target_id, request.mode, progress=session.progress)
    return ScanResult(request.trace_id, result.target_id, result.mode, result.base_prob, result.heads,
                      result.attention, result.mlp)


@handles(PatchRequest)
def patch(session: WorkerSession, request: PatchRequest) -> PatchResult:
    from model_core.engine.interventions.patching import activation_patching, token_difference
    from model_core.engine.tracing import encode, token_table
    from model_core.errors import PromptError

    lm = session.lm
    clean, corrupt = encode(lm, request.clean), encode(lm, request.corrupt)
    difference = token_difference(lm, clean, corrupt)
    if not difference.same_length:
        raise PromptError(difference.message)
    result = activation_patching(lm, clean, corrupt, progress=session.progress)
    return PatchResult(
        clean_labels=token_table(lm, clean).labels, corrupt_labels=token_table(lm, corrupt).labels,
        differ_at=difference.positions, message=difference.message, answer_id=result.answer_id,
        clean_prob=result.clean_prob, corrupt_prob=result.corrupt_prob,
        residual_restored=result.residual_restored, heads_restored=result.heads_restored,
    )


@handles(SteeringRequest)
def steering(session: WorkerSession, request: SteeringRequest) -> Steering:
    from model_core.engine.interventions.steering import steering_from_prompts

    return steering_from_prompts(session.lm, request.towards, request.away, request.layer, request.strength)
