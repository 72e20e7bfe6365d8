"""The headless command line: `logitscope trace ...`, `logitscope generate ...` and friends.

No Qt is imported on this path, so it runs on servers and in notebooks' shells.
Bad input exits non-zero with one line on stderr, never a traceback.

Each subcommand is one module with NAME, HELP, `add_arguments(parser)` and `run(args) -> int`;
adding one is a new module and a line in `COMMANDS`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from model_core.cli import attribute_command, generate_command, patch_command, trace_command
from model_core.cli.common import EXIT_ERROR, EXIT_USAGE, UsageError, check_model_options
from model_core.errors import LogitscopeError

COMMANDS = (trace_command, generate_command, attribute_command, patch_command)
COMMAND_NAMES: tuple[str, ...] = tuple(c.NAME for c in COMMANDS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logitscope", description="Look inside a causal language model.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_arguments(sub.add_parser(command.NAME, help=command.HELP))
    return parser


def _error(message: str) -> None:
    print(f"logitscope: error: {message}", file=sys.stderr)


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = next(c for c in COMMANDS if c.NAME == args.command)
    try:
        if hasattr(args, "model"):
            check_model_options(args)
        return command.run(args)
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except LogitscopeError as exc:
        _error(str(exc))
        return EXIT_ERROR
    except ValueError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("logitscope: interrupted", file=sys.stderr)
        return 130
