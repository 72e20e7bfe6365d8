"""Starting the model process, with nothing heavier than the standard library imported.

Why its own module: the first trace waits on the model process alone (its imports of torch and
transformers), so every millisecond before it starts is on the critical path. `desktop.entry`
starts it before importing numpy, Qt or the command line (about 0.25 s earlier than from
`run_app`); `process_worker.ModelProcess` adopts it later, with the codec and Qt in hand.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass

from model_core.thread_budget import limited_environment

FLAG = "--model-process"  # `logitscope --model-process FD` runs the model process in the packaged app


def process_wanted() -> bool:
    """The model runs in a process of its own unless LOGITSCOPE_MODEL_THREAD=1 (the tests, which
    start hundreds of windows) or the platform cannot hand a socket to a child (Windows)."""
    return os.environ.get("LOGITSCOPE_MODEL_THREAD", "") != "1" and os.name == "posix"


def model_process_command(fd: int) -> list[str]:
    """How to start the model process with this interpreter (or this packaged app)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, FLAG, str(fd)]
    return [sys.executable, "-m", "desktop.core.model_process.child", str(fd)]


@dataclass
class Spawned:
    """A started model process and the window's end of its socket (not yet wrapped in a channel)."""

    popen: subprocess.Popen
    socket: socket.socket


def spawn() -> Spawned:
    ours, theirs = socket.socketpair()
    try:
        # The environment sizes the child's BLAS and OpenMP pools before numpy starts them.
        popen = subprocess.Popen(model_process_command(theirs.fileno()), pass_fds=(theirs.fileno(),),
                                 stdin=subprocess.DEVNULL, close_fds=True, env=limited_environment())
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    return Spawned(popen, ours)


_early: Spawned | None = None


def start_early() -> None:
    """Start the model process first thing at launch, so its imports (torch, transformers: seconds)
    run on the other core while the window is built. The first `ProcessWorker` takes it over; if
    none does (a usage error, `--help`), the process sees its socket close and exits."""
    global _early
    if _early is None and process_wanted():
        _early = spawn()


def take_early() -> Spawned | None:
    global _early
    spawned, _early = _early, None
    return spawned
