"""Autosaves that survive a crash, one per running instance.

Each running Logitscope keeps its own autosave, `instances/<id>.logitscope.json` under the data
folder, and holds `instances/<id>.lock` (a QLockFile: the process id and host inside) for as
long as it runs. Two windows open at once therefore never overwrite each other's recovery
data. At start, an autosave whose lock is not held by a live process belongs to an instance
that ended without a clean exit: it is moved to `recovered/` and offered back. A clean exit
removes the instance's autosave and lock.

Autosaves from before this scheme (`autosave.logitscope.json` with `running.marker`) are
recovered the same way.
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import datetime
from pathlib import Path

import platformdirs
from PySide6.QtCore import QLockFile

SUFFIX = ".logitscope.json"
INSTANCES = "instances"
RECOVERED = "recovered"
LEGACY_AUTOSAVE, LEGACY_MARKER = "autosave" + SUFFIX, "running.marker"


def data_dir() -> Path:
    """The per-user data folder. LOGITSCOPE_DATA_DIR overrides it; when only LOGITSCOPE_SETTINGS is
    set (tests), a folder beside that settings file is used, so tests never touch the user's data."""
    override = os.environ.get("LOGITSCOPE_DATA_DIR")
    if override:
        return Path(override)
    settings = os.environ.get("LOGITSCOPE_SETTINGS")
    if settings:
        return Path(settings).parent / "logitscope-data"
    return Path(platformdirs.user_data_dir("logitscope", appauthor=False))


def _lock(path: Path) -> QLockFile:
    lock = QLockFile(str(path))
    lock.setStaleLockTime(0)  # alive means "its process runs", however long it has run
    return lock


def _is_alive(lock_path: Path) -> bool:
    """Whether a live process holds this lock (a missing or stale lock is not alive)."""
    if not lock_path.exists():
        return False
    probe = _lock(lock_path)
    if probe.tryLock(0):  # only possible when the owner is gone: the stale lock was taken over
        probe.unlock()
        return False
    return probe.error() == QLockFile.LockError.LockFailedError


class InstanceAutosave:
    """This instance's autosave file and the lock that says it is still running."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or data_dir()
        self.id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.path = self.folder / INSTANCES / f"{self.id}{SUFFIX}"
        self._lock: QLockFile | None = None

    def _hold_lock(self) -> None:
        if self._lock is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock = _lock(self.path.parent / f"{self.id}.lock")
            if lock.tryLock(0):
                self._lock = lock

    def write(self, text: str) -> Path:
        """Replace the autosave with `text` (atomically: a crash mid-write keeps the previous one)."""
        self._hold_lock()
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)
        return self.path

    def close(self) -> None:
        """A clean exit: nothing of this instance to recover."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass
        self.release()

    def release(self) -> None:
        """Let go of the lock but keep the autosave, as a crash would."""
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None


def recover_crashed(folder: Path | None = None, keep: str = "") -> list[Path]:
    """Move the autosaves of instances that ended without a clean exit to `recovered/` and return
    everything waiting there, newest first. `keep` is the id of an instance to leave alone (this
    one)."""
    folder = folder or data_dir()
    recovered = folder / RECOVERED
    instances = folder / INSTANCES
    found: list[tuple[Path, str]] = []
    if instances.is_dir():
        for autosave in instances.glob(f"*{SUFFIX}"):
            instance = autosave.name.removesuffix(SUFFIX)
            if instance != keep and not _is_alive(instances / f"{instance}.lock"):
                found.append((autosave, instance))
    legacy = folder / LEGACY_AUTOSAVE
    if (folder / LEGACY_MARKER).exists() and legacy.is_file():
        found.append((legacy, "earlier"))
    for autosave, instance in found:
        try:
            recovered.mkdir(parents=True, exist_ok=True)
            stamp = datetime.fromtimestamp(autosave.stat().st_mtime).strftime("%Y%m%d-%H%M%S")
            shutil.move(str(autosave), recovered / f"{stamp}-{instance}{SUFFIX}")
            (instances / f"{instance}.lock").unlink(missing_ok=True)
        except OSError:
            continue  # another instance is recovering it at the same moment
    (folder / LEGACY_MARKER).unlink(missing_ok=True)
    return waiting_recovery(folder)


def waiting_recovery(folder: Path | None = None) -> list[Path]:
    """Recovered autosaves not yet restored or discarded, newest first."""
    recovered = (folder or data_dir()) / RECOVERED
    if not recovered.is_dir():
        return []
    return sorted(recovered.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)


def running_autosaves(folder: Path | None = None) -> list[Path]:
    """Autosaves of instances that are running now (each one its own file)."""
    instances = (folder or data_dir()) / INSTANCES
    if not instances.is_dir():
        return []
    return [p for p in instances.glob(f"*{SUFFIX}") if _is_alive(instances / f"{p.name.removesuffix(SUFFIX)}.lock")]
