"""The window shows before the model engine loads: nothing the GUI thread imports pulls in torch,
transformers or scikit-learn (those load in the worker thread, seconds later), and the worker thread
starts only once the window has been painted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from desktop.shell.smoke_test import OnFirstPaint

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "sklearn")


def test_gui_modules_do_not_import_the_model_engine():
    code = ("import json, sys; import desktop.entry, desktop.shell.app, desktop.shell.main_window, "
            "desktop.shell.smoke_test, desktop.core.requests; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_model_thread_starts_once_the_window_has_been_painted(qtbot, tiny_gpt2_dir, monkeypatch):
    """Its first job imports torch and transformers, which hold the GIL: the window is drawn first."""
    from desktop.shell import main_window
    from desktop.shell.main_window import MainWindow

    monkeypatch.setattr(main_window, "WORKER_START_FALLBACK_MS", 60_000)  # a slow first paint stays first
    window = MainWindow(model=str(tiny_gpt2_dir), device="cpu", prompt="Hello", restore=False)
    qtbot.addWidget(window)
    try:
        assert window.traces.loading and not window.client.thread.isRunning()  # asked, and queued
        running_at_paint: list[bool] = []
        watcher = OnFirstPaint(lambda: running_at_paint.append(window.client.thread.isRunning()))
        window.installEventFilter(watcher)
        window.show()
        qtbot.waitUntil(lambda: bool(running_at_paint), timeout=20_000)
        assert running_at_paint[0] is False
        qtbot.waitUntil(window.client.thread.isRunning, timeout=5_000)
        with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
            pass  # what was asked before the thread ran is answered
    finally:
        window.shutdown()


def test_a_window_that_is_never_shown_still_starts_its_model_thread(qtbot, tiny_gpt2_dir):
    from desktop.shell.main_window import WORKER_START_FALLBACK_MS, MainWindow

    window = MainWindow(model=str(tiny_gpt2_dir), device="cpu", prompt="Hello", restore=False)
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(window.client.thread.isRunning, timeout=10 * WORKER_START_FALLBACK_MS)
        qtbot.waitUntil(lambda: window.state.trace is not None, timeout=60_000)
    finally:
        window.shutdown()



def test_a_window_that_fails_to_build_says_why_and_exits_non_zero(tmp_path):
    code = ("import sys; import desktop.shell.main_window as m\n"
            "def broken(self, *a, **k): raise RuntimeError('the docks would not fit')\n"
            "m.MainWindow.__init__ = broken\n"
            "from desktop.entry import main; sys.exit(main(['--smoke-test']))")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_STATE_HOME": str(tmp_path),
           "XDG_CACHE_HOME": str(tmp_path), "LOGITSCOPE_SETTINGS": str(tmp_path / "settings.ini")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 1
    assert "could not open its window: RuntimeError: the docks would not fit" in out.stderr
    assert "Traceback" not in out.stderr


EARLY_SPAWN = """
import sys
from desktop import entry
from desktop.core.model_process import spawn
seen = []
spawn.start_early = lambda: seen.append(sorted(m for m in ("numpy", "PySide6", "model_core.cli") if m in sys.modules))
try:
    entry.main(sys.argv[1:])
except SystemExit:
    pass
print("SEEN", seen)
"""


def test_the_window_path_starts_the_model_process_before_any_heavy_import():
    """The first trace waits on the model process alone, so it is started before numpy, Qt or the
    command line are imported; a subcommand starts none."""
    env = {**os.environ, "LOGITSCOPE_MODEL_THREAD": "0", "QT_QPA_PLATFORM": "offscreen"}

    def seen(*argv: str) -> str:
        done = subprocess.run([sys.executable, "-c", EARLY_SPAWN, *argv], capture_output=True, text=True,
                              timeout=120, env=env)
        return next(line for line in done.stdout.splitlines() if line.startswith("SEEN"))

    assert seen("--no-such-option") == "SEEN [[]]"  # a usage error: the process sees its socket close
    assert seen("trace", "--help") == "SEEN []"
    from desktop.entry import could_be_a_command

    assert could_be_a_command(["generate"]) and not could_be_a_command(["my.logitscope.json"])
    assert not could_be_a_command([]) and not could_be_a_command(["--fresh"])
