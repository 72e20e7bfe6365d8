"""Small helpers shared by the window tests."""

from __future__ import annotations

CAPITAL = "The capital of Germany is Berlin. The capital of France is"


def raise_dock(window, key: str):
    """Show a dock and bring its tab to the front, as a user clicking the tab would."""
    dock = window.docks[key]
    dock.show()
    dock.raise_()
    return dock


def show_lens(window, qtbot):
    """Raise the logit-lens panel and wait for the lens it asks the worker for; returns the trace."""
    raise_dock(window, "lens")
    qtbot.waitUntil(lambda: window.state.trace.has_lens, timeout=60_000)
    return window.state.trace
