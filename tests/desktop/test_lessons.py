"""Lessons: the files parse, bad files are explained, and a lesson drives the real window."""

from __future__ import annotations

import json

import pytest

from desktop.features.lessons.files import LessonError, builtin_lessons, load_lesson, parse_lesson

CAPITAL = "The capital of Germany is Berlin. The capital of France is"
ANIMAL = "The animal didn't cross the street because it was too tired"


def write(tmp_path, data, name="lesson.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_builtin_lessons_parse_and_use_known_docks():
    lessons = builtin_lessons()
    assert len(lessons) >= 3
    titles = [lesson.title for lesson in lessons]
    assert any("Paris" in t for t in titles) and any("it" in t for t in titles)
    assert any("temperature" in t.lower() for t in titles)
    known = {"prompt", "attention", "trajectories", "distribution", "generation", "model", "lens", "heads", "qkv",
             "tokenizers", "lesson", "interventions"}
    for lesson in lessons:
        for step in lesson.steps:
            assert step.title and step.text
            assert step.dock is None or step.dock in known


@pytest.mark.parametrize(("data", "expected"), [
    ("{not json", "not valid JSON"),
    ([], "JSON object"),
    ({"steps": [{"title": "a", "text": "b"}]}, "no \"title\""),
    ({"title": "t", "steps": []}, "non-empty list"),
    ({"title": "t", "steps": [{"title": "a"}]}, "step 1 has no \"text\""),
    ({"title": "t", "steps": [{"title": "a", "text": "b", "layer": "three"}]}, "\"layer\" must be a whole number"),
    ({"title": "t", "steps": [{"title": "a", "text": "b", "action": "jump"}]}, "\"action\" must be one of"),
    ({"title": "t", "steps": [{"title": "a", "text": "b", "colour": 1}]}, "unknown field(s) colour"),
    ({"title": "t", "steps": [{"title": "a", "text": "b", "settings": {"temperature": -1}}]}, "temperature"),
    ({"title": "t", "steps": [{"title": "a", "text": "b", "settings": {"warmth": 1}}]}, "unknown sampling setting"),
    ({"title": "t", "steps": [{"title": "a", "text": "b", "chat": [{"role": "robot", "content": "x"}]}]},
     "\"chat\" must be a list of"),
    ({"title": "t", "steps": [{"title": "a", "text": "b", "chat": []}]}, "conversation is empty"),
    ({"title": "t", "steps": [{"title": "a", "text": "b", "prompt": "p", "chat": [{"role": "user", "content": "x"}]}]},
     "not both"),
    ({"title": "t", "steps": [{"title": "a", "text": "b", "run_mode": "fast"}]}, "\"run_mode\" must be greedy"),
    ({"title": "t", "steps": [{"title": "a", "text": "b", "settings": {"logit_bias": [[1]]}}]}, "logit_bias"),
    ({"title": "t", "steps": [{"title": "a", "text": "b", "settings": {"repetition_penalty": 0.0}}]},
     "repetition penalty must be in"),
])
def test_bad_lesson_files_say_what_is_wrong(tmp_path, data, expected):
    path = write(tmp_path, data)
    with pytest.raises(LessonError) as info:
        load_lesson(path)
    assert expected in str(info.value) and "lesson.json" in str(info.value)


def test_missing_file_is_a_lesson_error(tmp_path):
    with pytest.raises(LessonError, match="Cannot read"):
        load_lesson(tmp_path / "nope.json")


def test_parse_keeps_optional_fields():
    lesson = parse_lesson({"title": "T", "steps": [{"title": "a", "text": "b", "prompt": "p", "token": -2,
                                                    "layer": 3, "head": 1, "dock": "lens", "action": "sample",
                                                    "settings": {"temperature": 0.5, "seed": 3}, "play": True}]})
    step = lesson.steps[0]
    assert (step.prompt, step.token, step.layer, step.head, step.dock, step.action) == ("p", -2, 3, 1, "lens",
                                                                                         "sample")
    assert dict(step.settings) == {"temperature": 0.5, "seed": 3} and step.play


@pytest.mark.builtin
def test_invalid_lesson_shows_a_banner_message(make_window, tmp_path):
    window = make_window(prompt="Hello")
    path = write(tmp_path, '{"title": "Broken", "steps": [', "broken.json")
    assert not window.lessons.panel.open_file(str(path))
    assert "broken.json is not valid JSON" in window.banner.text()
    assert window.lessons.lesson is None


@pytest.mark.builtin
def test_a_lesson_moves_the_window_through_its_states(make_window, qtbot, tmp_path):
    window = make_window(prompt="Hello")
    state, player, panel = window.state, window.lessons, window.lessons.panel
    lesson = {"title": "Test lesson", "steps": [
        {"title": "Tokens", "text": "Look at the tokens.", "prompt": CAPITAL, "dock": "tokenizers", "token": 3,
         "layer": 2, "head": 1, "settings": {"temperature": 0.5, "top_k": 0, "top_p": 1.0, "seed": 0}},
        {"title": "Attention", "text": "Look at the heatmap.", "dock": "attention", "token": -2, "layer": -1,
         "head": 4},
        {"title": "Step", "text": "Paris.", "dock": "no-such-dock", "action": "step", "token": -1},
        {"title": "Other prompt", "text": "It.", "prompt": ANIMAL, "dock": "heads", "token": -4, "layer": 13,
         "head": 8, "trajectory_layer": 0},
    ]}
    path = write(tmp_path, lesson, "mine.json")

    with qtbot.waitSignal(player.step_applied, timeout=60_000):
        assert panel.open_file(str(path))
    assert window.prompt_panel.text() == CAPITAL and state.trace.text == CAPITAL
    assert state.trace.n_tokens == 12
    assert (state.selection.position, state.selection.layer, state.selection.head) == (3, 2, 1)
    assert state.settings.temperature == 0.5 and window.distribution_panel.temperature.value() == 0.5
    assert window.docks["tokenizers"].isVisible()
    assert "step 1 / 4" in panel.counter.text() and "Tokens" in panel.step_title.text()
    assert not panel.previous_button.isEnabled() and panel.next_button.isEnabled()

    with qtbot.waitSignal(player.step_applied, timeout=60_000):
        panel.next_button.click()
    assert (state.selection.position, state.selection.layer, state.selection.head) == (
        10, state.trace.n_layers - 1, 4)
    assert window.docks["attention"].isVisible()

    with qtbot.waitSignal(player.step_applied, timeout=60_000):
        player.next()  # the action waits for the worker before selecting
    assert state.trace.n_tokens == 13 and state.label(int(state.trace.tokens.ids[-1])) == "␣Paris"
    assert state.selection.position == 12
    assert player.skipped_docks == ["no-such-dock"]
    assert window.generation_panel.counter.text().startswith("1 /")

    with qtbot.waitSignal(player.step_applied, timeout=60_000):
        player.next()  # N in presentation mode does the same
    assert state.trace.text == ANIMAL and state.result.n_new == 0
    assert state.label(int(state.trace.tokens.ids[state.selection.position])) == "␣it"
    assert (state.selection.layer, state.selection.head) == (13, 8)
    assert window.docks["heads"].isVisible()
    assert window.trajectory_panel.slider.layer() == 0
    assert not panel.next_button.isEnabled() and "step 4 / 4" in panel.counter.text()

    # Going back to a step with a prompt re-traces it (the generated token is gone).
    with qtbot.waitSignal(player.step_applied, timeout=60_000):
        player.go(0)
    assert state.trace.text == CAPITAL and state.result.n_new == 0


@pytest.mark.builtin
def test_presentation_keys_page_through_a_builtin_lesson(make_window, qtbot):
    from PySide6.QtCore import Qt

    window = make_window(prompt=CAPITAL)
    panel, player = window.lessons.panel, window.lessons
    index = next(i for i in range(panel.lessons.count()) if "Paris" in panel.lessons.itemText(i))
    with qtbot.waitSignal(player.step_applied, timeout=60_000):
        panel.lessons.setCurrentIndex(index)
        panel.lessons.activated.emit(index)
    assert player.index == 0
    window.presentation.enter()
    try:
        with qtbot.waitSignal(player.step_applied, timeout=60_000):
            qtbot.keyClick(window, Qt.Key.Key_N)
        assert player.index == 1
        assert (window.state.selection.layer, window.state.selection.head) == (16, 4)
        with qtbot.waitSignal(player.step_applied, timeout=60_000):
            qtbot.keyClick(window, Qt.Key.Key_PageDown)
        assert player.index == 2
        with qtbot.waitSignal(player.step_applied, timeout=60_000):
            qtbot.keyClick(window, Qt.Key.Key_B)
        assert player.index == 1
    finally:
        window.presentation.leave()


def test_parse_keeps_chat_run_mode_and_the_new_knobs():
    from model_core.types.chat import Message

    lesson = parse_lesson({"title": "T", "steps": [{
        "title": "a", "text": "b", "chat": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "run_mode": "sampled", "settings": {"min_p": 0.1, "stop": ["\n"], "logit_bias": [[7, -100]]}}]})
    step = lesson.steps[0]
    assert step.chat == (Message("system", "Be brief."), Message("user", "Hi")) and step.run_mode == "sampled"
    assert dict(step.settings) == {"min_p": 0.1, "stop": ("\n",), "logit_bias": ((7, -100.0),)}


@pytest.mark.builtin
def test_the_assistant_lesson_contrasts_raw_text_and_chat(make_window, qtbot):
    from viz.token_chips import MARK_SYSTEM

    window = make_window(prompt=CAPITAL)
    player, state, prompt = window.lessons, window.state, window.prompt_panel
    lesson = next(lesson for lesson in builtin_lessons() if lesson.source.startswith("04_"))
    player.lesson = lesson

    def go(index):
        with qtbot.waitSignal(player.step_applied, timeout=120_000):
            player.go(index)
        qtbot.waitUntil(lambda: not window.traces.running, timeout=180_000)

    go(0)
    assert prompt.mode == "text" and state.result.chat is None
    assert window.distribution_panel.bars.bar_text(0).startswith("<|im_end|>")
    assert 0.6 < window.distribution_panel.bars.bar_values()[0] < 0.75  # "about 67%"
    go(1)
    assert state.result.stop_reason == "end_of_turn" and state.result.n_new == 1
    go(2)
    assert prompt.mode == "chat" and state.result.chat is not None
    chips = prompt.chips
    assert MARK_SYSTEM in [chips.chip(i).mark for i in range(chips.count())]
    go(4)
    assert state.result.reply == "The capital of France is Paris." and state.result.stop_reason == "end_of_turn"
    go(6)
    assert state.result.reply.startswith("Aye, me name be Captain Blackwood")
    go(7)
    assert state.settings.bias == {7042: -100.0}
    assert state.result.reply == "The capital of France is Londre."
@pytest.mark.builtin
def test_previous_restores_the_earlier_step_without_running_its_action_again(make_window, qtbot):
    from desktop.core.requests.tracing import StepRequest

    window = make_window(prompt="Hello")
    state, player, panel = window.state, window.lessons, window.lessons.panel
    index = next(i for i in range(panel.lessons.count()) if "Paris" in panel.lessons.itemText(i))
    with qtbot.waitSignal(player.step_applied, timeout=60_000):
        panel.lessons.setCurrentIndex(index)
        panel.lessons.activated.emit(index)
    title = player.lesson.title
    assert '"' in title and panel.counter.text().startswith(f"{title} · step 1 /")  # quotes, not &quot;
    while player.index < 8:  # to step 9, "And again": two greedy steps from the prompt
        with qtbot.waitSignal(player.step_applied, timeout=60_000):
            panel.next_button.click()
    assert "9. And again" in panel.step_title.text()
    assert state.result.n_new == 2
    after_two = tuple(int(i) for i in state.trace.tokens.ids)
    sent = []
    window.client.request_sent.connect(sent.append)

    with qtbot.waitSignal(player.step_applied, timeout=60_000):
        panel.previous_button.click()  # back to step 8: one token, as its text says
    assert state.result.n_new == 1 and state.label(int(state.trace.tokens.ids[-1])) == "␣Paris"
    assert tuple(int(i) for i in state.trace.tokens.ids) == after_two[:-1]
    assert state.selection.position == state.trace.n_tokens - 1
    with qtbot.waitSignal(player.step_applied, timeout=60_000):
        panel.previous_button.click()  # step 7: the prompt alone
    assert state.result.n_new == 0 and state.trace.text == CAPITAL
    assert not [r for r in sent if isinstance(r, StepRequest) and r.action in ("step", "sample")]

    with qtbot.waitSignal(player.step_applied, timeout=60_000):
        panel.next_button.click()  # forward again applies step 8: one step
    assert state.result.n_new == 1
    with qtbot.waitSignal(player.step_applied, timeout=60_000):
        panel.next_button.click()
    assert tuple(int(i) for i in state.trace.tokens.ids) == after_two
