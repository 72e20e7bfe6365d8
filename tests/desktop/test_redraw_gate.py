"""RedrawGate: draw only while shown and only on change; remember while hidden; stagger during a Run."""

from __future__ import annotations

from desktop.core.redraw_gate import RedrawGate, RedrawStagger
from desktop.core.requests.tracing import TraceResult
from desktop.core.run_controller import RunController


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
    stagger.finish(draw=True)  # the run ended: what waits is still drawn, on its turn,
    panel.key = 9
    panel.gate.request()  # and what is asked meanwhile queues behind it (a follow-up of the final trace)
    assert panel.drawn == [0]
    qtbot.waitUntil(lambda: panel.drawn == [0, 9], timeout=2_000)
    qtbot.waitUntil(lambda: not stagger.active, timeout=2_000)
    stagger.start()
    panel.key = 2
    panel.gate.request()
    stagger.finish(draw=False)  # the window is closing: drop it
    assert panel.drawn == [0, 9] and not stagger.active


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
    qtbot.waitUntil(lambda: a.drawn == [0, 1], timeout=2_000)


def test_the_final_trace_of_a_run_reaches_the_panels_one_per_turn(qtbot):
    """Drawn all in one go, the final trace froze the window at the end of every Run (150-200 ms on
    the built-in model): the panels take it on later event-loop turns (one each, `test_stagger_draws_one_panel_per_event_loop_turn`) like the traces before it."""
    stagger = RedrawStagger()
    panels = [Panel(stagger) for _ in range(3)]
    for panel in panels:
        panel.gate.request()

    def show_trace(result: TraceResult) -> None:
        for panel in panels:
            panel.key = result.n_new
            panel.gate.request()

    run = RunController(stagger, show_trace, lambda _projection: None)
    run.begin(request_id=7)
    run.take(TraceResult(trace_id=1, trace=None, n_new=5, max_new_tokens=5, stop_reason="length", action="run"))
    assert not run.active
    assert [p.drawn for p in panels] == [[0], [0], [0]]  # none drawn inside the answer's handler
    qtbot.waitUntil(lambda: all(p.drawn == [0, 5] for p in panels), timeout=2_000)
    qtbot.waitUntil(lambda: not stagger.active, timeout=2_000)  # nothing waits: the stagger steps aside
    panels[0].key = 6
    panels[0].gate.request()
    assert panels[0].drawn == [0, 5, 6]  # after the run: at once again


def test_a_window_closing_just_after_a_run_drops_the_redraws_still_waiting(qtbot):
    stagger = RedrawStagger()
    panel = Panel(stagger)
    panel.gate.request()

    def show_trace(result: TraceResult) -> None:
        panel.key = result.n_new
        panel.gate.request()

    run = RunController(stagger, show_trace, lambda _projection: None)
    run.begin(request_id=3)
    run.take(TraceResult(trace_id=1, trace=None, n_new=2, max_new_tokens=2, stop_reason="length", action="run"))
    run.end(draw=False)  # the window's shutdown, after the run had ended by itself
    qtbot.wait(50)
    assert panel.drawn == [0] and not stagger.active and not stagger.waiting
