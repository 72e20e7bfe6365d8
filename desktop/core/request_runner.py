"""Running requests, with no Qt: the one loop both the model thread and the model process use.

`RequestRunner.handle` looks up the handler of a request (`requests.HANDLERS`), runs it with the
`WorkerSession` (the loaded model, the stepper) and hands what comes out to an `Outbox`: each
answer, a failure worded for the user, progress, and `finished` once nothing more will come.
Requests a newer one of the same kind has made pointless are skipped before they run
(`StaleRequests`), and long work can be cancelled. In the model thread the outbox emits Qt
signals (`worker.ModelWorker`); in the model process it writes to the socket back to the window
(`model_process.child`), which is why this module must not import Qt.
"""

from __future__ import annotations

import inspect
import logging
import threading
import traceback
from collections.abc import Callable
from typing import Protocol

from desktop.core.requests import HANDLERS, Request, Stale, WorkerSession, next_request_id
from model_core.errors import Cancelled, LogitscopeError
from model_core.progress import Progress

log = logging.getLogger(__name__)

CANCELLED = "Cancelled."


class StaleRequests:
    """Ids of requests superseded by a newer one from the same asker. Written by the GUI thread (or,
    in the model process, by the thread reading the window's messages), read by the runner before a
    request runs and by its progress checks. `on_add` passes each new id on (to the model process)."""

    def __init__(self, on_add: Callable[[int], None] | None = None) -> None:
        self._ids: set[int] = set()
        self._lock = threading.Lock()
        self.on_add = on_add

    def add(self, request_id: int) -> None:
        with self._lock:
            self._ids.add(request_id)
        if self.on_add is not None:
            self.on_add(request_id)

    def discard(self, request_id: int) -> None:
        with self._lock:
            self._ids.discard(request_id)

    def __contains__(self, request_id: int) -> bool:
        with self._lock:
            return request_id in self._ids


class Outbox(Protocol):
    """Where a runner's results go, in the order they happen."""

    def answered(self, request_id: int, answer: object) -> None: ...
    def failed(self, request_id: int, message: str, cancelled: bool) -> None: ...
    def finished(self, request_id: int) -> None: ...
    def progress(self, request_id: int, message: str, fraction: float) -> None: ...
    def busy_changed(self, busy: bool) -> None: ...


class RequestRunner:
    """Runs one request at a time for its owner's thread; `cancel` may come from any thread."""

    def __init__(self, outbox: Outbox, stale: StaleRequests | None = None) -> None:
        self.outbox = outbox
        self.session = WorkerSession()
        self.stale = stale or StaleRequests()
        self._progress = Progress()
        self._cancel_below = 0  # requests with a smaller id were cancelled, even before they started
        self._lock = threading.Lock()

    def cancel(self, below: int | None = None) -> None:
        """Ask the running long operation, and any queued request with an id under `below` (by default
        every id handed out so far), to stop at their next check."""
        with self._lock:
            self._progress.cancel()
            self._cancel_below = next_request_id() if below is None else below

    def _new_progress(self, request_id: int) -> Progress:
        with self._lock:
            self._progress = Progress(callback=lambda msg, frac: self.outbox.progress(request_id, msg, frac),
                                      should_stop=lambda: request_id in self.stale)
            if request_id < self._cancel_below:  # Cancel was pressed while this request waited in the queue
                self._progress.cancel()
            return self._progress

    def handle(self, request: Request) -> None:
        outbox = self.outbox
        if request.id in self.stale:  # a newer request of the same kind was asked meanwhile
            self.stale.discard(request.id)
            outbox.finished(request.id)
            return
        outbox.busy_changed(True)
        try:
            self._run(request)
        except Cancelled:
            outbox.failed(request.id, CANCELLED, True)
        except Stale:
            pass
        except LogitscopeError as exc:
            outbox.failed(request.id, str(exc), False)
        except MemoryError:
            outbox.failed(request.id, "Out of memory: try a shorter prompt or a smaller model.", False)
        except Exception as exc:  # a bug: keep the app alive, say so, log the traceback
            if type(exc).__name__ == "OutOfMemoryError":
                outbox.failed(request.id, "The GPU ran out of memory: try a shorter prompt, or the CPU.", False)
            else:
                log.error("worker failed on %r:\n%s", request, traceback.format_exc())
                outbox.failed(request.id, f"Internal error ({type(exc).__name__}: {exc}); see the log.", False)
        finally:
            self.stale.discard(request.id)
            outbox.finished(request.id)
            outbox.busy_changed(False)

    def _run(self, request: Request) -> None:
        handler = HANDLERS.get(type(request))
        if handler is None:
            raise TypeError(f"no handler for {type(request).__name__}")
        session = self.session
        session.progress = self._new_progress(request.id)
        if request.needs_model:
            session.require_model()
        answer = handler(session, request)
        if inspect.isgenerator(answer):
            for part in answer:
                self.outbox.answered(request.id, part)
        elif answer is not None:
            self.outbox.answered(request.id, answer)
