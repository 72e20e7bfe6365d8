"""Requests to the worker and results from it: small frozen dataclasses with ids.

A view keeps the id of the newest request it cares about and drops any result
with an older id (napari's habit), so a stale result can never land.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from model_core.loading import ModelInfo
from model_core.sampling import SamplingSettings
from model_core.trace import Trace

_ids = itertools.count(1)


def next_request_id() -> int:
    return next(_ids)


@dataclass(frozen=True)
class LoadRequest:
    spec: str
    device: str = "auto"
    id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class TraceRequest:
    text: str
    allow_special: bool = False
    max_new_tokens: int = 20
    id: int = field(default_factory=next_request_id)


# Generation actions the stepper understands.
STEP, SAMPLE, UNDO, RESET, RUN = "step", "sample", "undo", "reset", "run"


@dataclass(frozen=True)
class StepRequest:
    action: str
    settings: SamplingSettings = SamplingSettings()
    max_new_tokens: int = 20
    id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class PositionRequest:
    """The final-layer logits and the logit lens at one position (unembedding only; no new forward)."""

    position: int
    trace_id: int
    id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class ProjectionRequest:
    basis: str
    id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class LensGridRequest:
    """The logit lens's top-1 token at every layer x position of a trace (unembedding only)."""

    trace_id: int
    id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class LoadedResult:
    request_id: int
    info: ModelInfo
    vocab_labels: tuple[str, ...]  # readable label for every token id, so the GUI never needs the tokenizer
    eos_ids: frozenset[int]


@dataclass(frozen=True)
class TraceResult:
    request_id: int
    trace_id: int  # unique per emitted trace (a Run emits many under one request)
    trace: Trace
    n_new: int
    max_new_tokens: int
    stop_reason: str | None
    action: str = "trace"


@dataclass(frozen=True)
class PositionResult:
    request_id: int
    trace_id: int
    position: int
    logits: np.ndarray  # [V] final-layer logits predicting the token after `position`
    lens_ids: np.ndarray  # [L+1, k]
    lens_probs: np.ndarray  # [L+1, k]


@dataclass(frozen=True)
class ProjectionResult:
    trace_id: int
    basis: str
    points: np.ndarray  # [L+1, T, 2]


@dataclass(frozen=True)
class SurprisalResult:
    trace_id: int
    bits: np.ndarray  # [T]


@dataclass(frozen=True)
class LensGridResult:
    request_id: int
    trace_id: int
    ids: np.ndarray  # [L+1, T] top-1 token id each layer predicts after each position
    probs: np.ndarray  # [L+1, T] its probability
