"""What fills the GUI thread's gaps: every top-level Qt event dispatch, timed, by event type and receiver.

`python -m bench.gui_probe` creates its QApplication from `TimedApplication`; while `recording`,
`notify` keeps (start, end, what) for each dispatch that is not nested in another. `attribute`
then charges every long gap between two ticks of the probe's timer to the dispatches inside it;
what no dispatch covers is time the GUI thread spent waiting for the GIL (held by the worker's
Python code) or for the CPU.
"""

from __future__ import annotations

import time
from collections import defaultdict

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication, QDockWidget

UNACCOUNTED = "outside any Qt event (the GIL held by the worker thread, or no free core)"


class TimedApplication(QApplication):
    """A QApplication that can record how long each top-level event dispatch takes."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__(argv)
        self.recording = False
        self.dispatches: list[tuple[float, float, str]] = []
        self._depth = 0

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
            if end - start > 0.002:  # short ones cannot make a gap worth naming
                self.dispatches.append((start, end, describe(receiver, event)))


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


def attribute(ticks: list[float], dispatches: list[tuple[float, float, str]], threshold_s: float = 0.016
              ) -> dict[str, float]:
    """ms of gaps longer than `threshold_s`, by what filled them (UNACCOUNTED for the rest)."""
    filled: dict[str, float] = defaultdict(float)
    for a, b in zip(ticks, ticks[1:], strict=False):
        if b - a <= threshold_s:
            continue
        covered = 0.0
        for start, end, what in dispatches:
            overlap = min(end, b) - max(start, a)
            if overlap > 0:
                filled[what] += overlap * 1000
                covered += overlap
        filled[UNACCOUNTED] += max(0.0, (b - a) - covered) * 1000
    return dict(filled)


def summary(filled: dict[str, float], top: int = 4) -> str:
    total = sum(filled.values()) or 1.0
    parts = sorted(filled.items(), key=lambda kv: -kv[1])[:top]
    return "; ".join(f"{what} {ms:.0f} ms ({100 * ms / total:.0f}%)" for what, ms in parts)
