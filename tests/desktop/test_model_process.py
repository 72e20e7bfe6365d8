"""The model in a process of its own, as the app runs it: answers reach the window, the window's process
never imports torch, Cancel and stale requests cross, a process that dies is replaced and its model
loaded again, and closing the window ends it.

The rest of the suite runs the model in a thread (LOGITSCOPE_MODEL_THREAD=1, see conftest) with every
request and answer going through the same codec; these tests start real processes (a few seconds each
for their imports).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from desktop.core.requests import tracing as t
from model_core.thread_budget import model_threads

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the model process needs a POSIX socket hand-over")

WINDOWLESS = textwrap.dedent("""
    import os, signal, sys
    os.environ["LOGITSCOPE_MODEL_THREAD"] = "0"
    from PySide6.QtCore import QCoreApplication, QTimer
    from desktop.core.client import ModelClient
    from desktop.core.requests import tracing as t

    app = QCoreApplication([])
    client = ModelClient()
    assert client.in_process
    events = []
    def finish(code):
        client.shutdown()
        print("EVENTS", events, flush=True)
        print("TORCH", "torch" in sys.modules, "transformers" in sys.modules, flush=True)
        app.exit(code)

    def on_trace(answer):
        if isinstance(answer, t.TraceResult):
            events.append((answer.action, len(answer.trace.tokens), answer.trace.tokens.labels[-1]))
            if answer.action == "trace":
                trace_asker.ask(t.StepRequest(t.STEP))
            elif answer.action == t.STEP and len(events) == 3:
                os.kill(client.worker.pid, signal.SIGKILL)  # as the OOM killer would
                trace_asker.ask(t.StepRequest(t.STEP))  # asked of a dead process: must fail, not hang

    def on_trace_error(message, cancelled):
        events.append(("failed", message))

    def on_lost(reason):
        events.append(("lost", reason))
        load_asker.ask(t.LoadRequest(sys.argv[1], "cpu"))

    def on_loaded(answer):
        events.append(("loaded", answer.info.n_layers))
        if sum(1 for e in events if e[0] == "loaded") == 1:
            with open(f"/proc/{client.worker.pid}/environ", "rb") as f:
                pools = sorted(v.decode() for v in f.read().split(b"\\0") if v.startswith(b"OPENBLAS_NUM_THREADS="))
            print("POOLS", pools, flush=True)
            trace_asker.ask(t.TraceRequest("Hello world", max_new_tokens=5))
        else:
            finish(0)

    load_asker = client.asker(on_loaded, lambda m, c: (events.append(("load failed", m)), finish(1)))
    trace_asker = client.asker(on_trace, on_trace_error)
    client.model_lost.connect(on_lost)
    load_asker.ask(t.LoadRequest(sys.argv[1], "cpu"))
    QTimer.singleShot(120_000, lambda: finish(3))
    sys.exit(app.exec())
""")


def test_a_windowless_client_traces_steps_and_survives_its_process_being_killed(tiny_gpt2_dir, tmp_path) -> None:
    script = tmp_path / "client.py"
    script.write_text(WINDOWLESS)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    done = subprocess.run([sys.executable, str(script), str(tiny_gpt2_dir)], capture_output=True, text=True,
                          timeout=180, env=env)
    out = done.stdout
    assert done.returncode == 0, (out, done.stderr[-3000:])
    events = eval(out.split("EVENTS ", 1)[1].splitlines()[0])  # noqa: S307  (our own repr of tuples)
    kinds = [e[0] for e in events]
    assert kinds[:3] == ["loaded", "trace", t.STEP], events
    assert events[2][1] == events[1][1] + 1  # one token more
    assert "failed" in kinds and "lost" in kinds and kinds[-1] == "loaded", events
    failure = next(e[1] for e in events if e[0] == "failed")
    assert "model process stopped" in failure and "killed" in failure, failure
    # The window's process decoded every answer without importing the engine.
    assert "TORCH False False" in out, out
    # The model process's BLAS pools were sized before numpy started them: one core stays the window's.
    if "OPENBLAS_NUM_THREADS" not in os.environ:
        assert f"POOLS ['OPENBLAS_NUM_THREADS={model_threads()}']" in out, out


@pytest.fixture
def in_process(monkeypatch):
    monkeypatch.setenv("LOGITSCOPE_MODEL_THREAD", "0")


def test_the_window_with_its_model_in_a_process(in_process, make_window, tiny_gpt2_dir, qtbot) -> None:
    """Like a user: the prompt's trace on screen, Step adds a token, Cancel of a long Run stops it; then the
    process is killed, the window says so, loads the model again and shows the prompt's trace again."""
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello there")
    assert window.client.in_process and window.client.worker.running
    n = len(window.state.trace.tokens)
    with qtbot.waitSignal(window.state.trace_changed, timeout=30_000):
        window.generation_action(t.STEP)
    assert len(window.state.trace.tokens) == n + 1
    compare = window.panel("compare")
    compare.load_second(str(tiny_gpt2_dir))  # a second model for Side by side, in the same process
    qtbot.waitUntil(lambda: compare.on_second.isEnabled(), timeout=30_000)
    pid = window.client.worker.pid
    os.kill(pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: window.client.worker.pid not in (None, pid), timeout=10_000)
    with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
        pass  # loaded again, and the prompt traced again
    assert "model process stopped" in window.banner.text() and "loaded again" in window.banner.text()
    # The second model is not loaded again (it may be what used up the memory), and both places say so.
    assert "second model of Side by side (tiny" in window.banner.text(), window.banner.text()
    assert not compare.on_second.isEnabled() and "went with the model process" in compare.note.text()
    assert len(window.state.trace.tokens) == n
    with qtbot.waitSignal(window.state.trace_changed, timeout=30_000):
        window.generation_action(t.STEP)
    assert len(window.state.trace.tokens) == n + 1
    process = window.client.worker._process.popen
    window.shutdown()
    assert process.poll() is not None  # closing the window ended the process
