"""Moving the window through a lesson's steps: settings and dock at once, then prompt → action →
selection, each waiting for the trace (and its projection) the one before produced."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, Signal

from desktop.core.host import Host
from desktop.features.lessons.files import Lesson, LessonStep


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
        self.panel = None  # the Lesson dock's LessonPanel, set by install()
        window.state.trace_changed.connect(self._on_trace_changed)
        window.state.projection_changed.connect(self._on_projection_changed)

    # -- navigation ------------------------------------------------------------------------

    def open(self, lesson: Lesson) -> None:
        self.lesson = lesson
        self.index = -1
        self.lesson_changed.emit()
        self.go(0)

    def close(self) -> None:
        self.lesson = None
        self.index = -1
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
        if self.lesson is None or not 0 <= index < len(self.lesson.steps):
            return
        self.index = index
        self.step_changed.emit(index)
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
        self.skipped_docks = []
        if step.dock is not None:
            dock = window.docks.get(step.dock)
            if dock is None:
                self.skipped_docks.append(step.dock)
            else:
                dock.show()
                dock.raise_()
        if step.run_mode is not None:
            window.panel("generation").set_run_mode(step.run_mode)
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
        self.step_applied.emit(self.index)

    def _wait(self, apply_id: int, then) -> None:
        self._waiting = (apply_id, then)
        self._trace_seen = False

    def _on_trace_changed(self) -> None:
        self._trace_seen = self._waiting is not None

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
