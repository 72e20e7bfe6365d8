"""The `logitscope` command: subcommands run headless; anything else opens the window.

This module imports no Qt at import time, so `logitscope trace ...` works
where no display (or no Qt) is available.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def could_be_a_command(argv: Sequence[str]) -> bool:
    """Whether argv[0] may name a subcommand (`trace`, `generate`…), decided without importing the
    command line (numpy): a command name is a plain word, never an option or a session file."""
    return bool(argv) and not argv[0].startswith("-") and "." not in argv[0] and "/" not in argv[0] \
        and "\\" not in argv[0]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--model-process"]:  # the packaged app starting its own model process
        from desktop.core.model_process.child import main as model_process

        return model_process(argv[1:])
    if argv[:1] == ["--expand-builtin"]:  # the packaged app expanding its built-in model, ahead of the load
        from model_core.engine.builtin_model import expand_main

        return expand_main()
    if not could_be_a_command(argv):  # the window: start the model process before any heavy import
        from desktop.core.model_process.spawn import start_early

        start_early()
    from model_core.cli import COMMAND_NAMES, run

    if argv and argv[0] in COMMAND_NAMES:
        return run(argv)
    from desktop.shell.app import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
