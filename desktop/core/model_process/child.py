"""The model process: `python -m desktop.core.model_process.child FD` (or `logitscope
--model-process FD` in the packaged app), FD being its end of the socket to the window.

One thread reads the window's messages: requests go to a queue, stale marks and Cancel take
effect at once (a long operation checks them while it runs). The main thread takes requests from
the queue and runs them with the same `RequestRunner` as the model thread; its outbox encodes
each result (`codec.AnswerEncoder`) and writes it to the socket. Log records go to the window,
which writes the one log file. When the window goes away (the socket closes) the process ends,
even in the middle of a computation.
"""

from __future__ import annotations

import gc
import logging
import os
import queue
import signal
import socket
import sys
import threading

from desktop.core.model_process.channel import Channel, ChannelClosed
from desktop.core.model_process.codec import AnswerEncoder, pack_plain, unpack_plain

QUIT = None  # put on the request queue when the window says quit or goes away


class ChannelOutbox:
    """The runner's results, written to the window in the order they happen."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.encoder = AnswerEncoder()

    def answered(self, request_id: int, answer: object) -> None:
        self.channel.send(self.encoder.pack(("answered", request_id, answer)))

    def failed(self, request_id: int, message: str, cancelled: bool) -> None:
        self.channel.send(pack_plain(("failed", request_id, message, cancelled)))

    def finished(self, request_id: int) -> None:
        self.channel.send(pack_plain(("finished", request_id)))

    def progress(self, request_id: int, message: str, fraction: float) -> None:
        self.channel.send(pack_plain(("progress", request_id, message, fraction)))

    def busy_changed(self, busy: bool) -> None:
        self.channel.send(pack_plain(("busy", busy)))


class ForwardToWindow(logging.Handler):
    """Log records as messages to the window, which writes them to its log file."""

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.channel.send(pack_plain(("log", record.levelno, record.name, self.format(record))))
        except Exception:  # noqa: BLE001  (the window is gone; nowhere left to say it)
            pass


def read_window(channel: Channel, requests: queue.Queue, runner) -> None:
    """The reading thread: controls act now, requests wait their turn."""
    from desktop.core.requests.tracing import prepare_ahead

    try:
        while True:
            message = unpack_plain(*channel.receive())
            kind = message[0]
            if kind == "request":
                requests.put(message[1])
                prepare_ahead(message[1])  # begun now, while the main thread still imports the engine
            elif kind == "stale":
                runner.stale.add(message[1])
            elif kind == "cancel":
                runner.cancel(message[1])
            elif kind == "quit":
                break
    except ChannelClosed:
        os._exit(0)  # the window is gone: nothing would read what this process does next
    requests.put(QUIT)


def preload() -> None:
    """Import the engine before the first request asks for it: the window is being built meanwhile,
    on the other core. Automatic collection stays off while the imports grow the heap by some
    500,000 objects that never become garbage, then they are frozen out of its sight."""
    from desktop.core.requests.tracing import import_engine

    gc.disable()
    try:
        import_engine()
    finally:
        gc.freeze()
        gc.enable()


def serve(fd: int) -> int:
    from desktop.core.request_runner import RequestRunner

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in the terminal is the window's to handle
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    channel = Channel(socket.socket(fileno=fd))
    root = logging.getLogger()
    root.addHandler(ForwardToWindow(channel))
    root.setLevel(logging.INFO)
    runner = RequestRunner(ChannelOutbox(channel))
    requests: queue.Queue = queue.Queue()
    threading.Thread(target=read_window, args=(channel, requests, runner), name="window-reader",
                     daemon=True).start()
    try:
        preload()
    except Exception:  # the load request will say what is missing, in words
        logging.getLogger(__name__).exception("could not import the model engine")
    while (request := requests.get()) is not QUIT:
        try:
            runner.handle(request)
        except ChannelClosed:
            return 0
    channel.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return serve(int(argv[0]))


if __name__ == "__main__":
    sys.exit(main())
