"""Rows 3 and 4, run in their own process (`python -m bench.gui_probe FOLDER [--quick]`):
the real window, offscreen, on the GPT-2-small-shaped model. Prints one JSON list of rows.

3. Redraw after a selection change with every panel visible: `state.select(...)` then
   `processEvents()` until the redraw is done (for a position, until the worker's logits for
   that position have arrived and the distribution has redrawn).
4. Responsiveness while the window runs 100 generation steps: the longest gap between
   ticks of a 5 ms QTimer in the GUI thread, the worst of three runs, and which Qt work
   (event type, receiver, dock) filled the gaps over 16 ms (bench/event_gaps.py).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REDRAW_TARGETS = {64: 16.0, 512: 50.0}
RUN_TOKENS = 100


def _wait(app, done, timeout_s: float) -> bool:
    from PySide6.QtCore import QEventLoop

    deadline = time.perf_counter() + timeout_s
    while not done():
        if time.perf_counter() > deadline:
            return False
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        time.sleep(0.0005)
    return True


def _prompt(tokenizer, n: int) -> str:
    """Readable text of exactly n tokens (sentence presets repeated, cut at a token boundary)."""
    from desktop.core.presets import DEFAULT_PROMPT

    base = (DEFAULT_PROMPT + " The capital of France is Paris, and the trophy didn't fit in the suitcase "
            "because it was too big. ")
    ids = tokenizer(base * (n // 8 + 2))["input_ids"][:n]
    text = tokenizer.decode(ids)
    if len(tokenizer(text)["input_ids"]) != n:
        text = " the" * n
    return text


def open_window(app, folder: str, prompt: str, collector=None):
    from desktop.shell.garbage_collection import follow_the_model
    from desktop.shell.main_window import MainWindow

    window = MainWindow(model=folder, device="cpu", prompt=prompt, restore=False)
    if collector is not None:
        follow_the_model(collector, window)
    window.resize(1400, 900)
    window.show()
    got = {"projection": False}
    window.state.projection_changed.connect(lambda: got.__setitem__("projection", True))
    if not _wait(app, lambda: got["projection"], 300):
        raise RuntimeError(f"no first trace: {window.status_label.text()}")
    _wait(app, lambda: window.state.surprisal is not None, 60)  # the last follow-up of a trace
    t_end = time.perf_counter() + 0.3
    _wait(app, lambda: time.perf_counter() > t_end, 5)
    return window


def redraw_rows(app, window, n: int, repeats: int) -> list[dict]:
    from bench.timing import row

    state = window.state
    trace = state.trace
    assert trace.n_tokens == n, (trace.n_tokens, n)
    times: dict[str, list[float]] = {"position": [], "layer": [], "head": []}
    L, H = trace.n_layers, trace.n_heads
    for i in range(repeats):
        # position: a new one each time, never the last (so the worker computes its logits)
        pos = (7 + i * 37) % (n - 1)
        if pos == state.selection.position:
            pos = (pos + 1) % (n - 1)
        t0 = time.perf_counter()
        state.select(position=pos)
        ok = _wait(app, lambda pos=pos: state.position_result is not None and state.position_result.position == pos
                   and state.position_result.trace_id == state.result.trace_id, 30)
        app.processEvents()
        if ok:
            times["position"].append((time.perf_counter() - t0) * 1000)
        for kind, value in (("layer", (state.selection.layer + 1) % L), ("head", (state.selection.head + 1) % H)):
            t0 = time.perf_counter()
            state.select(**{kind: value})
            app.processEvents()
            times[kind].append((time.perf_counter() - t0) * 1000)
    rows = []
    everything = times["position"] + times["layer"] + times["head"]
    rows.append(row(f"redraw after a selection change, {n} tokens (ms)", statistics.median(everything), None,
                    REDRAW_TARGETS.get(n), note="median over position/layer/head changes"))
    for kind, values in times.items():
        extra = " (incl. the worker's logits)" if kind == "position" else ""
        rows.append(row(f"  redraw after select({kind}=…), {n} tokens{extra} (ms)",
                        statistics.median(values) if values else None, None, None, note=f"{len(values)} changes"))
    return rows


def run_once(app, window, tokens: int) -> tuple[list[float], list[float], float, dict]:
    """One Run to end of `tokens` tokens from the prompt: the 5 ms timer's ticks, the GUI thread's run-queue
    wait at each, the wall time, and how it ended. Event dispatches are recorded meanwhile
    (`app.dispatches`) when the app can time them."""
    from PySide6.QtCore import QEventLoop, QTimer

    from bench.event_gaps import run_queue_wait
    from desktop.core.requests import tracing as m

    window.generation_panel.max_new.setValue(tokens)
    ticks: list[float] = []
    waits: list[float] = []

    def tick() -> None:
        ticks.append(time.perf_counter())
        waits.append(run_queue_wait())

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    loop = QEventLoop()
    result = {"n_new": 0, "stop": None}

    def on_answer(_rid, res) -> None:
        if not isinstance(res, m.TraceResult):
            return
        result["n_new"] = res.n_new
        if res.action == m.RUN and res.stop_reason is not None:
            result["stop"] = res.stop_reason

    def check_end() -> None:
        """Measured until every panel has drawn the final trace: the stagger hands it out over
        several turns after the run has ended, and those turns count too."""
        ended = result["stop"] is not None or window.generation_panel.buttons[m.RUN].text().startswith("Run to end")
        if ended and len(ticks) > 10 and not window.ctx.stagger.waiting:
            loop.quit()

    window.client.worker.answered.connect(on_answer)
    timer.timeout.connect(check_end)
    QTimer.singleShot(600_000, loop.quit)
    if hasattr(app, "dispatches"):
        app.dispatches.clear()
        app.recording = True
    start = time.perf_counter()
    timer.start()
    window.generation_action(m.RUN)
    loop.exec()
    timer.stop()
    elapsed = time.perf_counter() - start
    if hasattr(app, "recording"):
        app.recording = False
    window.client.worker.answered.disconnect(on_answer)
    return ticks, waits, elapsed, result


def _reset(app, window) -> None:
    """Back to the prompt (Reset), and wait until its trace and follow-ups are on screen."""
    from desktop.core.requests import tracing as m

    got = {"done": False}

    def done() -> None:
        got["done"] = True

    window.state.projection_changed.connect(done)
    window.generation_action(m.RESET)
    _wait(app, lambda: got["done"], 60)
    window.state.projection_changed.disconnect(done)
    _wait(app, lambda: window.state.surprisal is not None, 30)


def responsiveness_row(app, window, tokens: int = RUN_TOKENS, runs: int = 3) -> dict:
    """The longest gap between ticks of a 5 ms timer while Run to end generates `tokens` tokens: the
    worst of `runs` runs (each from the prompt again), with what filled the gaps over 16 ms."""
    from bench.event_gaps import attribute, summary
    from bench.timing import row

    worsts, p99s, notes = [], [], []
    filled: dict[str, float] = {}
    for i in range(runs):
        if i:
            _reset(app, window)
        ticks, waits, elapsed, result = run_once(app, window, tokens)
        gaps = sorted(b - a for a, b in zip(ticks, ticks[1:], strict=False))
        if not gaps:
            continue
        worsts.append(gaps[-1] * 1000)
        p99s.append(gaps[int(0.99 * (len(gaps) - 1))] * 1000)
        notes.append(f"{result['n_new']} tokens in {elapsed:.1f} s")
        for what, ms in attribute(ticks, getattr(app, "dispatches", []), waits=waits).items():
            filled[what] = filled.get(what, 0.0) + ms
    worst = max(worsts) if worsts else None
    return row(f"GUI responsiveness while generating {tokens} tokens: longest 5 ms-timer gap, worst of {runs} (ms)",
               worst, None, 50.0,
               note=(f"runs {', '.join(f'{w:.0f}' for w in worsts)} ms; p99 {max(p99s, default=0):.0f} ms; "
                     f"{'; '.join(notes)}. Gaps > 16 ms filled by: {summary(filled) or 'none'}"))


def main(argv: list[str]) -> int:
    folder = argv[0]
    quick = "--quick" in argv
    from desktop.shell.offscreen import use_desktop_sized_offscreen

    use_desktop_sized_offscreen()  # a 1920x1080 screen: every main panel in view, as on a laptop
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    tmp = tempfile.mkdtemp(prefix="logitscope-bench-settings-")
    os.environ["LOGITSCOPE_SETTINGS"] = str(Path(tmp) / "settings.ini")
    import torch
    from PySide6.QtWidgets import QApplication
    from transformers import AutoTokenizer

    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))  # as desktop.app does
    from bench.event_gaps import TimedApplication
    from desktop.shell.garbage_collection import collect_garbage_in_gui_thread

    app = QApplication.instance() or TimedApplication(["logitscope-bench"])
    collector = collect_garbage_in_gui_thread(app)  # as desktop/shell/app.py does
    tokenizer = AutoTokenizer.from_pretrained(folder)
    rows = []
    for n in (64, 512):
        window = open_window(app, folder, _prompt(tokenizer, n), collector)
        rows += redraw_rows(app, window, n, repeats=4 if quick else 8)
        if n == 64:
            rows.append(responsiveness_row(app, window, 20 if quick else RUN_TOKENS, 1 if quick else 3))
        window.shutdown()
        window.deleteLater()
        app.processEvents()
    print("BENCH_ROWS " + json.dumps(rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
