"""Starting the window: command-line options, QApplication, error routing, smoke test."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from model_core.types.model_info import DEVICE_CHOICES

SMOKE_TIMEOUT_MS = 300_000


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logitscope",
        description="Look inside a causal language model. Subcommands 'trace' and 'generate' run without a window.",
    )
    parser.add_argument("--model", help="'builtin' (default), a GPT-2 name such as gpt2, a hub id, or a folder")
    parser.add_argument("--prompt", help="the prompt to open with")
    parser.add_argument("--device", choices=DEVICE_CHOICES, help="where the model runs (default: auto)")
    parser.add_argument("--smoke-test", action="store_true",
                        help="open the window offscreen, trace once with the model, check every panel, exit")
    parser.add_argument("--fresh", action="store_true", help="ignore the remembered layout, model and prompt")
    parser.add_argument("session", nargs="?", help="a saved session file (*.logitscope.json) to open")
    return parser


def run_app(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    from desktop.core.model_process.spawn import start_early

    start_early()  # if `desktop.entry` has not already; its imports take seconds, beside the window's
    if args.smoke_test:
        from desktop.shell.offscreen import use_desktop_sized_offscreen

        use_desktop_sized_offscreen()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from PySide6.QtWidgets import QApplication

    from desktop.core import error_reporting
    from desktop.shell.garbage_collection import collect_garbage_in_gui_thread, follow_the_model

    app = QApplication.instance() or QApplication([sys.argv[0]])
    setup_application(app)
    collector = collect_garbage_in_gui_thread(app)  # before the worker thread starts
    notifier = error_reporting.ErrorNotifier()
    error_reporting.install(notifier)
    try:
        window = open_window(args)
    except Exception as exc:  # a bug: say so where the user looks, not only in the log
        return _could_not_open(exc, headless=args.smoke_test)
    if window is None:
        return 2
    notifier.error_reported.connect(window.show_message)
    follow_the_model(collector, window)
    if args.smoke_test:
        from desktop.shell.smoke_test import run_smoke_test

        window.sessions.set_autosave(False)  # a check run leaves no session to "recover"
        return run_smoke_test(app, window, SMOKE_TIMEOUT_MS)
    if window.first_start:
        window.showMaximized()
    else:
        window.show()
    window.sessions.offer_recovery()  # the last run did not exit cleanly: offer its autosave back
    return app.exec()


def _could_not_open(exc: Exception, headless: bool) -> int:
    """The window failed to build: the reason on stderr and, on a desktop, in a dialog (exit code 1)."""
    import logging

    from desktop.core.error_reporting import log_file

    logging.getLogger("logitscope").exception("the window could not be opened")
    message = f"Logitscope could not open its window: {type(exc).__name__}: {exc}. Details are in {log_file()}."
    print(message, file=sys.stderr)
    if not headless:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.critical(None, "Logitscope", message)
    return 1


def setup_application(app) -> None:
    """Names and icon that the desktop shows for every window of the app."""
    from desktop.shell.app_icon import app_icon

    app.setApplicationName("Logitscope")
    app.setOrganizationName("Logitscope")
    app.setDesktopFileName("logitscope")  # Wayland / task bars match the windows to logitscope.desktop
    app.setWindowIcon(app_icon())


def open_window(args: argparse.Namespace):
    """The main window for parsed command-line `args`, with the session file (if one was named) being
    reopened. A session file that cannot be read is said on stderr and in the banner, and the window
    opens as usual; in a headless check (`--smoke-test`) it returns None instead (exit code 2)."""
    from desktop.features.sessions import SessionError, read_session
    from desktop.shell.main_window import MainWindow

    session, problem = None, ""
    if args.session:
        try:
            session = read_session(args.session)
        except SessionError as exc:
            problem = f"Could not open the session {args.session}: {exc}."
            print(problem, file=sys.stderr)
            if args.smoke_test:  # headless: nobody reads a banner
                return None
    # Start on the session's model, so the window does not load another one first.
    window = MainWindow(model=args.model or (session.model if session else None),
                        device=args.device or (session.device if session else None), prompt=args.prompt,
                        restore=not (args.fresh or args.smoke_test))
    if session is not None:
        window.sessions.restore(args.session)
    elif problem:
        window.show_message(problem)
    return window
