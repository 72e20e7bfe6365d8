"""Running the command line the way a shell would, in two ways.

`run_cli` calls the subcommand in this process: torch and transformers are imported once for the
whole suite instead of once per call (each fresh process spends seconds on imports before it
reads a model). It captures what a terminal would see on stdout and stderr: prints, warnings, and
log records from the libraries, and turns argparse's exit into the exit code.

`run_entry` starts `python -m desktop.entry` in a fresh process, for the tests of the entry point
itself (exit codes as the shell sees them, nothing on stderr but the one line, no Qt needed).
"""

from __future__ import annotations

import contextlib
import io
import logging
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, stdin: str | None = None) -> CliResult:
    from model_core.cli import run

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _stdin(stdin), _library_output_to(err):
        try:
            code = run(list(args))
        except SystemExit as exc:  # argparse's usage errors exit 2 after printing the usage
            code = exc.code if isinstance(exc.code, int) else 1
    return CliResult(code, out.getvalue(), err.getvalue())


def run_entry(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop.entry", *args], capture_output=True, text=True,
                          input=stdin, timeout=300, env=env)


@contextlib.contextmanager
def _stdin(text: str | None) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = io.StringIO(text or "")
    try:
        yield
    finally:
        sys.stdin = saved


@contextlib.contextmanager
def _library_output_to(stream: io.StringIO) -> Iterator[None]:
    """Warnings and log records of WARNING and above go where a terminal would show them.

    pytest records warnings and keeps log records to itself; a fresh process would print both on
    stderr, so the "one line on stderr" checks must see them here too."""
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.WARNING)
    loggers = [logging.getLogger(), logging.getLogger("transformers")]
    for logger in loggers:
        logger.addHandler(handler)
    saved = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        stream.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = saved
        for logger in loggers:
            logger.removeHandler(handler)
