"""When a panel redraws: only while someone can see it, and only when what it draws has changed.

A selection change reaches every panel, but a head change means nothing to the
distribution and a panel in a tab behind another cannot be seen at all. Drawing
anyway is what made the window slow: each panel owns a `RedrawGate`, the window
feeds it the dock's `visibilityChanged` (widgets in tabs behind another still
report `isVisible()`), and the gate redraws on `request()` only when the panel's
key (the ids and selection it draws from) differs from the last one drawn. A gate
hidden when asked remembers, and redraws when its tab comes to the front.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

_NEVER = object()


class RedrawGate:
    def __init__(self, redraw: Callable[[], None], key: Callable[[], Hashable] | None = None) -> None:
        self._redraw = redraw
        self._key = key or (lambda: None)
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
        self.stale = False
        self._drawn = key
        self._redraw()
        return True

    def invalidate(self) -> None:
        """Forget what was drawn: the next request redraws (new trace, new model, new theme)."""
        self._drawn = _NEVER
        self.request()

    def set_shown(self, shown: bool) -> None:
        """Connected to the dock's `visibilityChanged`."""
        self.shown = shown
        if shown:
            self.request()
