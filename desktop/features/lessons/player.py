"""Moving the window through a lesson's steps: settings and dock at once, then prompt → action →
selection, each waiting for the trace (and its projection) the one before produced.

Going forward applies a step (its prompt, then its action). Going back (or to the step shown)
restores what the window held when that step was applied — the prompt, the generated tokens,
the sampling settings, the selection and the trajectory layer — without running the step's
action again: going back from "And again" must not step the model a third time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtCore import QObject, Signal

from desktop.core.host import Host
from desktop.core.requests import tracing as t
from desktop.core.state import Selection
from desktop.features.lessons.files import Lesson, LessonStep
from model_core.analysis.sampling import SamplingSettings


@dataclass(frozen=True)
class StepSnapshot:
    """What the window held once a step had been applied."""

    prompt: str
    generated: tuple[int, ...]  # token ids after the prompt
    settings: SamplingSettings
    selection: Selection
    trajectory_layer: int
    chat: tuple | None = None  # the conversation, when the prompt was a chat (model_core.types.chat.Message)
    run_mode: str | None = None  # the Generation panel's Run mode then


class LessonPlayer(QObject):
    """Moves the window through a lesson's steps.

    ``step_changed(index)`` fires as soon as a step starts (the panel shows its text);
    ``step_applied(index)`` once its prompt, action and selection have all landed.
    """

    lesson_changed = Signal()
    step_changed = Signal(int)
    step_applied = Signal(int)

    def __init__(self, window: Host) -> None:
        super().__init__(window)
        self.window = window
        self.lesson: Lesson | None = None
        self.index = -1
        self._apply_id = 0  # a newer step drops the waits of an older one
        self._waiting: tuple[int, object] | None = None  # (apply id, what to do once the next trace lands)
        self._trace_seen = False  # a new trace arrived while waiting; its projection is next
        self.skipped_docks: list[str] = []
        self.snapshots: dict[int, StepSnapshot] = {}  # step index -> the window once it was applied
        self.panel = None  # the Lesson dock's LessonPanel, set by install()
        window.state.trace_changed.connect(self._on_trace_changed)
        window.state.projection_changed.connect(self._on_projection_changed)

    # -- navigation ------------------------------------------------------------------------

    def open(self, lesson: Lesson) -> None:
        self.lesson = lesson
        self.index = -1
        self.snapshots = {}
        self.lesson_changed.emit()
        self.go(0)

    def close(self) -> None:
        self.lesson = None
        self.index = -1
        self.snapshots = {}
        self._apply_id += 1
        self._waiting = None
        self.lesson_changed.emit()

    def next(self) -> None:
        if self.lesson is not None and self.index + 1 < len(self.lesson.steps):
            self.go(self.index + 1)

    def previous(self) -> None:
        if self.lesson is not None and self.index > 0:
            self.go(self.index - 1)

    def go(self, index: int) -> None:
        """Show step `index`: applied when going forward, restored when going back."""
        if self.lesson is None or not 0 <= index < len(self.lesson.steps):
            return
        back = index <= self.index and index in self.snapshots
        self.index = index
        self.step_changed.emit(index)
        if back:
            self.restore(self.lesson.steps[index], self.snapshots[index])
        else:
            self.apply(self.lesson.steps[index])

    @property
    def step(self) -> LessonStep | None:
        return self.lesson.steps[self.index] if self.lesson is not None and self.index >= 0 else None

    # -- applying a step -------------------------------------------------------------------

    def apply(self, step: LessonStep) -> None:
        """Set what the step sets: settings and dock now, then prompt → action → selection in turn."""
        self._apply_id += 1
        apply_id = self._apply_id
        self._waiting = None
        window = self.window
        if step.settings:
            window.state.set_settings(replace(window.state.settings, **dict(step.settings)))
        self._show_dock(step)
        if step.run_mode is not None:
            window.panel("generation").set_run_mode(step.run_mode)
        self._set_interventions(step)
        prompt = window.panel("prompt")
        if step.chat is not None and self._needs_chat_trace(step.chat):
            self._wait(apply_id, lambda: self._run_action(step, apply_id))
            prompt.set_conversation(step.chat, submit=True)
            return
        if step.prompt is not None:
            needs = self._needs_trace(step.prompt)
            prompt.set_mode("text", submit=False)
            if needs:
                self._wait(apply_id, lambda: self._run_action(step, apply_id))
                prompt.set_text(step.prompt, submit=True)
                return
        self._run_action(step, apply_id)

    def restore(self, step: LessonStep, snapshot: StepSnapshot) -> None:
        """Put the window back as it was once `step` had been applied (no action runs again)."""
        self._apply_id += 1
        apply_id = self._apply_id
        self._waiting = None
        window = self.window
        window.state.set_settings(snapshot.settings)
        self._show_dock(step)
        if snapshot.run_mode is not None:
            window.panel("generation").set_run_mode(snapshot.run_mode)
        self._set_interventions(step)
        prompt = window.panel("prompt")
        if snapshot.chat is not None:
            if self._needs_chat_trace(snapshot.chat):
                self._wait(apply_id, lambda: self._restore_tokens(step, snapshot, apply_id))
                prompt.set_conversation(snapshot.chat, submit=True)
                return
        else:
            result = window.state.result
            if result is None or result.chat is not None or result.trace.prompt_text != snapshot.prompt \
                    or prompt.text() != snapshot.prompt:
                self._wait(apply_id, lambda: self._restore_tokens(step, snapshot, apply_id))
                prompt.set_mode("text", submit=False)
                prompt.set_text(snapshot.prompt, submit=True)
                return
        self._restore_tokens(step, snapshot, apply_id)

    def _restore_tokens(self, step: LessonStep, snapshot: StepSnapshot, apply_id: int) -> None:
        if apply_id != self._apply_id:
            return
        window, result = self.window, self.window.state.result
        if result is not None and _generated(result) != snapshot.generated:
            self._wait(apply_id, lambda: self._restore_view(step, snapshot, apply_id))
            if snapshot.generated:
                window.traces.replay(snapshot.generated)  # the very tokens, sampled ones too
                return
            if window.traces.act(t.RESET):
                return
            self._waiting = None
        self._restore_view(step, snapshot, apply_id)

    def _restore_view(self, step: LessonStep, snapshot: StepSnapshot, apply_id: int) -> None:
        if apply_id != self._apply_id:
            return
        self._waiting = None
        window, state = self.window, self.window.state
        sel = snapshot.selection
        state.select(position=sel.position, layer=sel.layer, head=sel.head)
        slider = window.panel("trajectories").slider
        slider.pause()
        slider.set_layer(snapshot.trajectory_layer)
        if step.play:
            slider.play()
        self.step_applied.emit(self.index)

    def _show_dock(self, step: LessonStep) -> None:
        self.skipped_docks = []
        if step.dock is not None:
            if step.dock in self.window.docks:
                self.window.raise_dock(step.dock)  # presentation mode puts it in its main view
            else:
                self.skipped_docks.append(step.dock)

    def _set_interventions(self, step: LessonStep) -> None:
        """The step's interventions, asked before its prompt so the prompt is traced under them."""
        feature = self.window.feature("interventions")
        if step.interventions is not None and feature is not None \
                and step.interventions != feature.controller.interventions:
            feature.controller.set_all(step.interventions)

    def _needs_trace(self, prompt: str) -> bool:
        result = self.window.state.result
        return result is None or result.n_new > 0 or result.chat is not None or result.trace.text != prompt \
            or self.window.panel("prompt").text() != prompt

    def _needs_chat_trace(self, conversation) -> bool:
        result, panel = self.window.state.result, self.window.panel("prompt")
        return result is None or result.n_new > 0 or result.chat is None \
            or result.chat.conversation != tuple(conversation) or panel.mode != "chat" \
            or panel.conversation() != tuple(conversation)

    def _run_action(self, step: LessonStep, apply_id: int) -> None:
        if apply_id != self._apply_id:
            return
        window = self.window
        if step.action is not None and window.state.result is not None:
            self._wait(apply_id, lambda: self._finish(step, apply_id))
            if window.traces.act(step.action):  # a request went out: select once it answers
                return
            self._waiting = None
        self._finish(step, apply_id)

    def _finish(self, step: LessonStep, apply_id: int) -> None:
        if apply_id != self._apply_id:
            return
        self._waiting = None
        window, state = self.window, self.window.state
        trace = state.trace
        if trace is not None:
            position = None if step.token is None else (step.token % trace.n_tokens if step.token < 0
                                                         else step.token)
            layer = None if step.layer is None else (step.layer % trace.n_layers if step.layer < 0 else step.layer)
            state.select(position=position, layer=layer, head=step.head)
            slider = window.panel("trajectories").slider
            if step.trajectory_layer is not None:
                slider.pause()
                target = step.trajectory_layer
                slider.set_layer(slider.maximum() + 1 + target if target < 0 else target)
            if step.play:
                slider.play()
            chat = state.result.chat
            self.snapshots[self.index] = StepSnapshot(
                trace.prompt_text, _generated(state.result), state.settings, state.selection, slider.layer(),
                chat=tuple(chat.conversation) if chat is not None else None,
                run_mode=window.panel("generation").run_mode_name())
        self.step_applied.emit(self.index)

    def _wait(self, apply_id: int, then) -> None:
        self._waiting = (apply_id, then)
        self._trace_seen = False

    def _on_trace_changed(self) -> None:
        result = self.window.state.result
        rerun = result is not None and result.action == "intervene"  # the old sequence under a step's interventions
        self._trace_seen = self._trace_seen or (self._waiting is not None and not rerun)

    def _on_projection_changed(self) -> None:
        """A trace has landed once its projection has too: every panel can take a selection then."""
        state = self.window.state
        if self._waiting is None or not self._trace_seen or state.result is None or state.projection is None:
            return
        if state.projection.trace_id != state.result.trace_id:
            return
        apply_id, then = self._waiting
        self._waiting = None
        if apply_id == self._apply_id:
            then()


def _generated(result) -> tuple[int, ...]:
    """The token ids generated after the prompt of a TraceResult."""
    trace = result.trace
    return tuple(int(i) for i in trace.tokens.ids[trace.n_prompt:])
