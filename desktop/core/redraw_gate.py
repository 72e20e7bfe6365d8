"""When a panel redraws: only while someone can see it, and only when what it draws has changed.

A selection change reaches every panel, but a head change means nothing to the
distribution and a panel in a tab behind another cannot be seen at all. Drawing
anyway is what made the window slow: each panel owns a `RedrawGate`, the window
feeds it the dock's `visibilityChanged` (widgets in tabs behind another still
report `isVisible()`), and the gate redraws on `request()` only when the panel's
key (the ids and selection it draws from) differs from the last one drawn. A gate
hidden when asked remembers, and redraws when its tab comes to the front.

While the window runs generation to the end, every panel would redraw in one go a few
times a second; the run controller starts the window's `RedrawStagger`, the gates queue on it
instead, and one panel redraws per turn of the event loop, so the window answers clicks and
keys in between. The run's final trace is handed out while the stagger is still on, so it too
reaches the panels one per turn.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from PySide6.QtCore import QTimer

_NEVER = object()


class RedrawStagger:
    """Gates waiting to redraw, one per event-loop turn, while `active` (one per window)."""

    def __init__(self) -> None:
        self.active = False
        self.draining = False  # the run has ended; back to drawing at once when nothing waits
        self.waiting: list[RedrawGate] = []
        self.timer: QTimer | None = None

    def start(self) -> None:
        """From now on gates queue here instead of drawing at once (Run to end has begun)."""
        self.active = True
        self.draining = False

    def add(self, gate: RedrawGate) -> None:
        if gate not in self.waiting:
            self.waiting.append(gate)
        if self.timer is None:
            self.timer = QTimer(singleShot=True, interval=0)
            self.timer.timeout.connect(self.next)
        if not self.timer.isActive():
            self.timer.start()

    def next(self) -> None:
        if self.waiting:
            self.waiting.pop(0).draw_if_changed()
        if self.waiting and self.timer is not None:
            self.timer.start()
        elif self.draining:
            self.active = self.draining = False

    def finish(self, draw: bool) -> None:
        """The run has ended. What still waits keeps its turn, one gate per turn as before, and until
        it is all drawn new requests queue behind it; then back to drawing at once. Drawn all in one
        go, the final trace and its follow-ups (the projection, the surprisal) froze the window for
        70-200 ms at the end of every Run. `draw=False` (the window is closing) drops what waits."""
        if not draw:
            self.waiting.clear()
        if self.waiting:
            self.draining = True
            if self.timer is not None and not self.timer.isActive():
                self.timer.start()
        else:
            self.active = self.draining = False


class RedrawGate:
    def __init__(self, redraw: Callable[[], None], key: Callable[[], Hashable] | None = None,
                 stagger: RedrawStagger | None = None) -> None:
        self._redraw = redraw
        self._key = key or (lambda: None)
        self._stagger = stagger
        self._drawn: object = _NEVER
        self.shown = True  # until a dock says otherwise: a panel on its own is on screen
        self.stale = False  # asked while hidden

    def request(self, force: bool = False) -> bool:
        """Redraw now if shown and changed (or forced); returns whether it redrew."""
        if not self.shown:
            self.stale = True
            if force:
                self._drawn = _NEVER
            return False
        key = self._key()
        if not force and key == self._drawn:
            return False
        if self._stagger is not None and self._stagger.active and not force:
            self._stagger.add(self)  # drawn on a later turn, with whatever is newest then
            return False
        self._draw(key)
        return True

    def bring_up_to_date(self) -> None:
        """Draw now even if hidden (an export of a panel in a tab behind another)."""
        key = self._key()
        if key != self._drawn:
            self._draw(key)

    def draw_if_changed(self) -> None:
        """A staggered turn: draw now, unless hidden meanwhile or already up to date."""
        if not self.shown:
            self.stale = True
            return
        key = self._key()
        if key != self._drawn:
            self._draw(key)

    def _draw(self, key: Hashable) -> None:
        self.stale = False
        self._drawn = key
        self._redraw()

    def invalidate(self) -> None:
        """Forget what was drawn: the next request redraws (new trace, new model, new theme)."""
        self._drawn = _NEVER
        self.request()

    def set_shown(self, shown: bool) -> None:
        """Connected to the dock's `visibilityChanged`."""
        self.shown = shown
        if shown:
            self.request()


def follow_trace_and_selection(state, redraw: Callable[[], None], stagger: RedrawStagger | None = None) -> RedrawGate:
    """A gate for a panel that shows one layer and head at one token of the current trace:
    it redraws when any of those changes."""

    def key() -> tuple | None:
        result, sel = state.result, state.selection
        return None if result is None else (result.trace_id, sel.layer, sel.head, sel.position)

    gate = RedrawGate(redraw, key, stagger)
    state.trace_changed.connect(gate.request)
    state.selection_changed.connect(gate.request)
    return gate
