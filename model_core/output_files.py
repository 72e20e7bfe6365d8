"""Writing a file the user named, so that it either appears whole or not at all.

Every export (the command line's --dump, the window's PNG/SVG/.npz/CSV exports, sessions)
goes through `write_atomically`: the data goes to a temporary file beside the target, which
is renamed over it only once complete. A path that is a folder, a folder that does not
exist, a read-only place or a full disk gives an `OutputPathError` with a sentence a user
can act on, and no half-written file is left behind.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from model_core.errors import LogitscopeError


class OutputPathError(LogitscopeError):
    """An output file that cannot be written; the message says why and what to do."""


def check_output_path(path: str | os.PathLike) -> Path:
    """The path as a Path, if a file could be written there; OutputPathError otherwise."""
    path = Path(path).expanduser()
    if str(path) in ("", "."):
        raise OutputPathError("No file name was given.")
    if path.is_dir():
        raise OutputPathError(f"{path} is a folder; give a file name inside it, such as {path / 'trace.npz'}.")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise OutputPathError(f"Cannot write {path}: the folder {parent} does not exist.")
    if not parent.is_dir():
        raise OutputPathError(f"Cannot write {path}: {parent} is a file, not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"Cannot write {path}: the folder {parent} is not writable.")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputPathError(f"Cannot write {path}: the file exists and is read-only.")
    return path


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno == errno.EDQUOT:
        return "the disk quota is used up"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "permission denied"
    return exc.strerror or str(exc)


def write_atomically(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(temporary_path)` and move the result to `path`; returns the final path.

    `write` must write the whole file to the path it is given. On any failure the temporary
    file is removed and an existing file at `path` is left as it was.
    """
    path = check_output_path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputPathError(f"Could not write {path}: {_why(exc)}.") from exc
    finally:
        if tmp.exists():
            tmp.unlink(missing_ok=True)
    return path


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> Path:
    return write_atomically(path, lambda tmp: tmp.write_bytes(data))


def write_text_atomically(path: str | os.PathLike, text: str) -> Path:
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
