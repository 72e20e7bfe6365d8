"""One error path: uncaught exceptions anywhere go to a log file and a banner in the window."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from pathlib import Path

import platformdirs
from PySide6.QtCore import QObject, Signal

log = logging.getLogger("logitscope")


class ErrorNotifier(QObject):
    """Emits from any thread; the connection to the window's banner is queued to the GUI thread."""

    error_reported = Signal(str)


def log_file() -> Path:
    folder = Path(platformdirs.user_log_dir("logitscope", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "logitscope.log"


def install(notifier: ErrorNotifier) -> None:
    """Route sys.excepthook and threading.excepthook to the log and the notifier."""
    try:
        handler: logging.Handler = logging.FileHandler(log_file(), encoding="utf-8")
    except OSError:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def report(kind, value, tb) -> None:
        log.error("uncaught %s:\n%s", kind.__name__, "".join(traceback.format_exception(kind, value, tb)))
        notifier.error_reported.emit(f"Unexpected error: {kind.__name__}: {value}. Details are in {log_file()}.")

    sys.excepthook = report
    threading.excepthook = lambda args: report(args.exc_type, args.exc_value, args.exc_traceback)
