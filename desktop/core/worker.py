"""The model in a thread of the window's process: `RequestRunner` behind Qt signals.

Requests arrive as queued signals carrying frozen dataclasses (`requests/`); answers leave
through one signal, `answered(request_id, answer)`, carrying numpy data, followed by
`finished(request_id)`. The GUI never calls the model and this thread never touches a widget.
The app runs the model in a process of its own (`model_process/`); this thread is what runs it
where that is turned off (LOGITSCOPE_MODEL_THREAD=1: the tests) or impossible.

With `check_codec`, every request and answer goes through the model process's pickling and
codec on the way, so that a test suite run in threads still proves each one would cross.
"""

from __future__ import annotations

import pickle

from PySide6.QtCore import QObject, Signal, Slot

from desktop.core.request_runner import CANCELLED, RequestRunner, StaleRequests
from desktop.core.requests import Request, WorkerSession

__all__ = ["CANCELLED", "ModelWorker", "StaleRequests"]


class _SignalOutbox:
    def __init__(self, worker: ModelWorker, check_codec: bool) -> None:
        self._worker = worker
        self._codec = None
        if check_codec:
            from desktop.core.model_process.codec import AnswerDecoder, AnswerEncoder

            self._codec = (AnswerEncoder(), AnswerDecoder())

    def answered(self, request_id: int, answer: object) -> None:
        if self._codec is not None:
            from desktop.core.model_process.codec import round_trip

            answer = round_trip(answer, *self._codec)
        self._worker.answered.emit(request_id, answer)

    def failed(self, request_id: int, message: str, cancelled: bool) -> None:
        self._worker.failed.emit(request_id, message, cancelled)

    def finished(self, request_id: int) -> None:
        self._worker.finished.emit(request_id)

    def progress(self, request_id: int, message: str, fraction: float) -> None:
        self._worker.progress.emit(request_id, message, fraction)

    def busy_changed(self, busy: bool) -> None:
        self._worker.busy_changed.emit(busy)


class ModelWorker(QObject):
    """Lives in a QThread; `handle` is its only entry point."""

    answered = Signal(int, object)  # request id, one answer (a request may give several)
    failed = Signal(int, str, bool)  # request id, message for the user, cancelled
    finished = Signal(int)  # request id: nothing more will come for it
    progress = Signal(int, str, float)  # request id, message, fraction (-1 = unknown)
    busy_changed = Signal(bool)

    def __init__(self, stale: StaleRequests | None = None, check_codec: bool = False) -> None:
        super().__init__()
        self._check_codec = check_codec
        self.runner = RequestRunner(_SignalOutbox(self, check_codec), stale)

    @property
    def session(self) -> WorkerSession:
        return self.runner.session

    @session.setter
    def session(self, session: WorkerSession) -> None:
        self.runner.session = session

    @property
    def stale(self) -> StaleRequests:
        return self.runner.stale

    def cancel(self) -> None:
        """(GUI thread) Ask the running long operation, and any already queued, to stop at their next check."""
        self.runner.cancel()

    @Slot(object)
    def handle(self, request: Request) -> None:
        if self._check_codec:
            request = pickle.loads(pickle.dumps(request, protocol=5))
        self.runner.handle(request)
