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
    return parser


def run_app(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    if args.smoke_test:
        from desktop.shell.offscreen import use_desktop_sized_offscreen

        use_desktop_sized_offscreen()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from PySide6.QtWidgets import QApplication

    from desktop.core import error_reporting
    from desktop.shell.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Logitscope")
    app.setOrganizationName("Logitscope")
    notifier = error_reporting.ErrorNotifier()
    error_reporting.install(notifier)
    window = MainWindow(model=args.model, device=args.device, prompt=args.prompt,
                        restore=not (args.fresh or args.smoke_test))
    notifier.error_reported.connect(window.show_message)
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
