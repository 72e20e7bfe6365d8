"""RedrawGate: draw only while shown and only on change; remember while hidden; stagger during a Run."""

from __future__ import annotations

from desktop.core.redraw_gate import RedrawGate, RedrawStagger


class Panel:
    def __init__(self, stagger: RedrawStagger | None = None) -> None:
        self.key = 0
        self.drawn: list[int] = []
        self.gate = RedrawGate(lambda: self.drawn.append(self.key), lambda: self.key, stagger)


def test_draws_on_change_only_and_catches_up_when_shown():
    panel = Panel()
    assert panel.gate.request() and panel.drawn == [0]
    assert not panel.gate.request() and panel.drawn == [0]  # same key: nothing to do
    panel.gate.set_shown(False)
    panel.key = 1
    panel.gate.request()
    panel.key = 2
    panel.gate.request()
    assert panel.drawn == [0] and panel.gate.stale  # hidden: remembered, not drawn
    panel.gate.set_shown(True)
    assert panel.drawn == [0, 2]  # one redraw, with the newest state
    panel.gate.request(force=True)
    assert panel.drawn == [0, 2, 2]


def test_bring_up_to_date_draws_even_while_hidden():
    panel = Panel()
    panel.gate.request()
    panel.gate.set_shown(False)
    panel.key = 5
    panel.gate.bring_up_to_date()
    assert panel.drawn == [0, 5]


def test_stagger_draws_one_panel_per_event_loop_turn(qtbot):
    stagger = RedrawStagger()
    panels = [Panel(stagger) for _ in range(3)]
    for panel in panels:
        panel.gate.request()
    stagger.start()
    try:
        for panel in panels:
            panel.key = 1
            panel.gate.request()
        assert [p.drawn for p in panels] == [[0], [0], [0]]  # queued, not drawn inside the request
        qtbot.waitUntil(lambda: panels[0].drawn == [0, 1], timeout=2_000)
        qtbot.waitUntil(lambda: all(p.drawn == [0, 1] for p in panels), timeout=2_000)
    finally:
        stagger.finish(draw=True)
    panels[0].key = 2
    panels[0].gate.request()
    assert panels[0].drawn == [0, 1, 2]  # back to drawing at once


def test_stopping_the_stagger_draws_what_waits_or_drops_it(qtbot):
    stagger = RedrawStagger()
    panel = Panel(stagger)
    panel.gate.request()
    stagger.start()
    panel.key = 1
    panel.gate.request()
    stagger.finish(draw=True)  # the run ended: draw now
    assert panel.drawn == [0, 1]
    stagger.start()
    panel.key = 2
    panel.gate.request()
    stagger.finish(draw=False)  # the window is closing: drop it
    assert panel.drawn == [0, 1]


def test_two_windows_have_their_own_stagger(qtbot):
    """A Run in one window must not hold back the redraws of another (no module-level stagger)."""
    running, idle = RedrawStagger(), RedrawStagger()
    a, b = Panel(running), Panel(idle)
    a.gate.request()
    b.gate.request()
    running.start()
    a.key = b.key = 1
    a.gate.request()
    b.gate.request()
    assert a.drawn == [0] and b.drawn == [0, 1]
    running.finish(draw=True)
    assert a.drawn == [0, 1]
