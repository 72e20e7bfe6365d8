"""The window's side of the model process: the model thread's signals, fed from a socket.

`ProcessWorker` has the same signals and entry points as `worker.ModelWorker` (`handle`,
`cancel`, `answered`, `failed`, `finished`, `progress`, `busy_changed`), so `ModelClient` routes
answers the same way whichever runs the model. Requests are pickled and written to the socket in
the GUI thread (they are small); a reading thread decodes each answer (`codec.AnswerDecoder`) and
emits it, queued to the GUI thread as the model thread's signals are.

If the process ends by itself (killed for memory, a crash in a native library), `ended` says why
and a fresh process is started, so the next load works; `ModelClient` fails whatever was open.
"""

from __future__ import annotations

import logging
import subprocess
import threading

from PySide6.QtCore import QObject, Signal, Slot

from desktop.core.model_process.channel import Channel, ChannelClosed
from desktop.core.model_process.codec import AnswerDecoder, pack_plain
from desktop.core.model_process.spawn import Spawned, spawn, take_early
from desktop.core.request_runner import StaleRequests
from desktop.core.requests import Request, next_request_id

log = logging.getLogger(__name__)

QUIT_WAIT_S = 5.0  # how long a closing window waits for the process to finish before killing it


class ModelProcess:
    """A started model process and the window's end of its socket."""

    def __init__(self, spawned: Spawned | None = None) -> None:
        spawned = spawned or spawn()
        self.popen = spawned.popen
        self.channel = Channel(spawned.socket)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, timeout_s: float = QUIT_WAIT_S) -> None:
        """Ask it to quit; kill it if it has not within `timeout_s` (a long computation)."""
        try:
            self.channel.send(pack_plain(("quit",)))
        except ChannelClosed:
            pass
        try:
            self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        self.channel.close()


class ProcessWorker(QObject):
    answered = Signal(int, object)
    failed = Signal(int, str, bool)
    finished = Signal(int)
    progress = Signal(int, str, float)
    busy_changed = Signal(bool)
    ended = Signal(str)  # the process ended by itself: why, for the user (a new one is starting)
    _lost = Signal(object)  # from the reading thread: the process whose socket closed

    def __init__(self, stale: StaleRequests) -> None:
        super().__init__()
        stale.on_add = self._send_stale
        self.stale = stale
        self._process: ModelProcess | None = None
        self._pending: list[tuple] = []  # sent before `start`: they go out, in order, when it starts
        self._stopping = False
        self._lost.connect(self._on_lost)

    # -- GUI thread ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._process is None and not self._stopping:
            self._process = ModelProcess(take_early())
            threading.Thread(target=self._read, args=(self._process,), name="model-process-reader",
                             daemon=True).start()
            pending, self._pending = self._pending, []
            for message in pending:
                self._send(message)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.popen.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @Slot(object)
    def handle(self, request: Request) -> None:
        self._send(("request", request))

    def cancel(self) -> None:
        self._send(("cancel", next_request_id()))

    def _send_stale(self, request_id: int) -> None:
        self._send(("stale", request_id))

    def _send(self, message: tuple) -> None:
        if self._process is None:
            if not self._stopping:
                self._pending.append(message)
            return
        try:
            self._process.channel.send(pack_plain(message))
        except ChannelClosed:  # it has just ended: the reading thread reports it
            pass

    def stop(self, timeout_s: float = QUIT_WAIT_S) -> None:
        """End the process (the window is closing); nothing is started again."""
        self._stopping = True
        process, self._process = self._process, None
        if process is not None:
            process.stop(timeout_s)

    def _on_lost(self, process: ModelProcess) -> None:
        if process is not self._process or self._stopping:
            return
        code = process.popen.wait()
        process.channel.close()
        self._process = None
        reason = "it ran out of memory or was killed" if code in (-9, 137) else f"exit code {code}"
        log.error("the model process %d ended by itself (%s)", process.pid, reason)
        self.start()
        self.ended.emit(f"The model process stopped ({reason}).")

    # -- reading thread --------------------------------------------------------------------------

    def _read(self, process: ModelProcess) -> None:
        decoder = AnswerDecoder()
        try:
            while True:
                header, buffers = process.channel.receive()
                self._dispatch(header, buffers, decoder)
        except ChannelClosed:
            self._lost.emit(process)
        except Exception:  # a message we could not read: the two sides no longer agree
            log.exception("could not read a message from the model process")
            process.popen.kill()
            self._lost.emit(process)

    def _dispatch(self, header: bytes, buffers: list, decoder: AnswerDecoder) -> None:
        message = decoder.unpack(header, buffers)
        kind = message[0]
        if kind == "answered":
            self.answered.emit(message[1], message[2])
        elif kind == "failed":
            self.failed.emit(message[1], message[2], message[3])
        elif kind == "finished":
            self.finished.emit(message[1])
        elif kind == "progress":
            self.progress.emit(message[1], message[2], message[3])
        elif kind == "busy":
            self.busy_changed.emit(message[1])
        elif kind == "log":
            logging.getLogger(message[2]).log(message[1], "[model process] %s", message[3])
