"""Run to end, on the GUI side: the throttle, the redraw stagger and the end of the run.

The worker generates faster than every panel can redraw. While a run is on, the newest
trace (and the newest projection) wait here and land at most every `RUN_REDRAW_MS`; the
window's `RedrawStagger` spreads the panels' redraws over event-loop turns, so clicks and
keys get through between tokens. When the run ends (a stop reason, Cancel, an error or the
window closing) the panels still waiting finish one per turn, and then redraws happen at once again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from desktop.core.redraw_gate import RedrawStagger
from desktop.core.requests.tracing import ProjectionResult, TraceResult

RUN_REDRAW_MS = 120  # during Run to end, redraw every panel at most this often


class RunController(QObject):
    started = Signal()
    ended = Signal()
    progressed = Signal(str, float)  # "Generating: 57 / 200 new tokens, 12.3 tokens/s", fraction done

    def __init__(self, stagger: RedrawStagger, show_trace: Callable[[TraceResult], None],
                 show_projection: Callable[[ProjectionResult], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._stagger = stagger
        self._show_trace = show_trace
        self._show_projection = show_projection
        self.request_id = 0  # the run in progress, 0 when none
        self._trace: TraceResult | None = None
        self._projection: ProjectionResult | None = None
        self._started_at = 0.0
        self._first_n_new: int | None = None  # tokens there were before the run's first one
        self._timer = QTimer(self, singleShot=True, interval=RUN_REDRAW_MS)
        self._timer.timeout.connect(self.flush)

    @property
    def active(self) -> bool:
        return self.request_id != 0

    def begin(self, request_id: int) -> None:
        self.request_id = request_id
        self._started_at = time.perf_counter()
        self._first_n_new = None
        self._stagger.start()  # panels redraw one per event-loop turn while it runs
        self.started.emit()

    def take(self, answer: object) -> None:
        """An answer of the running request: a trace still generating waits for the next flush;
        the final one (with its stop reason) ends the run and lands at once."""
        if isinstance(answer, TraceResult):
            if self._first_n_new is None:
                self._first_n_new = answer.n_new - 1
            if answer.stop_reason is None:
                self._trace = answer
                if not self._timer.isActive():
                    self._timer.start()
                return
            self._trace = self._projection = None
            self._show_trace(answer)  # before the end: the panels take it one per turn, not all at once
            self.end()
        elif isinstance(answer, ProjectionResult):
            waiting = self._trace
            if waiting is not None and answer.trace_id == waiting.trace_id:
                self._projection = answer  # lands with its trace
            else:
                self._show_projection(answer)

    def flush(self) -> None:
        trace, projection = self._trace, self._projection
        self._trace = self._projection = None
        if trace is not None and self.active:
            self._show_trace(trace)
            if projection is not None:
                self._show_projection(projection)
            self._report(trace)

    def _report(self, trace: TraceResult) -> None:
        made = trace.n_new - (self._first_n_new or 0)
        seconds = time.perf_counter() - self._started_at
        rate = f", {made / seconds:.1f} tokens/s" if seconds > 0 and made > 0 else ""
        self.progressed.emit(f"Generating: {trace.n_new:,} / {trace.max_new_tokens:,} new tokens{rate}",
                             trace.n_new / max(trace.max_new_tokens, 1))

    def end(self, draw: bool = True) -> None:
        """The run is over (`draw=False`: the window is closing, drop what waits, also what still
        waits from a run that has already ended)."""
        if not self.active:
            if not draw:
                self._stagger.finish(draw=False)
            return
        self.request_id = 0
        self._timer.stop()
        self._stagger.finish(draw)
        self.ended.emit()
