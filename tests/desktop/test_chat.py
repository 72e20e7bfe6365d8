"""The chat view from the window alone: talk to the built-in model, see the hidden system prompt and
the control tokens, watch the reply form token by token and stop at the end of the turn, send the
next message; every knob on the bars; models without a template; bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from desktop.core.requests import tracing as m
from model_core.types.chat import ASSISTANT, USER, Message
from viz.token_chips import MARK_GENERATION, MARK_SYSTEM

SMOL_DEFAULT = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
QUESTION = "What is the capital of France?"


def chat_traced(window, qtbot, action):
    """Run `action` (which asks for a chat trace) and wait until the chat trace and its projection land."""
    with qtbot.waitSignal(window.state.projection_changed, timeout=120_000):
        action()
    qtbot.waitUntil(lambda: window.state.result is not None and window.state.result.chat is not None,
                    timeout=60_000)


def chip_marks(window):
    chips = window.prompt_panel.chips
    return [chips.chip(i).mark for i in range(chips.count())]


@pytest.mark.builtin
def test_chat_with_the_builtin_model_from_the_window(make_window, qtbot):
    window = make_window()
    panel = window.prompt_panel
    # Chat mode: the first message goes through the template at once.
    chat_traced(window, qtbot, lambda: qtbot.mouseClick(panel.chat_mode, Qt.MouseButton.LeftButton))
    result = window.state.result
    assert result.chat.conversation == (Message(USER, QUESTION),)
    tok_labels = list(result.trace.tokens.labels)
    assert tok_labels[0] == "<|im_start|>" and tok_labels[-4:] == ["<|im_start|>", "ass", "istant", "↵"]
    # The hidden system prompt and the generation prompt are marked on the chips; control tokens drawn apart.
    chips = panel.chips
    marks = chip_marks(window)
    system_text = "".join(result.trace.tokens.texts[i] for i, mk in enumerate(marks) if mk == MARK_SYSTEM)
    assert system_text == SMOL_DEFAULT
    assert [i for i, mk in enumerate(marks) if mk == MARK_GENERATION] == list(range(len(marks) - 4, len(marks)))
    controls = [i for i in range(chips.count()) if chips.chip(i).is_control]
    assert [tok_labels[i] for i in controls] == ["<|im_start|>", "<|im_end|>"] * 2 + ["<|im_start|>"]
    assert "default system prompt" in chips.chip(4).toolTip()
    assert panel.legend.isVisible() and "control token" in panel.legend.text()
    assert SMOL_DEFAULT in panel.chat.system.placeholderText()
    # The Generation text shows the template's control tokens as they are.
    assert window.generation_panel.text.toPlainText().startswith("<|im_start|>system\n" + SMOL_DEFAULT)
    # Step: the reply forms token by token; it shows as the conversation's last row.
    with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
        window.generation_action(m.STEP)
    assert window.state.result.n_new == 1
    assert panel.chat.shown_reply() == window.state.result.reply != ""
    n_prompt = window.state.result.trace.n_prompt
    qtbot.waitUntil(lambda: panel.counts.text().startswith("The template's text: ")
                    and panel.counts.text().endswith(f"· {n_prompt} tokens + 1 generated"), timeout=5_000)
    # Run to end (greedy, as the button says) stops at the end of turn.
    assert window.generation_panel.buttons[m.RUN].text() == "Run to end · greedy"
    window.generation_panel.max_new.setValue(60)
    window.generation_action(m.RUN)
    qtbot.waitUntil(lambda: window.state.result.stop_reason is not None and not window.traces.running,
                    timeout=180_000)
    result = window.state.result
    assert result.stop_reason == "end_of_turn" and result.stop_detail == "<|im_end|>"
    assert "Paris" in result.reply
    assert window.generation_panel.status.text().startswith("Stopped: end of turn <|im_end|>")
    assert window.generation_panel.text.toPlainText().endswith(result.reply + "<|im_end|>")
    assert "end of turn" in panel.chat.turns.item(panel.chat.turns.rowCount() - 1, 0).text()
    assert set(result.choices) == {"greedy"}
    reply = result.reply
    # The next message: the reply joins the conversation as an assistant turn.
    panel.chat.message.setText("And of Germany?")
    chat_traced(window, qtbot, panel.send)
    conv = window.state.result.chat.conversation
    assert conv == (Message(USER, QUESTION), Message(ASSISTANT, reply), Message(USER, "And of Germany?"))
    assert panel.chat.conversation() == conv and panel.chat.draft() == ""
    assert window.state.result.n_new == 0 and not window.state.result.trace.tokens.special[-1]
    # Back to Text mode: the raw prompt again, no template.
    with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
        qtbot.mouseClick(panel.text_mode, Qt.MouseButton.LeftButton)
    assert window.state.result.chat is None and not panel.legend.isVisible()


@pytest.mark.builtin
def test_own_system_prompt_replaces_the_hidden_one(make_window, qtbot):
    window = make_window()
    panel = window.prompt_panel
    panel.chat.set_state("You are a pirate.", (), QUESTION)
    chat_traced(window, qtbot, lambda: panel.set_mode("chat"))
    assert MARK_SYSTEM not in chip_marks(window)
    assert SMOL_DEFAULT not in window.generation_panel.text.toPlainText()
    assert "You are a pirate." in window.generation_panel.text.toPlainText()


def test_model_without_a_template_says_so_in_the_chat_mode(make_window, tiny_gpt2_dir, qtbot):
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello")
    panel = window.prompt_panel
    requests = []
    window.client.request_sent.connect(requests.append)
    panel.set_mode("chat")
    assert not panel.chat.has_template
    assert "has no chat template" in panel.chat.notice.text() and panel.chat.notice.isVisible()
    assert not any(isinstance(r, m.TraceRequest) for r in requests)  # nothing invented, nothing traced
    assert window.state.result.chat is None
    # Loading such a model while in chat mode shows its text, not an empty window.
    with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
        window.load_model(str(tiny_gpt2_dir), "cpu")
    assert window.state.result is not None and window.state.result.chat is None
    assert window.state.trace.text == "Hello" and panel.mode == "chat" and not panel.chat.has_template


def test_chat_bad_input_is_explained_and_nothing_is_lost(make_window, tiny_chat_dir, qtbot):
    window = make_window(model=str(tiny_chat_dir), prompt="Hello")
    panel = window.prompt_panel
    panel.chat.message.setText("")
    panel.set_mode("chat")  # an empty conversation: said, not traced
    assert "conversation is empty" in window.banner.text()
    # Control tokens typed in a turn stay text unless the user opts in.
    panel.chat.message.setText("Say <|im_end|> now")
    chat_traced(window, qtbot, panel.send)
    trace = window.state.result.trace
    im_end = window.state.vocab_labels.index("<|im_end|>")
    typed = [int(i) for i, o in zip(trace.tokens.ids, window.state.result.chat.origins, strict=True) if o == "typed"]
    assert im_end not in typed
    # A conversation longer than the context: a clear message; the turns and the trace on screen stay.
    before = window.state.result.trace_id
    panel.chat.message.setText("word " * 300)
    with qtbot.waitSignal(window.error_shown, timeout=60_000):
        panel.send()
    assert "The conversation is" in window.banner.text() and "tokens but" in window.banner.text()
    assert panel.chat.turn_count() == 2 and panel.chat.conversation()[-1].content == "word " * 300
    assert window.state.result.trace_id == before


def test_every_knob_reshapes_the_bars_and_says_why(make_window, tiny_chat_dir, qtbot):
    window = make_window(model=str(tiny_chat_dir), prompt="The capital of Germany is Berlin. The capital of")
    panel = window.distribution_panel
    bars = panel.bars
    top = int(panel._rows[0])
    context = set(window.state.trace.tokens.ids.tolist())
    # A token of the text, boosted into view by a logit bias typed in the field.
    repeated = int(window.state.trace.tokens.ids[-1])
    panel.bias.setText(f"{repeated}=+30")
    panel.bias.editingFinished.emit()
    assert repeated in panel._rows and "logit bias +30" in bars.note(list(panel._rows).index(repeated))
    # Repetition penalty: tokens already in the text get paler bars, a ghost and a reason.
    panel.repetition.setValue(1.8)
    seen = [i for i, t in enumerate(panel._rows) if int(t) in context]
    assert seen and all(bars.is_moved(i) and "repetition penalty 1.8" in bars.note(i) for i in seen)
    assert window.state.settings.repetition_penalty == pytest.approx(1.8)
    panel.repetition.setValue(1.0)
    # Frequency and presence penalties, on the same token of the text.
    panel.frequency.setValue(1.0)
    panel.presence.setValue(0.5)
    note = bars.note(list(panel._rows).index(repeated)) if repeated in panel._rows else ""
    assert "frequency penalty 1" in note and "presence penalty 0.5" in note
    panel.frequency.setValue(0.0)
    panel.presence.setValue(0.0)
    panel.bias.setText("")
    panel.bias.editingFinished.emit()
    top = int(panel._rows[0])
    # Logit bias from the bar's menu: banned, greyed, the reason on hover; the field shows it.
    menu = panel.bar_menu(top)
    next(a for a in menu.actions() if a.text().startswith("Ban")).trigger()
    assert window.state.settings.bias == {top: -100.0}
    assert panel.bias.text() == f"{top}=-100"
    row = list(panel._rows).index(top)
    assert not bars._kept[row] and "banned by logit bias" in bars.note(row)
    # Min-p.
    panel.min_p.setValue(0.95)
    assert window.state.settings.min_p == 0.95
    assert sum("cut by min-p 0.95" in bars.note(i) for i in range(len(panel._rows))) >= len(panel._rows) - 2
    # A bad bias field is said inline and changes nothing.
    settings = window.state.settings
    panel.bias.setText("nonsense")
    panel.bias.editingFinished.emit()
    assert panel.problem.isVisible() and "ID=BIAS" in panel.problem.text()
    assert window.state.settings == settings and panel.bias.text() == "nonsense"
    # Stop sequences; Step obeys the bias (greedy never takes a banned token).
    panel.stop.setText(r"\n|zz")
    panel.stop.editingFinished.emit()
    assert window.state.settings.stop == ("\n", "zz")
    with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
        window.generation_action(m.STEP)
    assert int(window.state.trace.tokens.ids[-1]) != top
    panel.reset_knobs.click()
    assert window.state.settings.logit_bias == () and window.state.settings.min_p == 0.0
    assert panel.bias.text() == "" and panel.stop.text() == "" and not panel.problem.isVisible()


def test_sample_many_shares_are_count_over_draws(make_window, tiny_gpt2_dir, qtbot):
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello")
    panel = window.distribution_panel
    panel.temperature.setValue(1.5)
    panel.n_samples.setValue(1000)
    panel.sample_many.click()
    bars = panel.bars
    counts = bars._counts
    assert bars.draws() == 1000 and counts.sum() < 1000  # the tiny model spreads its mass beyond the bars
    np.testing.assert_allclose(bars.shares(), counts / 1000)
    assert all(bars.count_item.opts["width"] <= 1.0)
    for i, c in enumerate(counts):
        if c:
            assert f"{int(c)}× ({100 * c / 1000:.1f}%)" in bars.bar_text(i)


def test_run_mode_is_chosen_shown_and_marked(make_window, tiny_gpt2_dir, qtbot):
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello")
    gen = window.generation_panel
    gen.max_new.setValue(4)
    assert gen.buttons[m.RUN].text() == "Run to end · greedy"
    window.generation_action(m.RUN)
    qtbot.waitUntil(lambda: window.state.result.n_new == 4 and not window.traces.running, timeout=60_000)
    assert window.state.result.choices == ("greedy",) * 4
    greedy_ids = window.state.trace.tokens.ids.tolist()
    with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
        window.generation_action(m.RESET)
    gen.set_run_mode("sampled")
    assert gen.buttons[m.RUN].text() == "Run to end · sampled" and not window.traces.run_greedy
    window.distribution_panel.temperature.setValue(2.0)
    window.generation_action(m.RUN)
    qtbot.waitUntil(lambda: window.state.result.n_new == 4 and not window.traces.running, timeout=60_000)
    assert window.state.result.choices == ("sampled",) * 4
    assert window.state.trace.tokens.ids.tolist() != greedy_ids
    # In the text, sampled tokens look different from greedy ones.
    with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
        window.generation_action(m.UNDO)
    with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
        window.generation_action(m.STEP)
    kinds = gen.token_kinds()
    assert kinds[-4:] == ["sampled", "sampled", "sampled", "greedy"]
    formats = gen.formats()
    assert formats["sampled"].underlineStyle() != formats["greedy"].underlineStyle()
    assert formats["sampled"].foreground().color() != formats["greedy"].foreground().color()
    assert "sampled</span> 3" in gen.legend.text() and "greedy</span> 1" in gen.legend.text()
