"""What every panel is built with — one way in for every view.

A panel reads the shared `state`, asks the model thread through an asker of its own
(`ctx.asker(on_answer)`), redraws through a gate (`ctx.gate(redraw, key)`, which honours the
window's redraw stagger during Run to end) and, if it must, drives the stepper through
`traces` (the lens at the last position, the trajectory basis).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

from desktop.core.client import Asker, ErrorCallback, ModelClient
from desktop.core.redraw_gate import RedrawGate, RedrawStagger, follow_trace_and_selection
from desktop.core.state import AppState
from desktop.core.trace_controller import TraceController


@dataclass
class ViewContext:
    state: AppState
    client: ModelClient
    stagger: RedrawStagger
    traces: TraceController

    def asker(self, on_answer: Callable[[object], None], on_error: ErrorCallback | None = None,
              on_done: Callable[[], None] | None = None) -> Asker:
        return self.client.asker(on_answer, on_error, on_done)

    def gate(self, redraw: Callable[[], None], key: Callable[[], Hashable] | None = None) -> RedrawGate:
        return RedrawGate(redraw, key, self.stagger)

    def follow_selection(self, redraw: Callable[[], None]) -> RedrawGate:
        """A gate that redraws when the trace, layer, head or position changes."""
        return follow_trace_and_selection(self.state, redraw, self.stagger)


def make_context(parent=None, start_worker: bool = True) -> ViewContext:
    """A fresh state, client (its worker thread started unless `start_worker` is False), stagger and
    trace controller."""
    state = AppState()
    client = ModelClient(parent, start=start_worker)
    stagger = RedrawStagger()
    return ViewContext(state, client, stagger, TraceController(state, client, stagger, parent))
