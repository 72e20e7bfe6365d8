"""The stepper, on the GUI side: load a model, trace the prompt, step / sample / undo / reset,
run to the end, replay a session's tokens — and put every answer where the panels read it.

All of these change the one sequence the worker's stepper holds, so they go through one
`Asker`: only the newest request's trace lands, whatever order answers arrive in. The reads
that several panels share (the logits at the selected position, the trajectory projection,
the lens at the last position) have an asker each and land in `AppState`.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QEventLoop, QObject, QTimer, Signal

from desktop.core.client import ModelClient
from desktop.core.redraw_gate import RedrawStagger
from desktop.core.requests import tracing as t
from desktop.core.run_controller import RunController
from desktop.core.state import AppState
from model_core.analysis.sampling import SamplingSettings
from model_core.types.chat import Conversation

RELOAD_AGAIN_AFTER_S = 60.0  # the model process ended twice within this: do not load the model a third time


class TraceController(QObject):
    busy = Signal(str, bool)  # message, cancellable: long work started (progress bar, Cancel)
    progressed = Signal(str, float)  # message, fraction: how far the long work has got
    done = Signal()  # the long work ended
    status = Signal(str)  # a line for the status bar
    failed = Signal(str)  # a failure the user should read (the banner)
    succeeded = Signal()  # a prompt traced cleanly: an old complaint would mislead
    load_asked = Signal(str)  # spec: another model is on its way
    loaded = Signal()  # a model is loaded and in `state`; the prompt should be traced
    load_failed = Signal(str, str)  # spec, message ('' when cancelled): that model did not load (the one before stays)

    def __init__(self, state: AppState, client: ModelClient, stagger: RedrawStagger,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.client = client
        self.max_new_tokens = 20
        self.run_greedy = True  # Run to end: every token greedy (as Step) or sampled (as Sample)
        self.run = RunController(stagger, self._show_trace, state.set_projection, self)
        self.run.progressed.connect(self.progressed)
        self._model = client.asker(self._on_loaded, self._on_load_failed)
        self._trace = client.asker(self._on_trace_answer, self._on_trace_failed)
        self._position = client.asker(state.set_position_result)
        self._projection = client.asker(self._on_projection)
        self._lens = client.asker(state.set_lens)
        state.selection_changed.connect(self._ask_position)
        state.trace_changed.connect(self._ask_position)  # a new trace with the same token still selected
        self._loaded_request: t.LoadRequest | None = None  # how the model on screen was loaded
        self._reloaded_at = -RELOAD_AGAIN_AFTER_S
        self._lost = ""  # why the model process ended, while its model loads again
        self._lost_also: list[str] = []  # what else went with it (a panel says, see lost_with_process)
        self._answered_load = -1  # id of the load request whose answer (or failure) has arrived
        client.model_lost.connect(self._on_model_lost)

    # -- asking ----------------------------------------------------------------------------------

    @property
    def loading(self) -> bool:
        """A load was asked and not yet answered. (The asker counts a request open until its answer's
        slot has returned; from the answer on the window is tracing the prompt, not loading.)"""
        request = self._model.request
        return self._model.pending and request is not None and request.id != self._answered_load

    @property
    def loading_spec(self) -> str:
        """The model being loaded now ("" when none is)."""
        request = self._model.request
        return request.spec if self._model.pending and isinstance(request, t.LoadRequest) else ""

    @property
    def running(self) -> bool:
        return self.run.active

    @property
    def request(self):
        """The newest request that changes the trace (its answer is, or will be, on screen)."""
        return self._trace.request

    def load(self, spec: str, device: str = "auto", options: t.LoadOptions | None = None) -> None:
        options = options or t.LoadOptions()
        self._model.ask(t.LoadRequest(spec, device, options))
        self.load_asked.emit(spec)
        # after asking: `loading` is already true
        self.busy.emit(f"Loading {spec}…" if options == t.LoadOptions() else f"Loading {spec} ({options.describe()})…",
                       True)

    def submit(self, text: str, allow_special: bool = False) -> bool:
        """Trace `text` as the new prompt; False when nothing was asked (no model yet, empty text)."""
        if self.state.info is None:
            return False  # traced once the model has loaded
        if not text:
            message = "The prompt is empty: type some text or pick a sentence."
            self.state.mark_stale(message)  # the old trace must not pass for this (empty) prompt's
            self.failed.emit(message)
            return False
        self.status.emit("Tracing…")
        self._trace.ask(t.TraceRequest(text, allow_special, self.max_new_tokens))
        return True

    def submit_chat(self, conversation: Conversation, allow_special: bool = False) -> bool:
        """Trace a conversation, rendered by the model's chat template, as the new prompt (the reply
        is what Step / Sample / Run generate next); False when nothing was asked."""
        if self.state.info is None:
            return False
        if not self.state.chat.has_template:
            self.failed.emit(f"{self.state.info.name} has no chat template: it is a plain next-token model, "
                             "with no assistant turn to fill. Use the Text mode, or load an instruct model.")
            return False
        if not conversation or not any(m.content.strip() for m in conversation):
            message = "The conversation is empty: type a message first."
            self.state.mark_stale(message)  # the old trace must not pass for this (empty) conversation's
            self.failed.emit(message)
            return False
        if self.running:
            self.client.cancel()  # a new message ends the reply being generated
        self.status.emit("Tracing the conversation…")
        self._trace.ask(t.TraceRequest("", allow_special, self.max_new_tokens, chat=tuple(conversation)))
        return True

    def act(self, action: str, settings: SamplingSettings | None = None, greedy: bool | None = None) -> bool:
        """A generation action (`tracing.ACTIONS`); Run to end is greedy or sampled (default: `run_greedy`).
        False when nothing was asked (no trace, a run going on, or a prompt that could not be traced:
        stepping would go on from the old text)."""
        if self.state.result is None or (self.running and action != t.RUN):
            return False
        if self.state.stale_reason:
            self.status.emit("Nothing to generate from: the prompt could not be traced (see the message above).")
            return False
        settings = settings if settings is not None else self.state.settings
        if action == t.RUN:
            if self.running:
                return False
            request = t.RunRequest(settings, self.max_new_tokens, greedy=self.run_greedy if greedy is None else greedy)
            self.run.begin(request.id)
            self.busy.emit("Generating…", True)
        else:
            request = t.StepRequest(action, settings, self.max_new_tokens)
        self._trace.ask(request)
        return True

    def replay(self, token_ids: tuple[int, ...], choices: tuple[str, ...] = ()) -> None:
        """Append exactly these tokens after the traced prompt (a reopened session)."""
        self._trace.ask(t.ReplayRequest(tuple(token_ids), self.max_new_tokens, tuple(choices), self.state.settings))

    def ask_projection(self, basis: str) -> None:
        self._projection.ask(t.ProjectionRequest(basis))

    def ask_lens(self) -> None:
        """The logit lens at the last position of the trace on screen (it joins the trace)."""
        if self.state.result is not None and not self.state.result.trace.has_lens:
            self._lens.ask(t.LensRequest(self.state.trace_id))

    def wait_for_lens(self, timeout_ms: int = 30_000) -> bool:
        """Ask for the current trace's logit lens and wait for it, keeping the window alive
        (the lens is otherwise computed only when its panel is shown)."""
        result = self.state.result
        if result is None or result.trace.has_lens:
            return result is not None
        loop = QEventLoop()
        self.state.lens_changed.connect(loop.quit)
        self.client.idle.connect(loop.quit)
        QTimer.singleShot(timeout_ms, loop.quit)
        self.ask_lens()
        while self._lens.pending and self.state.trace is not None and not self.state.trace.has_lens:
            loop.exec()
        self.state.lens_changed.disconnect(loop.quit)
        self.client.idle.disconnect(loop.quit)
        return self.state.trace is not None and self.state.trace.has_lens

    # -- answers ---------------------------------------------------------------------------------

    def _on_loaded(self, loaded: t.LoadedResult) -> None:
        request = self._model.request
        self._answered_load = request.id if request is not None else -1
        self._loaded_request = request if isinstance(request, t.LoadRequest) else None
        self._trace.forget()  # answers about the previous model mean nothing now
        self.run.end()
        self.done.emit()
        self.succeeded.emit()
        self.state.set_model(loaded)
        self.status.emit(loaded.info.summary())
        self.loaded.emit()

    def _on_model_lost(self, reason: str) -> None:
        """The model process ended by itself (what it was doing has failed and said so): load the model
        on screen again in the fresh one, and the prompt is traced again as after any load. Not twice
        within a minute, so that a model that brings the process down each time is not loaded forever."""
        request, now = self._loaded_request, time.monotonic()
        if request is None or self.loading:
            return
        if now - self._reloaded_at < RELOAD_AGAIN_AFTER_S:
            self.failed.emit(f"{reason} It stopped again soon after; choose a model to go on.")
            return
        self._reloaded_at, self._lost, self._lost_also = now, reason, []
        self.load(request.spec, request.device, request.options)

    def lost_with_process(self, what: str) -> None:
        """Something a panel had in the model process that did not come back with the reload (the
        second model of Side by side): the banner after the reload names it with the rest. Panels
        call this from their own `client.model_lost` slot, which runs after this controller's."""
        if self._lost:
            self._lost_also.append(what)

    def _on_load_failed(self, message: str, cancelled: bool) -> None:
        request = self._model.request
        self._answered_load = request.id if request is not None else -1
        self.done.emit()
        self.load_failed.emit(request.spec if isinstance(request, t.LoadRequest) else "", "" if cancelled else message)
        info = self.state.info
        self.status.emit("No model loaded." if info is None else info.summary())
        if not cancelled:
            self.failed.emit(message)
        else:
            self.status.emit("Loading cancelled." if info is None else f"Loading cancelled; {info.summary()}")

    def _on_trace_answer(self, answer: object) -> None:
        request = self._trace.request
        if self.run.active and request is not None and request.id == self.run.request_id:
            self.run.take(answer)
            if not self.run.active:
                self.done.emit()
            return
        if isinstance(answer, t.TraceResult):
            self._show_trace(answer)
        elif isinstance(answer, t.ProjectionResult):
            self.state.set_projection(answer)
        elif isinstance(answer, t.SurprisalResult):
            self.state.set_surprisal(answer)

    def _show_trace(self, result: t.TraceResult) -> None:
        if result.action == "trace":
            self.succeeded.emit()
            if self._lost:  # the first trace after the model was loaded again: say what happened, once
                lost, self._lost = self._lost, ""
                gone = ["tokens generated before", "interventions", *self._lost_also]
                self.failed.emit(f"{lost} The model was loaded again in a new one and the prompt traced again; "
                                 f"{', '.join(gone[:-1])} and {gone[-1]} are gone.")
        self.state.set_trace(result)
        info = self.state.info
        n = result.trace.n_tokens
        self.status.emit(f"{info.name}: {n} tokens traced" if info else f"{n} tokens")

    def _on_trace_failed(self, message: str, cancelled: bool) -> None:
        if self.run.active:
            self.run.end()
            self.done.emit()
            if cancelled:
                self.status.emit("Generation stopped.")
                return
        if cancelled:
            return
        if isinstance(self._trace.request, t.TraceRequest | t.ReplayRequest):
            self.state.mark_stale(message)  # the worker kept the previous prompt: it is not this one
        self.status.emit(message)
        self.failed.emit(message)

    def _on_projection(self, answer: t.ProjectionResult) -> None:
        if self.run.active:
            self.run.take(answer)
        else:
            self.state.set_projection(answer)

    def _ask_position(self) -> None:
        """The logits after the selected position, when it is not the last (unembedding only)."""
        result = self.state.result
        if result is None:
            return
        position = self.state.selection.position
        known = self.state.position_result
        if position != result.trace.n_tokens - 1 and not (
            known and known.trace_id == result.trace_id and known.position == position
        ):
            self._position.ask(t.PositionRequest(position, result.trace_id))

    def shutdown(self) -> None:
        self.run.end(draw=False)
