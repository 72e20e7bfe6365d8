"""Why this token: attribution of one next-token logit to the tokens before it, on the model thread.

The request names the trace it was made for and how many of its tokens are the context (all of them
for "the next token"; all but the last to explain the token a generation step just added), so an
answer never lands on another prompt. Integrated gradients and attention flow report progress and
stop on Cancel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from desktop.core.requests.base import Request, WorkerSession, handles


@dataclass(frozen=True)
class AttributionRequest(Request):
    trace_id: int
    n_context: int  # tokens 0 .. n_context-1 of the trace are attributed; the target follows them
    target_id: int
    method: str  # model_core.types.attribution.METHODS
    steps: int = 32
    baseline: str = "pad"
    kind: ClassVar[str] = "attribution"


@dataclass(frozen=True)
class AttributionResult:
    trace_id: int
    n_context: int
    attribution: object  # model_core.types.attribution.Attribution


@handles(AttributionRequest)
def attribution(session: WorkerSession, request: AttributionRequest) -> AttributionResult:
    from model_core.engine.attribution.attribute import attribute

    session.check_trace(request.trace_id)
    trace = session.stepper.trace
    n = request.n_context
    ids = trace.tokens.ids[:n].tolist()
    attention = trace.attention[:, :, :n, :n]
    result = attribute(session.lm, ids, request.target_id, request.method, steps=request.steps,
                       baseline=request.baseline, progress=session.progress, attention=attention)
    return AttributionResult(request.trace_id, n, result)


@dataclass(frozen=True)
class CompareRequest(Request):
    """Two runs' tokens, traced afresh and independently (with the logit lens), for the compare panel."""

    pinned_ids: tuple[int, ...]
    current_ids: tuple[int, ...]
    kind: ClassVar[str] = "comparison"


@dataclass(frozen=True)
class CompareResult:
    pinned_ids: tuple[int, ...]
    current_ids: tuple[int, ...]
    pinned: object  # model_core.types.trace.Trace, with its lens
    current: object


@handles(CompareRequest)
def compare(session: WorkerSession, request: CompareRequest) -> CompareResult:
    from model_core.engine.tracing import trace_ids

    session.require_model()
    session.progress.report("Tracing the pinned run", 0.0)
    pinned = trace_ids(session.lm, list(request.pinned_ids))
    session.progress.report("Tracing the current run", 0.5)
    current = trace_ids(session.lm, list(request.current_ids))
    return CompareResult(request.pinned_ids, request.current_ids, pinned, current)
