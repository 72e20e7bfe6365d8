"""What is shown always matches what the model has: panels say when they wait for the model, a
prompt that could not be traced marks the old trace as not current (and Step refuses to go on
from it), a model folder that failed to load leaves the Model list, and the Sentence box forgets
a preset's name once the prompt is edited."""

from __future__ import annotations

import pytest

from desktop.core.requests import tracing as t
from desktop.features import notices


def test_panels_say_what_they_wait_for_before_the_first_trace(qtbot, tiny_gpt2_dir, isolated_settings):
    from desktop.shell.main_window import MainWindow

    window = MainWindow(model=str(tiny_gpt2_dir), device="cpu", prompt="Hello", restore=False)
    qtbot.addWidget(window)
    window.show()
    try:
        waiting = window.notices.text("attention")
        assert waiting.startswith(("Loading", "Tracing"))  # not empty axes
        assert window.notices.text("chips") and not window.attention_panel.isEnabled()
        assert window.prompt_panel.editor.isEnabled()  # the prompt can still be typed meanwhile
        axis = window.attention_panel.heatmap.plot_item.getAxis("left")
        assert "x0.001" not in axis.labelString() and "x0.0" not in axis.labelString()
        # Between the model's arrival and its first trace the panels say so, not "Loading…" with
        # the loader's last line ("Loaded …") under it.
        once_loaded: list[tuple[bool, str]] = []
        window.traces.loaded.connect(lambda: once_loaded.append((window.traces.loading,
                                                                 window.notices.text("attention"))))
        with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
            pass
        assert once_loaded == [(False, "Tracing the prompt…")]
        assert window.notices.text("attention") == "" and window.attention_panel.isEnabled()
        assert window.notices.text("embeddings") == ""
    finally:
        window.shutdown()


def test_the_first_start_message_names_the_conversion(qapp):
    assert "first start converts it" in notices.FIRST_LOAD and "20 s" in notices.FIRST_LOAD


@pytest.mark.parametrize("bad", ["", "word " * 20_000])
def test_a_prompt_that_cannot_be_traced_leaves_nothing_looking_current(make_window, tiny_gpt2_dir, qtbot, bad):
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello")
    old = window.state.trace
    with qtbot.waitSignal(window.state.stale_changed, timeout=30_000):
        window.prompt_panel.set_text(bad)
    assert window.state.stale_reason
    assert "Not the current prompt" in window.notices.text("chips")
    assert "Not the current prompt" in window.notices.text("attention")
    assert not window.prompt_panel.chips.isEnabled() and not window.generation_panel.isEnabled()
    # Step (button, F8, Space in presentation mode: all through act) does not go on from the old text.
    sent = []
    window.client.request_sent.connect(sent.append)
    assert not window.generation_action(t.STEP)
    assert not window.traces.act(t.SAMPLE)
    assert not [r for r in sent if isinstance(r, t.StepRequest | t.RunRequest)]
    assert window.state.trace is old
    # A good prompt makes everything current again.
    with qtbot.waitSignal(window.state.projection_changed, timeout=30_000):
        window.prompt_panel.set_text("Hello again")
    assert not window.state.stale_reason and window.notices.text("attention") == ""
    assert window.prompt_panel.chips.isEnabled() and window.generation_panel.isEnabled()
    with qtbot.waitSignal(window.state.trace_changed, timeout=30_000):
        assert window.generation_action(t.STEP)


def test_a_folder_that_failed_to_load_leaves_the_model_list(make_window, tiny_gpt2_dir, tmp_path, qtbot):
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello")
    source = window.model_panel.source
    assert source.currentData() == str(tiny_gpt2_dir)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    window.model_panel.add_source(str(broken))  # what File ▸ Open model folder… does
    assert source.currentData() == str(broken)
    with qtbot.waitSignal(window.error_shown, timeout=30_000):
        window.load_model(str(broken), "cpu")
    assert source.currentData() == str(tiny_gpt2_dir) == window.state.info.source
    assert source.findData(str(broken)) < 0


def test_the_sentence_box_forgets_the_preset_once_the_prompt_is_edited(make_window, tiny_gpt2_dir, qtbot):
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello")
    panel = window.prompt_panel
    presets = panel.presets
    index = next(i for i in range(presets.count()) if presets.itemData(i))
    with qtbot.waitSignal(window.state.projection_changed, timeout=30_000):
        presets.setCurrentIndex(index)
        presets.activated.emit(index)
    assert presets.currentIndex() == index
    qtbot.keyClicks(panel.editor, " and more")
    assert presets.currentIndex() == 0 and presets.currentText() == "Sentence…"
    panel.set_text(presets.itemData(index), submit=False)  # the very text again: its name again
    assert presets.currentIndex() == index
