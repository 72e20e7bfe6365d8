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
    from model_core.errors import LogitscopeError

    session.check_trace(request.trace_id)
    trace = session.stepper.trace
    n = request.n_context
    ids = trace.tokens.ids[:n].tolist()
    attention = trace.attention[:, :, :n, :n]
    try:
        result = attribute(session.lm, ids, request.target_id, request.method, steps=request.steps,
                           baseline=request.baseline, progress=session.progress, attention=attention)
    except ValueError as exc:  # e.g. attention flow on a very long prompt: said in the panel
        raise LogitscopeError(str(exc)) from None
    return AttributionResult(request.trace_id, n, result)


@dataclass(frozen=True)
class CompareRequest(Request):
    """Two runs' tokens, traced afresh and independently (with the logit lens), for the compare panel."""

    pinned_ids: tuple[int, ...]
    current_ids: tuple[int, ...]
    current_on_second: bool = False  # trace the current side with the second model
    kind: ClassVar[str] = "comparison"


@dataclass(frozen=True)
class CompareResult:
    pinned_ids: tuple[int, ...]
    current_ids: tuple[int, ...]
    pinned: object  # model_core.types.trace.Trace, with its lens
    current: object
    current_on_second: bool = False


@handles(CompareRequest)
def compare(session: WorkerSession, request: CompareRequest) -> CompareResult:
    from model_core.engine.tracing import trace_ids

    session.require_model()
    session.progress.report("Tracing the pinned run", 0.0)
    pinned = trace_ids(session.lm, list(request.pinned_ids))
    second = request.current_on_second and session.second_lm is not None
    session.progress.report("Tracing the current run" + (" with the second model" if second else ""), 0.5)
    current = trace_ids(session.second_lm if second else session.lm, list(request.current_ids))
    return CompareResult(request.pinned_ids, request.current_ids, pinned, current, second)


@dataclass(frozen=True)
class SecondModelRequest(Request):
    """Load a second model beside the first (empty spec: drop it), if it fits and shares the tokenizer."""

    spec: str
    supersedable: ClassVar[bool] = False
    kind: ClassVar[str] = "second model"


@dataclass(frozen=True)
class SecondModelResult:
    spec: str
    name: str  # "" when dropped
    summary: str


@handles(SecondModelRequest)
def second_model(session: WorkerSession, request: SecondModelRequest) -> SecondModelResult:
    from model_core.engine.attribution.second_model import load_second

    session.require_model()
    # The old one goes first: its memory counts for the new one. Reference counting frees a loaded
    # model at once (checked on GPT-2 and the built-in model); a garbage collection here would run in
    # the worker thread, which is what desktop/shell/garbage_collection.py rules out.
    session.second_lm = None
    if not request.spec:
        return SecondModelResult("", "", "")
    second = load_second(session.lm, request.spec, session.progress)
    session.second_lm = second
    return SecondModelResult(request.spec, second.info.name, second.info.summary())
