"""Faults and abuse through the real window: clear messages, no backlog, clean shutdown, bounded memory."""

from __future__ import annotations

import gc
import random

import numpy as np
import psutil

from desktop.core.requests import tracing as m


def test_typing_fast_computes_only_the_newest_prompt(make_window, tiny_gpt2_dir, qtbot):
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello")
    computed = []
    window.client.worker.answered.connect(
        lambda _rid, answer: computed.append(answer.trace.text) if isinstance(answer, m.TraceResult) else None)
    # Block the worker for a moment so every request queues up behind it, as if the user typed fast.
    window.client.asker(lambda _answer: None).ask(m.RunRequest(max_new_tokens=20))
    for i in range(8):
        window.submit_prompt(f"The capital {i}")
    qtbot.waitUntil(lambda: window.state.trace is not None and window.state.trace.text == "The capital 7",
                    timeout=60_000)
    qtbot.wait(200)
    prompts = [text for text in computed if text.startswith("The capital")]
    assert prompts == ["The capital 7"]


def test_prompt_longer_than_the_limit_says_so(make_window, tiny_gpt2_dir, qtbot):
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello")
    with qtbot.waitSignal(window.error_shown, timeout=30_000):
        window.prompt_panel.set_text("word " * 20_000)
    assert "reads at most 128" in window.banner.text()
    # ...and the app still works afterwards
    with qtbot.waitSignal(window.state.trace_changed, timeout=30_000):
        window.prompt_panel.set_text("Hello again")
    assert window.banner.text() == ""


def test_broken_model_folder_keeps_the_current_model(make_window, tiny_gpt2_dir, tmp_path, qtbot):
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with qtbot.waitSignal(window.error_shown, timeout=30_000):
        window.load_model(str(broken), "cpu")
    assert "cannot be read as JSON" in window.banner.text()
    assert window.state.info is not None and window.state.trace is not None
    with qtbot.waitSignal(window.state.trace_changed, timeout=30_000):
        window.generation_action(m.STEP)


def test_run_to_end_shows_tokens_so_far_and_speed(make_window, tiny_gpt2_dir, qtbot):
    """A long Run says how far it has got and how fast, in the status bar (issue 18)."""
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello")
    window.generation_panel.max_new.setValue(100)
    seen = []
    window.traces.progressed.connect(lambda message, fraction: seen.append((message, fraction)))
    window.generation_action(m.RUN)
    qtbot.waitUntil(lambda: window.status_label.text().startswith("Generating: "), timeout=60_000)
    assert "/ 100 new tokens" in window.status_label.text()
    window.cancel()
    qtbot.waitUntil(lambda: window.generation_panel.buttons[m.RUN].text().startswith("Run to end"), timeout=30_000)
    assert seen and all(0 < fraction <= 1 for _message, fraction in seen)
    assert any("tokens/s" in message for message, _fraction in seen)


def test_cancel_stops_run_to_end(make_window, tiny_gpt2_dir, qtbot):
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello")
    window.generation_panel.max_new.setValue(100)
    window.generation_action(m.RUN)
    with qtbot.waitSignal(window.state.trace_changed, timeout=30_000):
        pass
    window.cancel()
    qtbot.waitUntil(lambda: window.generation_panel.buttons[m.RUN].text().startswith("Run to end"), timeout=30_000)
    n_new = window.state.result.n_new
    assert 0 < n_new < 100
    qtbot.wait(300)
    assert window.state.result.n_new == n_new  # nothing more arrives after the cancel


def test_closing_while_generating_shuts_down_cleanly(make_window, tiny_gpt2_dir, qtbot):
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello")
    window.generation_panel.max_new.setValue(120)
    window.generation_action(m.RUN)
    qtbot.wait(50)
    window.close()
    assert not window.client.thread.isRunning()


def test_a_model_that_computes_nan_is_named_and_nothing_is_drawn(make_window, tiny_gpt2_dir, nan_gpt2_dir, qtbot):
    """Damaged weights: the banner says NaN and which block; no bars of NaN probabilities (issue 18)."""
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello")
    with qtbot.waitSignal(window.error_shown, timeout=60_000) as shown:
        window.load_model(str(nan_gpt2_dir), "cpu")
    assert "NaN" in shown.args[0] and "block 1" in shown.args[0]
    values = window.distribution_panel.bars.bar_values()
    assert all(np.isfinite(v) for v in values)


def test_gpu_out_of_memory_is_explained(make_window, tiny_gpt2_dir, qtbot, monkeypatch):
    import torch

    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello")

    def oom(*_args, **_kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(window.client.worker.session.stepper, "step", oom)
    with qtbot.waitSignal(window.error_shown, timeout=30_000):
        window.generation_action(m.STEP)
    assert "ran out of memory" in window.banner.text()


def test_soak_random_actions_memory_stops_growing(make_window, tiny_gpt2_dir, qtbot):
    """500 random steps, samples, undos, resets and prompt edits; memory must level off."""
    window = make_window(model=str(tiny_gpt2_dir), prompt="The capital of France is")
    rng = random.Random(0)
    process = psutil.Process()
    words = ["The", " capital", " of", " France", " is", " Paris", ".", " 😀", " 東京", "\n"]
    rss = []
    done = {"n": 0}

    def act() -> None:
        choice = rng.random()
        if choice < 0.35:
            window.generation_action(m.STEP)
        elif choice < 0.6:
            window.generation_action(m.SAMPLE)
        elif choice < 0.75:
            window.generation_action(m.UNDO)
        elif choice < 0.82:
            window.generation_action(m.RESET)
        else:
            window.prompt_panel.set_text("".join(rng.choice(words) for _ in range(rng.randint(1, 12))))

    for i in range(500):
        with qtbot.waitSignal(window.client.idle, timeout=30_000, raising=False):
            act()
            if window.state.result is None:
                break
        done["n"] += 1
        if i % 100 == 99:
            gc.collect()
            rss.append(process.memory_info().rss)
    assert done["n"] == 500
    assert window.state.trace is not None
    # after warm-up, the last 300 actions add less than 60 MB
    assert rss[-1] - rss[1] < 60e6, [r / 1e6 for r in rss]

