"""The one thread that owns the model: every torch call in the app happens here.

Requests arrive as queued signals carrying frozen dataclasses (`requests/`); answers leave
through one signal, `answered(request_id, answer)`, carrying numpy data, followed by
`finished(request_id)`. The handler for each request type comes from one table
(`requests.HANDLERS`). The GUI never calls the model and this thread never touches a widget.
Requests that a newer one of the same kind has made pointless are skipped before they run
(`StaleRequests`), and long work can be cancelled.
"""

from __future__ import annotations

import inspect
import logging
import threading
import traceback

from PySide6.QtCore import QObject, Signal, Slot

from desktop.core.requests import HANDLERS, Request, Stale, WorkerSession, next_request_id
from model_core.errors import Cancelled, LogitscopeError
from model_core.progress import Progress

log = logging.getLogger(__name__)

CANCELLED = "Cancelled."


class StaleRequests:
    """Ids of requests superseded by a newer one from the same asker. Written by the GUI thread,
    read by the worker (before a request runs, and by its progress checks)."""

    def __init__(self) -> None:
        self._ids: set[int] = set()
        self._lock = threading.Lock()

    def add(self, request_id: int) -> None:
        with self._lock:
            self._ids.add(request_id)

    def discard(self, request_id: int) -> None:
        with self._lock:
            self._ids.discard(request_id)

    def __contains__(self, request_id: int) -> bool:
        with self._lock:
            return request_id in self._ids


class ModelWorker(QObject):
    """Lives in a QThread; `handle` is its only entry point."""

    answered = Signal(int, object)  # request id, one answer (a request may give several)
    failed = Signal(int, str, bool)  # request id, message for the user, cancelled
    finished = Signal(int)  # request id: nothing more will come for it
    progress = Signal(int, str, float)  # request id, message, fraction (-1 = unknown)
    busy_changed = Signal(bool)

    def __init__(self, stale: StaleRequests | None = None) -> None:
        super().__init__()
        self.session = WorkerSession()
        self.stale = stale or StaleRequests()
        self._progress = Progress()
        self._cancel_below = 0  # requests with a smaller id were cancelled, even before they started
        self._lock = threading.Lock()

    # -- called from the GUI thread ------------------------------------------------------------

    def cancel(self) -> None:
        """Ask the running long operation, and any already queued, to stop at their next check."""
        with self._lock:
            self._progress.cancel()
            self._cancel_below = next_request_id()

    # -- worker thread ---------------------------------------------------------------------------

    def _new_progress(self, request_id: int) -> Progress:
        with self._lock:
            self._progress = Progress(callback=lambda msg, frac: self.progress.emit(request_id, msg, frac),
                                      should_stop=lambda: request_id in self.stale)
            if request_id < self._cancel_below:  # Cancel was pressed while this request waited in the queue
                self._progress.cancel()
            return self._progress

    @Slot(object)
    def handle(self, request: Request) -> None:
        if request.id in self.stale:  # a newer request of the same kind was asked meanwhile
            self.stale.discard(request.id)
            self.finished.emit(request.id)
            return
        self.busy_changed.emit(True)
        try:
            self._run(request)
        except Cancelled:
            self.failed.emit(request.id, CANCELLED, True)
        except Stale:
            pass
        except LogitscopeError as exc:
            self.failed.emit(request.id, str(exc), False)
        except MemoryError:
            self.failed.emit(request.id, "Out of memory: try a shorter prompt or a smaller model.", False)
        except Exception as exc:  # a bug: keep the app alive, say so, log the traceback
            if type(exc).__name__ == "OutOfMemoryError":
                self.failed.emit(request.id, "The GPU ran out of memory: try a shorter prompt, or the CPU.", False)
            else:
                log.error("worker failed on %r:\n%s", request, traceback.format_exc())
                self.failed.emit(request.id, f"Internal error ({type(exc).__name__}: {exc}); see the log.", False)
        finally:
            self.stale.discard(request.id)
            self.finished.emit(request.id)
            self.busy_changed.emit(False)

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
                self.answered.emit(request.id, part)
        elif answer is not None:
            self.answered.emit(request.id, answer)
