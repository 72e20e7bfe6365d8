"""Requests to the model thread, and the table that says which handler answers each.

A request is a small frozen dataclass with an id. Its handler is a plain function,
registered with `@handles(RequestType)`, that runs on the worker thread with the
`WorkerSession` (the loaded model, the stepper, the trace counter) and either returns one
answer or is a generator that yields several (a trace and then its follow-ups, or every
token of a Run). Handlers import the engine inside their bodies: this module and the
request types are imported by the GUI thread, which must not load torch.

Adding a worker-backed view: one model-side function in `model_core`, one request type
and its handler here (or in a sibling module of this package), and one panel that asks
with `client.asker(...)`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

_ids = itertools.count(1)


def next_request_id() -> int:
    return next(_ids)


@dataclass(frozen=True)
class Request:
    """Base of every request. Subclasses are frozen dataclasses whose fields say what to compute."""

    id: int = field(default_factory=next_request_id, kw_only=True)
    # A newer request of the same type from the same asker makes this one pointless: it is skipped
    # if it has not started, and a long one that checks its progress stops (Orange3's habit).
    # Actions that change the model's state (a step, an undo) must all run: they set this False.
    supersedable: ClassVar[bool] = True
    needs_model: ClassVar[bool] = True  # refused with a message until a model has loaded
    kind: ClassVar[str] = "request"  # a word for messages and logs ("trace", "load", ...)


class Stale(Exception):  # noqa: N818  (a signal to the worker, not an error)
    """Raised by a handler whose request refers to a trace that has moved on: no answer, no error
    (the asking panel asks again for the new trace)."""


Handler = Callable[["WorkerSession", Any], Any]
HANDLERS: dict[type[Request], Handler] = {}


def handles(kind: type[Request]) -> Callable[[Handler], Handler]:
    """Register the function below as the handler of `kind` (one entry of the table)."""

    def register(function: Handler) -> Handler:
        if kind in HANDLERS:
            raise ValueError(f"{kind.__name__} already has a handler ({HANDLERS[kind].__name__})")
        HANDLERS[kind] = function
        return function

    return register


class WorkerSession:
    """What the handlers share on the worker thread. Created and owned by `ModelWorker`; never
    touched by the GUI thread (tests may read it).

    `progress` is the current request's Progress (report, check for Cancel), set by the worker
    before each handler runs.
    """

    def __init__(self) -> None:
        self.lm = None  # model_core.engine.loading.LoadedModel once loaded
        self.stepper = None  # model_core.engine.stepper.Stepper
        self.trace_id = 0  # increases with every trace handed out (a Run hands out many per request)
        self.basis = "shared"  # the trajectory projection's basis
        self.progress = None  # model_core.progress.Progress of the request being handled
        self.second_lm = None  # a second LoadedModel beside `lm`, for the side-by-side comparison

    def require_model(self) -> None:
        from model_core.errors import LogitscopeError

        if self.lm is None:
            raise LogitscopeError("No model is loaded yet.")

    def check_trace(self, trace_id: int) -> None:
        """Raise Stale when a request was made for a trace that is no longer the current one."""
        if trace_id != self.trace_id:
            raise Stale
