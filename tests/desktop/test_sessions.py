"""Sessions through the real window: save, reopen in a new window, autosave, crash recovery, recent lists."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PySide6.QtWidgets import QMessageBox

from desktop.features import recent, session_recovery, sessions
from model_core.analysis.sampling import SamplingSettings

pytestmark = pytest.mark.builtin

CAPITAL = "The capital of Germany is Berlin. The capital of France is"


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    monkeypatch.setenv("LOGITSCOPE_DATA_DIR", str(folder))
    return folder


def act(window, qtbot, action: str):
    with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
        window.generation_action(action)


def restore(window, qtbot, path):
    with qtbot.waitSignal(window.sessions.restored, timeout=180_000):
        assert window.sessions.restore(path)


def prepare(window, qtbot):
    """A step and a seeded sample, then a selection and settings away from the defaults."""
    act(window, qtbot, "step")
    window.state.set_settings(SamplingSettings(temperature=1.3, top_k=40, top_p=0.9, seed=7))
    act(window, qtbot, "sample")
    window.generation_panel.max_new.setValue(33)
    window.state.select(position=3, layer=1, head=2)


def test_save_and_reopen_in_a_new_window(make_window, qtbot, tmp_path):
    first = make_window(prompt=CAPITAL)
    prepare(first, qtbot)
    trace = first.state.trace
    assert trace.n_tokens == 14
    path = first.sessions.save(tmp_path / "lesson")
    assert path.name == "lesson.logitscope.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "logitscope-session" and data["version"] == 2
    assert data["model"] == {"spec": "builtin", "device": "cpu", "dtype": "float32"}
    assert data["prompt"] == {"text": CAPITAL, "allow_special": False, "mode": "text"}
    assert data["generated_ids"] == trace.tokens.ids[12:].tolist()
    assert data["generated_choices"] == ["greedy", "sampled"]
    assert data["sampling"] == {"temperature": 1.3, "top_k": 40, "top_p": 0.9, "seed": 7, "min_p": 0.0,
                                "repetition_penalty": 1.0, "frequency_penalty": 0.0, "presence_penalty": 0.0,
                                "logit_bias": [], "stop": []}
    assert data["run_mode"] == "greedy"
    assert data["max_new_tokens"] == 33
    assert data["selection"] == {"position": 3, "layer": 1, "head": 2, "follow_last": False}
    assert data["layout"]["state"] and all(data["layout"]["visible"].values())

    second = make_window(prompt="Hello")
    restore(second, qtbot, path)
    state = second.state
    assert second.prompt_panel.text() == CAPITAL
    assert state.trace.tokens.ids.tolist() == trace.tokens.ids.tolist()
    assert state.trace.n_prompt == 12
    assert (state.selection.position, state.selection.layer, state.selection.head) == (3, 1, 2)
    assert state.settings == SamplingSettings(1.3, 40, 0.9, 7)
    assert second.distribution_panel.settings() == state.settings
    assert second.generation_panel.max_new.value() == 33
    assert second.generation_panel.counter.text() == "2 / 33"
    assert second.state.result.choices == ("greedy", "sampled")
    assert second.banner.text() == ""
    assert str(path) in second.sessions.recent_sessions.items()


def test_reopen_switches_model_and_restores_layout(make_window, qtbot, tmp_path, tiny_gpt2_dir):
    first = make_window(model=str(tiny_gpt2_dir), prompt="Hello world")
    act(first, qtbot, "step")
    first.docks["model"].hide()
    path = first.sessions.save(tmp_path / "tiny.logitscope.json")
    ids = first.state.trace.tokens.ids.tolist()

    second = make_window(prompt=CAPITAL)
    assert second.state.info.source == "builtin"
    restore(second, qtbot, path)
    assert second.state.info.source == str(tiny_gpt2_dir)
    assert second.state.trace.tokens.ids.tolist() == ids
    assert not second.docks["model"].toggleViewAction().isChecked()
    assert second.docks["attention"].toggleViewAction().isChecked()


@pytest.mark.parametrize("content, why", [
    ("{not json", "not valid JSON"),
    ('{"format": "something-else"}', "not a Logitscope session"),
    ('{"format": "logitscope-session", "version": 1, "model": {"spec": "builtin"}}', "missing or has a wrong field"),
    ('{"format": "logitscope-session", "version": 1, "model": {"spec": "builtin"}, "prompt": {"text": 5}, '
     '"selection": {}, "sampling": {}}', "wrong type"),
    (None, "does not exist"),
])
def test_bad_session_files_show_a_banner(make_window, qtbot, tmp_path, content, why):
    window = make_window(prompt=CAPITAL)
    path = tmp_path / "bad.logitscope.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    before = window.state.trace.tokens.ids.tolist()
    assert window.sessions.restore(path) is False
    assert window.banner.text().startswith("Could not open the session")
    assert why in window.banner.text()
    assert window.state.trace.tokens.ids.tolist() == before
    assert window.prompt_panel.text() == CAPITAL


def test_tokens_outside_the_vocabulary_show_a_banner(make_window, qtbot, tmp_path):
    window = make_window(prompt=CAPITAL)
    path = window.sessions.save(tmp_path / "s.logitscope.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["generated_ids"] = [10**9]
    path.write_text(json.dumps(data), encoding="utf-8")
    assert window.sessions.restore(path)
    qtbot.waitUntil(lambda: "vocabulary" in window.banner.text(), timeout=60_000)
    assert not window.sessions.restoring  # the restore gave up cleanly


def test_crash_leaves_an_autosave_that_is_offered(make_window, qtbot, data_dir):
    first = make_window(prompt=CAPITAL)
    prepare(first, qtbot)
    ids = first.state.trace.tokens.ids.tolist()
    autosave = first.sessions.autosave.path
    qtbot.waitUntil(lambda: autosave.is_file() and json.loads(autosave.read_text("utf-8"))["selection"]["head"] == 2,
                    timeout=10_000)
    assert session_recovery.running_autosaves(data_dir) == [autosave]
    first.sessions.autosave.release()  # "crash": its process is gone, its autosave stays

    second = make_window(prompt="Hello")
    assert second.sessions.recovery_path is not None and not autosave.exists()  # moved to recovered/
    box = second.sessions.offer_recovery()
    qtbot.addWidget(box)
    assert box.isVisible() and not box.isModal()
    with qtbot.waitSignal(second.sessions.restored, timeout=180_000):
        box.button(QMessageBox.StandardButton.Yes).click()
    assert second.prompt_panel.text() == CAPITAL
    assert second.state.trace.tokens.ids.tolist() == ids
    assert (second.state.selection.layer, second.state.selection.head) == (1, 2)
    assert second.state.settings.seed == 7
    assert session_recovery.waiting_recovery(data_dir) == []  # restored: not offered again


def test_clean_close_offers_nothing(make_window, qtbot, data_dir):
    first = make_window(prompt=CAPITAL)
    autosave = first.sessions.autosave.path
    qtbot.waitUntil(autosave.is_file, timeout=10_000)
    first.close()
    assert not autosave.exists() and session_recovery.running_autosaves(data_dir) == []
    second = make_window(prompt="Hello")
    assert second.sessions.recovery_path is None
    assert second.sessions.offer_recovery() is None


def test_two_windows_keep_their_own_autosave(make_window, qtbot, data_dir):
    """Two instances at once: each autosaves to its own file, neither takes the other's as a crash."""
    a = make_window(prompt=CAPITAL)
    b = make_window(prompt="Hello")
    assert a.sessions.recovery_path is None and b.sessions.recovery_path is None  # a is alive, not crashed
    qtbot.waitUntil(lambda: a.sessions.autosave.path.is_file() and b.sessions.autosave.path.is_file(), timeout=10_000)
    assert a.sessions.autosave.path != b.sessions.autosave.path
    assert json.loads(a.sessions.autosave.path.read_text("utf-8"))["prompt"]["text"] == CAPITAL
    assert json.loads(b.sessions.autosave.path.read_text("utf-8"))["prompt"]["text"] == "Hello"
    a.close()
    assert session_recovery.running_autosaves(data_dir) == [b.sessions.autosave.path]


def test_a_killed_process_is_recovered_and_several_are_listed(make_window, tiny_gpt2_dir, qtbot, data_dir):
    """Real crashes: two app processes are killed; the next window offers both sessions in a list."""
    env = {**os.environ, "LOGITSCOPE_DATA_DIR": str(data_dir), "QT_QPA_PLATFORM": "offscreen"}
    prompts = ("Hello world", "The capital of France")
    # Both at once, as two windows open side by side; each is killed once its autosave holds its prompt.
    running = {prompt: subprocess.Popen([sys.executable, "-m", "desktop.entry", "--model", str(tiny_gpt2_dir),
                                         "--device", "cpu", "--prompt", prompt, "--fresh"], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for prompt in prompts}

    def kill_the_saved() -> bool:
        saved = [f.read_text("utf-8") for f in session_recovery.running_autosaves(data_dir)]
        for prompt, process in running.items():
            if process.poll() is None and any(prompt in text for text in saved):
                process.kill()  # SIGKILL: no clean exit, no chance to remove anything
                process.wait(30)
        return all(process.poll() is not None for process in running.values())

    try:
        qtbot.waitUntil(kill_the_saved, timeout=120_000)
    finally:
        for process in running.values():
            process.kill()
            process.wait(30)
    # Both are dead now, so their autosaves are no longer "running"; the newest is read from the folder itself.
    left_behind = (data_dir / session_recovery.INSTANCES).glob(f"*{session_recovery.SUFFIX}")
    newest = max(left_behind, key=lambda f: f.stat().st_mtime_ns).read_text("utf-8")
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hi")
    assert len(window.sessions.recovery_paths) == 2
    dialog = window.sessions.offer_recovery()
    qtbot.addWidget(dialog)
    assert isinstance(dialog, sessions.RecoveryDialog) and dialog.list.count() == 2
    labels = [dialog.list.item(i).text() for i in range(2)]
    assert all(any(repr(prompt) in label for label in labels) for prompt in prompts)
    with qtbot.waitSignal(window.sessions.restored, timeout=60_000):
        dialog._restore()  # the newest, selected by default
    assert window.prompt_panel.text() == next(p for p in prompts if p in newest)
    assert len(session_recovery.waiting_recovery(data_dir)) == 1  # the other one waits for the next start


def test_recent_prompts_and_sessions(make_window, qtbot, tmp_path):
    window = make_window(prompt="Hello")
    for text in ("The capital", "The capital of France is", "ubiquitous"):
        with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
            window.prompt_panel.set_text(text)
    # Typing on replaces the shorter prefix; a new prompt goes on top; "Hello" is kept.
    assert window.sessions.recent_prompts.items() == ["ubiquitous", "The capital of France is", "Hello"]

    menu = window.sessions.menus["prompts"]
    menu.aboutToShow.emit()
    pick = next(a for a in menu.actions() if a.text() == "The capital of France is")
    with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
        pick.trigger()
    assert window.prompt_panel.text() == "The capital of France is"

    paths = [window.sessions.save(tmp_path / f"s{i}") for i in range(12)]
    items = window.sessions.recent_sessions.items()
    assert items == [str(p) for p in reversed(paths)][: recent.MAX_RECENT]
    paths[-1].unlink()
    menu = window.sessions.menus["sessions"]
    menu.aboutToShow.emit()
    menu.actions()[0].trigger()
    assert "no longer exists" in window.banner.text()
    assert str(paths[-1]) not in window.sessions.recent_sessions.items()


def test_chat_mode_conversation_and_every_knob_come_back(make_window, qtbot, tmp_path, tiny_chat_dir):
    from model_core.types.chat import ASSISTANT, SYSTEM, USER, Message

    first = make_window(model=str(tiny_chat_dir), prompt="Hello")
    panel = first.prompt_panel
    panel.chat.set_state("Be brief.", (Message(USER, "Hi"), Message(ASSISTANT, "Hello!")), "")
    with qtbot.waitSignal(first.state.projection_changed, timeout=60_000):
        panel.set_mode("chat")
    panel.chat.message.setText("What now?")
    with qtbot.waitSignal(first.state.projection_changed, timeout=60_000):
        panel.send()
    knobs = SamplingSettings(temperature=0.9, seed=3, min_p=0.02, repetition_penalty=1.3, frequency_penalty=0.2,
                             presence_penalty=-0.1, logit_bias=((5, -100.0), (9, 2.5)), stop=("zzz",))
    first.state.set_settings(knobs)
    act(first, qtbot, "sample")
    act(first, qtbot, "step")
    first.generation_panel.set_run_mode("sampled")
    panel.chat.message.setText("unsent words")
    ids = first.state.trace.tokens.ids.tolist()
    path = first.sessions.save(tmp_path / "chat")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["prompt"]["mode"] == "chat" and data["chat"]["system"] == "Be brief."
    assert data["chat"]["draft"] == "unsent words"
    assert data["sampling"]["logit_bias"] == [[5, -100.0], [9, 2.5]] and data["sampling"]["stop"] == ["zzz"]

    second = make_window(prompt=CAPITAL)
    restore(second, qtbot, path)
    panel2 = second.prompt_panel
    assert panel2.mode == "chat"
    assert panel2.conversation() == (Message(SYSTEM, "Be brief."), Message(USER, "Hi"), Message(ASSISTANT, "Hello!"),
                                     Message(USER, "What now?"))
    assert panel2.chat.draft() == "unsent words"
    assert second.state.trace.tokens.ids.tolist() == ids
    assert second.state.result.chat is not None
    assert second.state.result.choices == ("sampled", "greedy")
    assert second.state.settings == knobs
    assert second.distribution_panel.settings() == knobs
    assert not second.generation_panel.run_greedy
    assert second.banner.text() == ""


def test_version_1_files_are_still_read(make_window, qtbot, tmp_path):
    window = make_window(prompt="Hello")
    path = tmp_path / "old.logitscope.json"
    path.write_text(json.dumps({
        "format": "logitscope-session", "version": 1, "saved_at": "2024-01-01T00:00:00+00:00",
        "model": {"spec": "builtin", "device": "cpu"}, "prompt": {"text": CAPITAL, "allow_special": False},
        "generated_ids": [7042], "sampling": {"temperature": 1.1, "top_k": 5, "top_p": 0.9, "seed": 4},
        "max_new_tokens": 20, "selection": {"position": 12, "layer": 3, "head": 1, "follow_last": True},
        "layout": {"state": "", "version": 1, "visible": {}},
    }), encoding="utf-8")
    restore(window, qtbot, path)
    assert window.prompt_panel.mode == "text" and window.prompt_panel.text() == CAPITAL
    assert window.state.trace.tokens.ids.tolist()[-1] == 7042
    assert window.state.settings == SamplingSettings(1.1, 5, 0.9, 4)
    assert not window.generation_panel.run_greedy  # version 1 ran to the end sampled
    assert window.state.result.choices == ("given",)


@pytest.mark.parametrize("change, why", [
    ({"sampling": {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "seed": 0, "repetition_penalty": 0}},
     "repetition penalty must be in"),
    ({"prompt": {"text": "", "mode": "chat"}, "chat": {"turns": []}}, "conversation is empty"),
    ({"chat": {"turns": [{"role": "robot", "content": "x"}]}}, "conversation is not valid"),
    ({"run_mode": "fast"}, "run mode"),
])
def test_bad_version_2_fields_are_explained(make_window, qtbot, tmp_path, change, why):
    window = make_window(prompt=CAPITAL)
    path = window.sessions.save(tmp_path / "s.logitscope.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(change)
    path.write_text(json.dumps(data), encoding="utf-8")
    assert window.sessions.restore(path) is False
    assert why in window.banner.text()
