"""The GUI thread's single source of truth for what several panels share: the model, the trace
(and what follows it: projection, surprisal, the lens), the selection, the sampling settings.

Panels read from here and listen to its signals; they never talk to each other. An answer
only one panel reads (the MLP probe, the lens grid, embeddings) goes straight to that panel
through its `Asker` instead. Changing the selection only re-emits `selection_changed`: it never
touches the model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QObject, Signal

from desktop.core.requests import tracing as m
from model_core.analysis.sampling import Distribution, SamplingSettings, shape_distribution
from model_core.types.chat import NO_TEMPLATE, ChatTemplateInfo
from model_core.types.model_info import ModelInfo
from model_core.types.trace import Trace


@dataclass(frozen=True)
class Selection:
    position: int = 0  # selected token (query) index
    layer: int = 0  # attention layer, 0-based
    head: int = 0
    follow_last: bool = True  # keep the last token selected as the sequence grows


class AppState(QObject):
    model_changed = Signal()
    trace_changed = Signal()
    selection_changed = Signal()
    settings_changed = Signal()
    position_changed = Signal()  # distribution/lens at the selected position arrived
    projection_changed = Signal()
    surprisal_changed = Signal()
    lens_changed = Signal()  # the logit lens at the last position arrived (the trace now has it)
    stale_changed = Signal()  # the trace on screen stopped (or started again) matching the prompt

    def __init__(self) -> None:
        super().__init__()
        self.info: ModelInfo | None = None
        self.vocab_labels: tuple[str, ...] = ()
        self.eos_ids: frozenset[int] = frozenset()
        self.chat: ChatTemplateInfo = NO_TEMPLATE  # the loaded model's chat template
        self.result: m.TraceResult | None = None
        self.selection = Selection()
        self.settings = SamplingSettings()
        self.position_result: m.PositionResult | None = None
        self.projection: m.ProjectionResult | None = None
        self.surprisal: m.SurprisalResult | None = None
        # Why the trace on screen is no longer the prompt's ("" while it is): a prompt that could
        # not be traced leaves the old trace in the worker, and nothing may act on it as if current.
        self.stale_reason = ""

    # -- derived ---------------------------------------------------------------------------------

    @property
    def trace(self) -> Trace | None:
        return self.result.trace if self.result else None

    def label(self, token_id: int) -> str:
        return self.vocab_labels[token_id] if 0 <= token_id < len(self.vocab_labels) else f"#{token_id}"

    def next_logits(self) -> tuple[np.ndarray, int] | None:
        """(logits [V], position): the logits for the token after the selected position.

        None while those are not known yet (no trace, or the logits after a position other than
        the last are still on their way): a panel then keeps what it shows rather than showing
        another position than every other panel.
        """
        trace = self.trace
        if trace is None:
            return None
        last = trace.n_tokens - 1
        position = self.selection.position
        if position == last:
            return trace.next_logits, last
        pr = self.position_result
        if pr is not None and pr.trace_id == self.result.trace_id and pr.position == position:
            return pr.logits, position
        return None

    def context(self, position: int) -> np.ndarray:
        """[position + 1] the token ids up to and including `position`: what the penalties count."""
        return self.trace.tokens.ids[: position + 1] if self.trace is not None else np.zeros(0, np.int64)

    def distribution(self) -> Distribution | None:
        """The next-token distribution after the selected (or last) position, with every knob applied,
        or None before the first trace (or when the knobs cannot give one)."""
        found = self.next_logits()
        if found is None:
            return None
        logits, position = found
        try:
            return shape_distribution(logits, self.settings, self.context(position))
        except ValueError:  # a bias that bans every token: the panel says so
            return None

    # -- updates ---------------------------------------------------------------------------------

    def mark_stale(self, reason: str) -> None:
        """The prompt could not be traced (`reason` says why): what is shown is an older prompt's."""
        if reason != self.stale_reason:
            self.stale_reason = reason
            self.stale_changed.emit()

    def _clear_stale(self) -> None:
        if self.stale_reason:
            self.stale_reason = ""
            self.stale_changed.emit()

    def set_model(self, loaded: m.LoadedResult) -> None:
        self.info = loaded.info
        self.eos_ids = loaded.eos_ids
        self.chat = loaded.chat
        self.vocab_labels = loaded.vocab_labels
        self.result = None
        self.position_result = self.projection = self.surprisal = None
        self.selection = Selection(layer=loaded.info.n_layers // 2)
        self._clear_stale()
        self.model_changed.emit()

    def set_trace(self, result: m.TraceResult) -> None:
        previous = self.trace
        self.result = result
        last = result.trace.n_tokens - 1
        sel = self.selection
        follow = sel.follow_last or previous is None or sel.position >= last
        position = last if follow else min(sel.position, last)
        layer = min(sel.layer, result.trace.n_layers - 1)
        head = min(sel.head, result.trace.n_heads - 1)
        selection = Selection(position, layer, head, follow_last=follow)
        moved = selection != sel
        self.selection = selection
        self._clear_stale()
        self.trace_changed.emit()
        if moved:  # e.g. following the last token onto the one just generated
            self.selection_changed.emit()

    def select(self, position: int | None = None, layer: int | None = None, head: int | None = None) -> None:
        trace = self.trace
        sel = self.selection
        if position is not None and trace is not None:
            position = int(np.clip(position, 0, trace.n_tokens - 1))
            sel = replace(sel, position=position, follow_last=position == trace.n_tokens - 1)
        if layer is not None:
            limit = (trace.n_layers if trace else self.info.n_layers if self.info else 1) - 1
            sel = replace(sel, layer=int(np.clip(layer, 0, limit)))
        if head is not None:
            limit = (trace.n_heads if trace else self.info.n_heads if self.info else 1) - 1
            sel = replace(sel, head=int(np.clip(head, 0, limit)))
        if sel != self.selection:
            self.selection = sel
            self.selection_changed.emit()

    def set_settings(self, settings: SamplingSettings) -> None:
        settings = settings.validated()
        if settings != self.settings:
            self.settings = settings
            self.settings_changed.emit()

    def set_position_result(self, result: m.PositionResult) -> None:
        if self.result is None or result.trace_id != self.result.trace_id:
            return  # stale
        self.position_result = result
        self.position_changed.emit()

    def set_projection(self, result: m.ProjectionResult) -> None:
        if self.result is None or result.trace_id != self.result.trace_id:
            return  # for a trace not (or no longer) on screen
        self.projection = result
        self.projection_changed.emit()

    def set_surprisal(self, result: m.SurprisalResult) -> None:
        if self.result is None or result.trace_id != self.result.trace_id:
            return  # stale
        self.surprisal = result
        self.surprisal_changed.emit()

    @property
    def trace_id(self) -> int:
        """The id of the trace on screen (0 before the first)."""
        return self.result.trace_id if self.result is not None else 0

    def set_lens(self, result: m.LensResult) -> None:
        """The trace gains its logit lens: same trace id, so panels keyed on it do not redraw."""
        if self.result is None or result.trace_id != self.result.trace_id:
            return  # stale
        self.result = replace(self.result, trace=result.trace)
        self.lens_changed.emit()
