"""The GUI side of the model: one way to ask, one place where stale answers are dropped.

`ModelClient` starts what runs the model and owns it: a process of its own (`model_process/`,
the app's default) or a thread of this one (`worker.py`); both give the same signals. A view makes an `Asker` once
(`client.asker(on_answer, on_error=...)`) and calls `asker.ask(request)`; the asker keeps
the id of its newest request and only answers to that one reach `on_answer`, in the GUI
thread (Orange3's `ConcurrentMixin`: starting a new task makes the old one's results moot).
Asking again with a request of the same type marks the older one stale, so the worker skips
it if it has not started (`Request.supersedable`).

Failures go to the asker's `on_error`, or to `error_reported` (the window's banner) when it
has none; Cancel is reported as `cancelled=True`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from desktop.core.request_runner import StaleRequests
from desktop.core.requests import Request, WorkerSession

AnswerCallback = Callable[[Any], None]
ErrorCallback = Callable[[str, bool], None]  # message, cancelled


class Asker:
    """One view's line to the model thread: only answers to its newest request get through."""

    def __init__(self, client: ModelClient, on_answer: AnswerCallback, on_error: ErrorCallback | None,
                 on_done: Callable[[], None] | None) -> None:
        self._client = client
        self.on_answer = on_answer
        self.on_error = on_error
        self.on_done = on_done
        self.request: Request | None = None  # the newest request asked
        self._latest: dict[type, int] = {}  # newest id per request type, for superseding
        self._open: set[int] = set()  # asked and not finished

    def ask(self, request: Request) -> int:
        """Send `request`; answers to any earlier request of this asker will be dropped."""
        previous = self._latest.get(type(request))
        if previous is not None and previous in self._open and request.supersedable:
            self._client.stale.add(previous)
        self._latest[type(request)] = request.id
        self.request = request
        self._open.add(request.id)
        self._client._send(self, request)
        return request.id

    @property
    def pending(self) -> bool:
        """The newest request has not finished yet."""
        return self.request is not None and self.request.id in self._open

    def is_newest(self, request_id: int) -> bool:
        return self.request is not None and self.request.id == request_id

    def forget(self) -> None:
        """Drop whatever is on its way (a new model: answers about the old one mean nothing)."""
        for request_id in self._open:
            self._client.stale.add(request_id)
        self.request = None

    def _finished(self, request_id: int) -> None:
        self._open.discard(request_id)
        if self.is_newest(request_id) and self.on_done is not None:
            self.on_done()


@dataclass
class _Route:
    asker: Asker
    request: Request


class ModelClient(QObject):
    """Owns the worker thread; routes each answer to the asker of its request."""

    request_sent = Signal(object)  # every request as it goes out (diagnostics, tests)
    error_reported = Signal(str)  # a failure no asker handles itself
    progress = Signal(str, float)  # message, fraction (-1 = unknown) of the running request
    idle = Signal()  # the worker finished a request and waits
    model_lost = Signal(str)  # the model process ended by itself (why); a fresh one, with no model, is up

    def __init__(self, parent: QObject | None = None, start: bool = True, in_process: bool | None = None) -> None:
        """With `start=False` the model waits for `start`; requests sent meanwhile queue up. The model
        runs in a process of its own (`model_process/`) unless `in_process` is False, or, when it is
        None, LOGITSCOPE_MODEL_THREAD=1 says to run it in a thread of this process."""
        super().__init__(parent)
        from desktop.core.model_process.spawn import process_wanted

        self.stale = StaleRequests()
        self._routes: dict[int, _Route] = {}
        self.in_process = process_wanted() if in_process is None else in_process
        self.thread: QThread | None = None
        if self.in_process:
            from desktop.core.model_process.process_worker import ProcessWorker

            self.worker = ProcessWorker(self.stale)
            self.worker.ended.connect(self._on_process_ended)
        else:
            from desktop.core.worker import ModelWorker

            self.thread = QThread(self)
            self.thread.setObjectName("model-worker")
            self.worker = ModelWorker(self.stale, check_codec=os.environ.get("LOGITSCOPE_CHECK_CODEC") == "1")
            self.worker.moveToThread(self.thread)
        self._to_worker.connect(self.worker.handle)
        self.worker.answered.connect(self._on_answered)
        self.worker.failed.connect(self._on_failed)
        self.worker.finished.connect(self._on_finished)
        self.worker.progress.connect(lambda _rid, message, fraction: self.progress.emit(message, fraction))
        self.worker.busy_changed.connect(lambda busy: None if busy else self.idle.emit())
        self._shut_down = False
        if start:
            self.start()

    def start(self) -> None:
        """Starts the model's thread or process (once; not after `shutdown`): it handles what was
        queued first."""
        if self._shut_down:
            return
        if self.thread is None:
            self.worker.start()
        elif not self.thread.isRunning():
            self.thread.start()

    _to_worker = Signal(object)  # queued across threads

    def asker(self, on_answer: AnswerCallback, on_error: ErrorCallback | None = None,
              on_done: Callable[[], None] | None = None) -> Asker:
        """A line to the model thread for one view (see `Asker`)."""
        return Asker(self, on_answer, on_error, on_done)

    def _send(self, asker: Asker, request: Request) -> None:
        self._routes[request.id] = _Route(asker, request)
        self.request_sent.emit(request)
        self._to_worker.emit(request)

    @property
    def busy(self) -> bool:
        """True while any request is queued or running on the worker."""
        return bool(self._routes)

    def request_of(self, request_id: int) -> Request | None:
        route = self._routes.get(request_id)
        return None if route is None else route.request

    # -- answers (GUI thread) ------------------------------------------------------------------

    def _on_answered(self, request_id: int, answer: object) -> None:
        route = self._routes.get(request_id)
        if route is not None and route.asker.is_newest(request_id):
            route.asker.on_answer(answer)

    def _on_failed(self, request_id: int, message: str, cancelled: bool) -> None:
        route = self._routes.get(request_id)
        if route is None or not route.asker.is_newest(request_id):
            return
        if route.asker.on_error is not None:
            route.asker.on_error(message, cancelled)
        elif not cancelled:
            self.error_reported.emit(message)

    def _on_finished(self, request_id: int) -> None:
        route = self._routes.pop(request_id, None)
        if route is not None:
            route.asker._finished(request_id)

    # -- control -------------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop the running long operation and everything already queued."""
        self.worker.cancel()

    def _on_process_ended(self, reason: str) -> None:
        """Whatever was asked of the process that ended will never be answered: fail it all."""
        message = f"{reason} What was running is lost."
        for request_id in list(self._routes):
            self._on_failed(request_id, message, False)
            self._on_finished(request_id)
        self.model_lost.emit(reason)

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Cancel work, stop the model's thread or process and wait for it, so nothing runs after the
        window; then let the model go. Python objects can outlive a closed window (a slot's closure, a
        test's list), and each would otherwise keep its model's weights, hundreds of MB, alive."""
        self._shut_down = True
        if self.thread is None:
            self.worker.cancel()
            self.worker.stop(min(timeout_ms / 1000, 5.0))
            return
        if self.thread.isRunning():
            self.worker.cancel()
            self.thread.quit()
            self.thread.wait(timeout_ms)
        if not self.thread.isRunning():  # the worker thread is gone: its session is ours to drop
            self.worker.session = WorkerSession()
