"""The interventions in effect, on the GUI side: the one list every view adds to and the Interventions
dock shows, sent whole to the model thread on each change.

A change is answered by the trace run again under the new list, which lands in `AppState` like any
trace, so every panel shows the intervened model. While something is in effect, each new trace also
asks for the model-as-trained logits at its last position (`baseline`), for the distribution's
before → after. A model that loads has none of the old model's interventions: the list empties.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from desktop.core.client import ModelClient
from desktop.core.requests import interventions as iv
from desktop.core.requests import tracing as t
from desktop.core.state import AppState
from model_core.types.interventions import Intervention, InterventionSet


class InterventionsController(QObject):
    changed = Signal()  # the list in effect changed (the model runs with `interventions` now)
    baseline_changed = Signal()  # the model-as-trained logits for the trace on screen arrived (or were dropped)
    failed = Signal(str)  # an intervention was refused: the sentence says why; the list is unchanged

    def __init__(self, state: AppState, client: ModelClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.interventions = InterventionSet()  # what the model runs with (answered by the worker)
        self.baseline: np.ndarray | None = None  # [V] the model as trained, after the last position
        self.baseline_trace_id = -1
        self._set = client.asker(self._on_answer, self._on_failed)
        self._baseline = client.asker(self._on_baseline)
        state.trace_changed.connect(self._ask_baseline)
        state.model_changed.connect(self._on_model)

    # -- changing the list -----------------------------------------------------------------------

    @property
    def active(self) -> tuple[Intervention, ...]:
        return self.interventions.active

    def set_all(self, interventions: InterventionSet) -> bool:
        """Ask for exactly this list; False when no model is loaded yet."""
        if self.state.info is None:
            return False
        self._set.ask(iv.SetInterventionsRequest(tuple(interventions.items)))
        return True

    def add(self, item: Intervention) -> bool:
        """Put `item` in effect (replacing one on the same head / layer)."""
        return self.set_all(self._pending().with_item(item))

    def toggle(self, index: int, enabled: bool) -> bool:
        return self.set_all(self._pending().toggled(index, enabled))

    def remove(self, index: int) -> bool:
        return self.set_all(self._pending().without(index))

    def reset(self) -> bool:
        """Reset model: no intervention at all (the numbers are the trained model's again)."""
        return self.set_all(InterventionSet())

    def _pending(self) -> InterventionSet:
        """The list the newest request asks for (so quick clicks build on each other), else the one in effect."""
        request = self._set.request
        if self._set.pending and isinstance(request, iv.SetInterventionsRequest):
            return InterventionSet(tuple(request.items))
        return self.interventions

    # -- answers ---------------------------------------------------------------------------------

    def _on_answer(self, answer: object) -> None:
        if isinstance(answer, iv.InterventionsApplied):
            self.interventions = answer.interventions
            if not self.active:
                self.baseline, self.baseline_trace_id = None, -1
                self.baseline_changed.emit()
            self.changed.emit()
        elif isinstance(answer, t.TraceResult):
            self.state.set_trace(answer)
        elif isinstance(answer, t.ProjectionResult):
            self.state.set_projection(answer)
        elif isinstance(answer, t.SurprisalResult):
            self.state.set_surprisal(answer)

    def _on_failed(self, message: str, cancelled: bool) -> None:
        if not cancelled:
            self.failed.emit(message)

    def _ask_baseline(self) -> None:
        if self.active and self.state.result is not None and self.baseline_trace_id != self.state.trace_id:
            self._baseline.ask(iv.BaselineRequest(self.state.trace_id))

    def _on_baseline(self, answer: iv.BaselineResult) -> None:
        self.baseline, self.baseline_trace_id = answer.logits, answer.trace_id
        self.baseline_changed.emit()

    def _on_model(self) -> None:
        self._set.forget()
        self._baseline.forget()
        had = bool(self.interventions.items)
        self.interventions, self.baseline, self.baseline_trace_id = InterventionSet(), None, -1
        if had:
            self.changed.emit()
            self.baseline_changed.emit()
