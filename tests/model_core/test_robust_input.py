"""Whatever text arrives (typed, pasted, generated), tracing neither crashes nor loses bytes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model_core.engine.tracing import clean_text, run_trace
from model_core.errors import PromptError

NASTY = [
    "\x00\x01\x07 bell and NUL",
    "👍🏽 skin tone, 👩‍👩‍👧 family (ZWJ)",
    "e\u0301 combining acute, Z\u0335\u0321a\u0336lgo",
    "مرحبا بالعالم — עברית RTL",
    "line one\r\nline two\rold mac\nunix",
    "<|endoftext|><|im_start|>user",
    "東京タワー 🗼",
    " ",
]


@pytest.mark.parametrize("text", NASTY)
def test_nasty_text_round_trips(tiny_gpt2, tiny_llama, text):
    for lm in (tiny_gpt2, tiny_llama):
        trace = run_trace(lm, text)
        assert b"".join(trace.tokens.pieces).decode("utf-8") == text
        assert all("\x00" not in label and "\ufffd" not in label for label in trace.tokens.labels)


def test_lone_surrogates_are_replaced_not_fatal(tiny_gpt2):
    trace = run_trace(tiny_gpt2, "broken \ud83d paste")
    assert trace.text == "broken \ufffd paste"
    assert clean_text("pair \ud83d\ude00 stays") == "pair 😀 stays"


def test_empty_prompt_is_refused(tiny_gpt2):
    with pytest.raises(PromptError, match="empty"):
        run_trace(tiny_gpt2, "")


def test_too_long_prompt_is_refused_with_the_limit(tiny_gpt2):
    with pytest.raises(PromptError, match="reads at most 128"):
        run_trace(tiny_gpt2, "x " * 100_000)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=40))
def test_arbitrary_unicode_traces_and_joins_back(tiny_gpt2, text):
    trace = run_trace(tiny_gpt2, text)
    assert b"".join(trace.tokens.pieces).decode("utf-8") == clean_text(text)
    assert trace.attention.shape[-1] == trace.n_tokens
