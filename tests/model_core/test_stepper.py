"""The stepper's incremental (KV-cached) traces equal a fresh full trace of the same tokens."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_core.analysis.sampling import SamplingSettings
from model_core.engine.stepper import END_OF_TEXT, MAX_LENGTH, Stepper, generate_text
from model_core.engine.tracing import trace_ids

PROMPT = "The capital of Germany is Berlin. The capital of France is"


def assert_traces_equal(a, b):
    assert a.tokens.ids.tolist() == b.tokens.ids.tolist()
    np.testing.assert_allclose(a.attention.astype(np.float32), b.attention.astype(np.float32), atol=1e-3)
    np.testing.assert_allclose(a.residual, b.residual, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(a.attn_out, b.attn_out, atol=1e-4, rtol=1e-4)  # NaN == NaN (post-LN blocks)
    if a.mid_lens_ids is not None or b.mid_lens_ids is not None:
        np.testing.assert_array_equal(a.mid_lens_ids[:, 0], b.mid_lens_ids[:, 0])
    np.testing.assert_allclose(a.queries, b.queries, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(a.keys, b.keys, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(a.values, b.values, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(a.next_logits, b.next_logits, atol=1e-4, rtol=1e-4)
    np.testing.assert_array_equal(a.lens_ids[:, 0], b.lens_ids[:, 0])
    # Mixture of experts: the same experts with the same gate weights (empty arrays for dense models).
    np.testing.assert_array_equal(a.router_ids, b.router_ids)
    np.testing.assert_allclose(a.router_weights, b.router_weights, atol=1e-5)
    np.testing.assert_allclose(a.router_probs, b.router_probs, atol=1e-5)
    np.testing.assert_allclose(a.shared_expert_gate, b.shared_expert_gate, atol=1e-5)


@pytest.mark.parametrize("which", ["tiny_gpt2", "tiny_llama"])
def test_steps_equal_full_retrace(which, request):
    lm = request.getfixturevalue(which)
    stepper = Stepper(lm, max_new_tokens=5)
    first = stepper.start(PROMPT)
    stepper.step()
    stepper.sample(SamplingSettings(temperature=1.0, seed=3))
    after_two = stepper.step()
    assert stepper.n_new == 3
    assert after_two.n_prompt == first.n_tokens
    fresh = trace_ids(lm, after_two.tokens.ids.tolist(), n_prompt=first.n_tokens)
    assert_traces_equal(after_two, fresh)
    # Undo twice goes back to a state equal to a fresh trace of the shorter sequence.
    stepper.undo()
    undone = stepper.undo()
    assert undone.n_tokens == first.n_tokens + 1
    assert_traces_equal(undone, trace_ids(lm, undone.tokens.ids.tolist()))
    # ...and stepping again after undo still agrees with a fresh trace (the cache was cropped right).
    again = stepper.step()
    assert_traces_equal(again, trace_ids(lm, again.tokens.ids.tolist()))
    reset = stepper.reset()
    assert_traces_equal(reset, first)
    assert stepper.n_new == 0


def test_greedy_matches_transformers_generate(tiny_gpt2):
    lm = tiny_gpt2
    trace, reason = generate_text(lm, PROMPT, max_new_tokens=8, settings=None)
    ids = torch.tensor([trace.tokens.ids[: trace.n_prompt].tolist()])
    with torch.no_grad():
        expected = lm.model.generate(ids, max_new_tokens=8, do_sample=False, min_new_tokens=8,
                                     pad_token_id=lm.tokenizer.eos_token_id)
    got = trace.tokens.ids.tolist()
    assert got == expected[0, : len(got)].tolist()
    assert reason in (MAX_LENGTH, END_OF_TEXT)


def test_same_seed_same_text_and_different_seed_differs(tiny_llama):
    hot = SamplingSettings(temperature=1.5, seed=7)
    a, _ = generate_text(tiny_llama, PROMPT, 12, hot)
    b, _ = generate_text(tiny_llama, PROMPT, 12, hot)
    c, _ = generate_text(tiny_llama, PROMPT, 12, SamplingSettings(temperature=1.5, seed=8))
    assert a.tokens.ids.tolist() == b.tokens.ids.tolist()
    assert a.tokens.ids.tolist() != c.tokens.ids.tolist()


def test_stops_at_end_of_text_and_says_so(tiny_gpt2):
    stepper = Stepper(tiny_gpt2, max_new_tokens=10)
    stepper.start(PROMPT)
    stepper.append(tiny_gpt2.tokenizer.eos_token_id)
    assert stepper.stop_reason == END_OF_TEXT
    before = stepper.trace
    assert stepper.step() is before  # no further tokens once stopped
    stepper.undo()
    assert stepper.stop_reason is None


def test_stops_at_max_length(tiny_gpt2):
    stepper = Stepper(tiny_gpt2, max_new_tokens=2)
    stepper.start(PROMPT)
    stepper.append(5)
    stepper.append(6)
    assert stepper.stop_reason == MAX_LENGTH
    assert stepper.append(7).n_tokens == stepper.trace.n_tokens
    assert stepper.n_new == 2


@pytest.mark.parametrize("which", ["tiny_gpt2", "tiny_llama"])
def test_typing_on_reuses_the_prefix_and_equals_a_fresh_trace(which, request):
    lm = request.getfixturevalue(which)
    stepper = Stepper(lm, max_new_tokens=5)
    stepper.start("The capital of Germany")
    stepper.step()
    for text in ("The capital of Germany is Berlin", "The capital of Germany is Berlin", "The capital",
                 "A different start", "The capital of France is"):
        trace = stepper.start(text)
        fresh = trace_ids(lm, trace.tokens.ids.tolist())
        assert_traces_equal(trace, fresh)
        assert trace.text == text and trace.n_prompt == trace.n_tokens and stepper.n_new == 0
    # and generation continues correctly from a reused prefix
    after = stepper.step()
    assert_traces_equal(after, trace_ids(lm, after.tokens.ids.tolist()))


# -- the knobs and the chat, against transformers' generate ------------------------------------------


def test_greedy_with_penalty_and_bias_matches_generate(tiny_gpt2):
    """Greedy decoding obeys the repetition penalty and the logit bias exactly as `generate` does."""
    from model_core.analysis.sampling import bias_table

    lm = tiny_gpt2
    plain, _ = generate_text(lm, PROMPT, 10, None)
    favourite = int(plain.tokens.ids[plain.n_prompt])  # what greedy says first, banned below
    settings = SamplingSettings(temperature=0, repetition_penalty=1.4,
                                logit_bias=bias_table([(favourite, -100.0), (7, 1.5)]))
    trace, _ = generate_text(lm, PROMPT, 10, settings)
    ids = torch.tensor([trace.tokens.ids[: trace.n_prompt].tolist()])
    with torch.no_grad():
        expected = lm.model.generate(ids, max_new_tokens=10, min_new_tokens=10, do_sample=False,
                                     repetition_penalty=1.4, sequence_bias={(7,): 1.5},
                                     suppress_tokens=[favourite], pad_token_id=lm.tokenizer.eos_token_id)
    got = trace.tokens.ids.tolist()
    assert got == expected[0, : len(got)].tolist()
    assert favourite not in got[trace.n_prompt:]
    assert got != plain.tokens.ids.tolist()


def test_stop_sequence_stops_at_the_token_transformers_stops_at(tiny_gpt2):
    from model_core.engine.stepper import STOP_SEQUENCE

    lm = tiny_gpt2
    free, _ = generate_text(lm, PROMPT, 30, None)
    text = free.generated_text
    stop = text[len(text) // 2: len(text) // 2 + 2]  # two characters from the middle of the free run
    trace, reason = generate_text(lm, PROMPT, 30, SamplingSettings(temperature=0, stop=(stop,)))
    ids = torch.tensor([free.tokens.ids[: free.n_prompt].tolist()])
    with torch.no_grad():
        expected = lm.model.generate(ids, max_new_tokens=30, do_sample=False, stop_strings=[stop],
                                     tokenizer=lm.tokenizer, pad_token_id=lm.tokenizer.eos_token_id)
    assert reason == STOP_SEQUENCE
    assert trace.tokens.ids.tolist() == expected[0].tolist()
    assert stop in trace.generated_text and stop not in trace.tokens.text(trace.n_prompt, trace.n_tokens - 1)


def test_chat_prompt_is_the_templates_tokens_and_stops_at_end_of_turn(tiny_chat):
    from model_core.engine.stepper import END_OF_TURN, GREEDY, SAMPLED
    from model_core.types.chat import conversation

    lm = tiny_chat
    tok = lm.tokenizer
    stepper = Stepper(lm, max_new_tokens=10)
    conv = conversation([("user", "What is the capital of France?")])
    trace = stepper.start_chat(conv)
    expected = tok.apply_chat_template([m.to_json() for m in conv], add_generation_prompt=True)["input_ids"]
    assert trace.tokens.ids.tolist() == list(expected) and trace.n_prompt == len(expected)
    assert stepper.chat.conversation == conv
    assert_traces_equal(trace, trace_ids(lm, list(expected)))
    stepper.step()
    stepper.sample(SamplingSettings(temperature=1.0, seed=1))
    assert stepper.choices == (GREEDY, SAMPLED)
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    stepper.append(im_end)
    assert stepper.stop_reason == END_OF_TURN and stepper.stop_detail == "<|im_end|>"
    stepper.undo()
    assert stepper.stop_reason is None and stepper.choices == (GREEDY, SAMPLED)
    stepper.append(tok.convert_tokens_to_ids("<|endoftext|>"))
    assert stepper.stop_reason == END_OF_TEXT and stepper.stop_detail == "<|endoftext|>"
    stepper.reset()
    assert stepper.choices == () and stepper.chat is not None


def test_conversation_longer_than_the_context_is_refused(tiny_chat):
    from model_core.errors import PromptError
    from model_core.types.chat import conversation

    stepper = Stepper(tiny_chat)
    with pytest.raises(PromptError, match="The conversation is .* tokens but .* reads at most 256"):
        stepper.start_chat(conversation([("user", "word " * 300)]))
