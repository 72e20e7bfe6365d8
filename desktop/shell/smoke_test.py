"""`logitscope --smoke-test`: one real trace through the real window, every panel checked.

The packaged app runs this too, so it checks what a user would see, not internals.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer


def panel_problems(window) -> list[str]:
    """What is missing from the panels after a trace (empty list = all good).

    Panels draw only while their tab is in front, so each main dock is brought to the front
    while it is checked, as a user would click its tab; the front tabs are restored after.
    """
    trace = window.state.trace
    if trace is None:
        return ["no trace arrived"]
    docks = window.docks
    in_front = [d for d in docks.values() if d.isVisible() and not d.visibleRegion().isEmpty()]
    problems = []
    for key in ("prompt", "attention", "trajectories", "distribution", "generation", "model"):
        docks[key].raise_()
    if window.prompt_panel.chips.count() != trace.n_tokens:
        problems.append("token chips do not match the trace")
    image = window.attention_panel.heatmap.image_item.image
    if image is None or image.shape != (trace.n_tokens, trace.n_tokens):
        problems.append("attention heatmap is empty")
    docks["trajectories"].raise_()
    if window.state.projection is None or len(window.trajectory_panel.plot.scatter_item.data) != trace.n_tokens:
        problems.append("trajectory plot is empty")
    docks["distribution"].raise_()
    if not len(window.distribution_panel.bars.bar_values()):
        problems.append("next-token bars are empty")
    if "/" not in window.generation_panel.counter.text() or not window.generation_panel.text.toPlainText():
        problems.append("generation panel is empty")
    if window.state.info is None or window.model_panel.facts["Layers"].text() == "–":
        problems.append("model facts are empty")
    for dock in in_front:
        dock.raise_()
    return problems


class OnFirstPaint(QObject):
    """Calls `then` when the watched window is first painted (it is on screen from then on)."""

    def __init__(self, then) -> None:
        super().__init__()
        self._then = then

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            self._then()
        return False


def run_smoke_test(app, window, timeout_ms: int) -> int:
    outcome = {"code": 1, "message": "timed out waiting for the first trace"}

    def check() -> None:
        if window.state.projection is None:
            return
        problems = panel_problems(window)
        if gc.isenabled():  # run_app hands collection to the GUI thread (shell/garbage_collection.py)
            problems.append("Python's garbage collector may run in any thread")
        if window.client.in_process and "torch" in sys.modules:  # the model process is the one that imports it
            problems.append("the window's process imported torch")
        outcome["code"] = 0 if not problems else 1
        outcome["message"] = "; ".join(problems) if problems else (
            f"ok: {window.state.info.name}, {window.state.trace.n_tokens} tokens, "
            f"model in {'its own process' if window.client.in_process else 'a thread'}, "
            f"top next token: {window.distribution_panel.bars.bar_text(0)}")
        app.quit()

    def failed(message: str) -> None:
        outcome["message"] = message
        app.quit()

    # LOGITSCOPE_T0 (seconds since the epoch, set by whoever started the process, e.g. the
    # benchmark) turns on a line of start-up timings: window first painted, first trace, trajectories.
    t0 = float(os.environ.get("LOGITSCOPE_T0", "nan"))
    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        marks.setdefault(name, time.time() - t0)

    window.state.trace_changed.connect(lambda: QTimer.singleShot(0, lambda: mark("trace")))
    window.state.projection_changed.connect(lambda: QTimer.singleShot(0, lambda: mark("trajectories")))
    window.state.projection_changed.connect(lambda: QTimer.singleShot(0, check))
    window.traces.failed.connect(failed)
    window.client.error_reported.connect(failed)
    QTimer.singleShot(timeout_ms, app.quit)
    window.resize(1600, 1000)
    first_paint = OnFirstPaint(lambda: mark("window"))
    window.installEventFilter(first_paint)
    window.show()
    app.exec()
    window.shutdown()
    stream = sys.stdout if outcome["code"] == 0 else sys.stderr
    print(f"logitscope smoke test: {outcome['message']}", file=stream)
    if marks and t0 == t0:  # not NaN
        print("startup timings: " + json.dumps({k: round(v, 3) for k, v in marks.items()}), file=stream)
    return outcome["code"]
