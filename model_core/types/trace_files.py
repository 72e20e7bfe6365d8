"""A trace saved as .npz: every per-position array (`TRACE_ARRAYS`), the tokens and the logits."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from model_core.output_files import write_atomically
from model_core.types.trace import Trace


def save_trace_npz(trace: Trace, path: str | os.PathLike) -> Path:
    """Write `trace` to `path` (compressed .npz; the name is kept as given) without ever leaving
    a half-written file; `OutputPathError` says why it could not."""
    fields = trace.npz_fields()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:  # a file object: numpy would add ".npz" to a bare name
            np.savez_compressed(handle, **fields)

    return write_atomically(path, write)
