"""Requests to the worker and results from it: small frozen dataclasses with ids.

A view keeps the id of the newest request it cares about and drops any result
with an older id (napari's habit), so a stale result can never land.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from model_core.analysis.sampling import SamplingSettings
from model_core.types.model_info import ModelInfo
from model_core.types.trace import Trace

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
class ReplayRequest:
    """Append these exact token ids after the traced prompt (reopening a session); one trace comes back."""

    token_ids: tuple[int, ...]
    max_new_tokens: int = 20
    id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class PositionRequest:
    """The final-layer logits, and the logit lens when its panel is shown, at one position
    (unembedding only; no new forward)."""

    position: int
    trace_id: int
    lens: bool = False
    id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class ProjectionRequest:
    basis: str
    id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class LensRequest:
    """The logit lens at the last position of a trace, asked for when the lens panel is shown."""

    trace_id: int
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
    lens_ids: np.ndarray | None = None  # [L+1, k], when asked for
    lens_probs: np.ndarray | None = None  # [L+1, k]


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
class LensResult:
    request_id: int
    trace_id: int
    trace: Trace  # the same trace with its lens fields filled in


@dataclass(frozen=True)
class LensGridResult:
    request_id: int
    trace_id: int
    ids: np.ndarray  # [L+1, T] top-1 token id each layer predicts after each position
    probs: np.ndarray  # [L+1, T] its probability


# -- Inside the block: MLP neurons, anatomy, embeddings, KV cache ------------------------------------


@dataclass(frozen=True)
class MlpRequest:
    """One layer's MLP neurons and every layer's sub-layer updates at one position of a trace."""

    trace_id: int
    position: int
    layer: int
    id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class MlpResult:
    request_id: int
    trace_id: int
    probe: object  # model_core.engine.probes.mlp.MlpProbe (plain numpy)


@dataclass(frozen=True)
class AnatomyRequest:
    id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class AnatomyResult:
    request_id: int
    anatomy: object  # model_core.engine.probes.anatomy.Anatomy (plain data)


@dataclass(frozen=True)
class EmbeddingRequest:
    """Nearest tokens to one word (one text), or the analogy a − b + c (three texts)."""

    texts: tuple[str, ...]
    k: int = 15
    id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class EmbeddingResult:
    request_id: int
    texts: tuple[str, ...]
    words: tuple  # model_core.engine.probes.embeddings.ResolvedWord per input: the token(s) each became
    ids: np.ndarray  # [k] int64, most similar first
    labels: tuple[str, ...]
    similarities: np.ndarray  # [k] float32 cosine
    error: str = ""  # a word that could not be resolved, said inline


@dataclass(frozen=True)
class KvBenchRequest:
    """Time N greedy tokens with and without the key/value cache, from the current trace's tokens."""

    n_new: int
    id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class KvBenchResult:
    request_id: int
    bench: object  # model_core.engine.probes.kv_cache.KvBench (plain numpy)
