"""What fills the GUI thread's gaps: every top-level Qt event dispatch, timed, by event type and receiver.

`python -m bench.gui_probe` creates its QApplication from `TimedApplication`; while `recording`,
`notify` keeps (start, end, what) for each dispatch that is not nested in another (what is named
for those over 2 ms; the shorter ones are counted together). `attribute`
then charges every long gap between two ticks of the probe's timer to the dispatches inside it;
Python's garbage collections (which stop every thread) are recorded the same way. What none covers
is time the GUI thread spent waiting for the GIL (held by the worker's Python code) or for the CPU.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import defaultdict

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication, QDockWidget

UNACCOUNTED = "outside any Qt event: waiting for the GIL (the worker's Python code)"
SHORT = "Qt events of under 2 ms each, one after another (repaints, timers, queued answers)"
SHORT_S = 0.002  # a dispatch shorter than this is counted under SHORT instead of being named
NO_CORE = "outside any Qt event: runnable but no free CPU core (other processes, torch's threads)"
SCHEDSTAT = "/proc/thread-self/schedstat"  # Linux: ns on a CPU, ns waiting on the run queue, time slices


def run_queue_wait() -> float:
    """Seconds this thread has spent runnable but not running (0.0 where Linux's schedstat is missing)."""
    try:
        with open(SCHEDSTAT) as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class TimedApplication(QApplication):
    """A QApplication that can record how long each top-level event dispatch takes."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__(argv)
        self.recording = False
        self.dispatches: list[tuple[float, float, str]] = []
        self._depth = 0
        self._gc_start: dict[int, float] = {}
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict) -> None:
        """Python's cyclic collector stops every thread while it runs, in whichever thread triggered it."""
        if not self.recording:
            return
        ident = threading.get_ident()
        if phase == "start":
            self._gc_start[ident] = time.perf_counter()
        elif ident in self._gc_start:
            start = self._gc_start.pop(ident)
            end = time.perf_counter()
            if end - start > 0.002:
                where = "GUI" if ident == threading.main_thread().ident else "worker"
                self.dispatches.append((start, end, f"Python garbage collection, generation {info['generation']} "
                                                    f"(in the {where} thread)"))

    def notify(self, receiver, event) -> bool:  # noqa: D102 - Qt's
        if not self.recording or self._depth:
            self._depth += 1
            try:
                return super().notify(receiver, event)
            finally:
                self._depth -= 1
        self._depth += 1
        start = time.perf_counter()
        try:
            return super().notify(receiver, event)
        finally:
            end = time.perf_counter()
            self._depth -= 1
            # Naming every dispatch would slow the GUI thread being measured; the short ones are
            # counted together, so that many of them in a row are not mistaken for waiting.
            self.dispatches.append((start, end, self._name(receiver, event) if end - start > SHORT_S else SHORT))

    @staticmethod
    def _name(receiver, event) -> str:
        try:
            return describe(receiver, event)
        except RuntimeError:  # the receiver (or a parent) was deleted while its event was handled
            return "an event for an object deleted while handling it"


def describe(receiver, event) -> str:
    """'Paint on PlotWidget in the Attention dock' or 'MetaCall on Worker': the event and whom it was for."""
    try:
        kind = QEvent.Type(event.type()).name
    except ValueError:
        kind = f"event {int(event.type())}"
    owner = receiver
    if type(owner).__name__ in ("QWidget", "QOpenGLWidget") and owner.parent() is not None:
        owner = owner.parent()  # a view's viewport: name the view
    dock = receiver
    while dock is not None and not isinstance(dock, QDockWidget):
        parent = getattr(dock, "parent", None)
        dock = parent() if callable(parent) else None
    where = f" in the {dock.windowTitle()} dock" if dock is not None else ""
    parent = owner.parent() if dock is None and callable(getattr(owner, "parent", None)) else None
    of = f" of {type(parent).__name__}" if parent is not None else ""  # a timer: whose it is
    return f"{kind} on {type(owner).__name__}{of}{where}"


def attribute(ticks: list[float], dispatches: list[tuple[float, float, str]], threshold_s: float = 0.016,
              waits: list[float] | None = None) -> dict[str, float]:
    """ms of gaps longer than `threshold_s`, by what filled them. `waits[i]` is `run_queue_wait()` at
    tick i: the part of a gap that the GUI thread spent waiting for a core is NO_CORE; what neither a
    dispatch nor that covers is UNACCOUNTED (the GIL)."""
    filled: dict[str, float] = defaultdict(float)
    for i, (a, b) in enumerate(zip(ticks, ticks[1:], strict=False)):
        if b - a <= threshold_s:
            continue
        covered = 0.0
        for start, end, what in dispatches:
            overlap = min(end, b) - max(start, a)
            if overlap > 0:
                filled[what] += overlap * 1000
                covered += overlap
        rest = max(0.0, (b - a) - covered)
        if waits is not None and i + 1 < len(waits):
            no_core = min(rest, max(0.0, waits[i + 1] - waits[i]))
            filled[NO_CORE] += no_core * 1000
            rest -= no_core
        filled[UNACCOUNTED] += rest * 1000
    return dict(filled)


def summary(filled: dict[str, float], top: int = 4) -> str:
    total = sum(filled.values()) or 1.0
    parts = sorted(filled.items(), key=lambda kv: -kv[1])[:top]
    return "; ".join(f"{what} {ms:.0f} ms ({100 * ms / total:.0f}%)" for what, ms in parts)
