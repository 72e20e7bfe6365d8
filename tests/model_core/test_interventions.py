"""Interventions against independent references: plain transformers forward passes with hooks written
here on the model's own modules (by their transformers names, not the adapter's findings). Logits and
attention within 2e-3 (float32; the paths differ only in the order of float operations)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_core.engine.interventions.applied import (
    applied,
    clear_interventions,
    current_interventions,
    set_interventions,
)
from model_core.engine.stepper import Stepper
from model_core.engine.tracing import encode, run_trace
from model_core.types.interventions import (
    Ablation,
    AttentionTemperature,
    InterventionError,
    InterventionSet,
    Steering,
)

PROMPT = "The capital of France is Paris. The capital of Germany is"
TOL = 2e-3


def _blocks(lm):
    model = lm.model
    return model.transformer.h if hasattr(model, "transformer") else model.model.layers


def _attn(lm, layer):
    block = _blocks(lm)[layer]
    return block.attn if hasattr(block, "attn") else block.self_attn


def _out_proj(lm, layer):
    attn = _attn(lm, layer)
    return attn.c_proj if hasattr(attn, "c_proj") else attn.o_proj


def _reference(lm, ids, hooks, output_attentions=False):
    """Logits of the last position (and attentions) of a plain forward with `hooks` = [(module, kind, fn)]."""
    handles = []
    for module, kind, fn in hooks:
        register = module.register_forward_pre_hook if kind == "pre" else module.register_forward_hook
        handles.append(register(fn))
    try:
        with torch.inference_mode():
            out = lm.model(input_ids=torch.tensor([ids]), output_attentions=output_attentions)
    finally:
        for handle in handles:
            handle.remove()
    logits = out.logits[0, -1].float().numpy()
    if output_attentions:
        return logits, np.stack([a[0].float().numpy() for a in out.attentions])
    return logits


def _traced(lm, interventions):
    set_interventions(lm, InterventionSet(tuple(interventions)))
    try:
        return run_trace(lm, PROMPT, lens=False)
    finally:
        clear_interventions(lm)


def _hook_ids(lm):
    return [(name, tuple(m._forward_hooks), tuple(m._forward_pre_hooks)) for name, m in lm.model.named_modules()]


def _zero_head(d_head, head, mean=False):
    def pre(_module, args):
        x = args[0].clone()
        cols = slice(head * d_head, (head + 1) * d_head)
        x[..., cols] = x[..., cols].mean(dim=1, keepdim=True) if mean else 0
        return (x, *args[1:])

    return pre


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_llama"])
@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_head_ablation_equals_a_hook_on_the_output_projection(name, mode, request):
    lm = request.getfixturevalue(name)
    ids = encode(lm, PROMPT)
    layer, head = 1, 2
    reference = _reference(lm, ids, [(_out_proj(lm, layer), "pre", _zero_head(lm.info.d_head, head, mode == "mean"))])
    trace = _traced(lm, [Ablation("head", layer, head, mode)])
    plain = run_trace(lm, PROMPT, lens=False).next_logits
    np.testing.assert_allclose(trace.next_logits, reference, atol=TOL)
    assert np.abs(trace.next_logits - plain).max() > 1e-3  # the ablation did something


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_llama"])
def test_mlp_and_block_ablation_equal_hooks_on_the_modules(name, request):
    lm = request.getfixturevalue(name)
    ids = encode(lm, PROMPT)
    mlp = _blocks(lm)[0].mlp
    reference = _reference(lm, ids, [(mlp, "post", lambda _m, _a, out: torch.zeros_like(out))])
    np.testing.assert_allclose(_traced(lm, [Ablation("mlp", 0)]).next_logits, reference, atol=TOL)

    def skip(_module, args, output):  # the block hands its input on
        if isinstance(output, tuple):
            return (args[0], *output[1:])
        return args[0]

    block = _blocks(lm)[1]
    keep = {}  # the block's input (passed as a keyword in some families)
    pre = block.register_forward_pre_hook(
        lambda _m, args, kwargs: keep.__setitem__("x", args[0] if args else kwargs["hidden_states"]), with_kwargs=True)
    try:
        reference = _reference(lm, ids, [(block, "post", lambda _m, _a, out: (keep["x"], *out[1:])
                                          if isinstance(out, tuple) else keep["x"])])
    finally:
        pre.remove()
    np.testing.assert_allclose(_traced(lm, [Ablation("block", 1)]).next_logits, reference, atol=TOL)


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_llama"])
def test_attention_ablation_zeroes_what_attention_adds(name, request):
    lm = request.getfixturevalue(name)
    ids = encode(lm, PROMPT)
    reference = _reference(lm, ids, [(_attn(lm, 2), "post", lambda _m, _a, out: (torch.zeros_like(out[0]), *out[1:]))])
    trace = _traced(lm, [Ablation("attention", 2)])
    np.testing.assert_allclose(trace.next_logits, reference, atol=TOL)
    np.testing.assert_allclose(trace.attn_out[2], 0, atol=1e-7)  # the trace shows the intervened model


def _scale_queries(lm, temperature):
    """Dividing the queries by T divides every score q·k/√d by T (RoPE is linear in q)."""
    def gpt2(_module, _args, out):
        d = out.shape[-1] // 3
        out = out.clone()
        out[..., :d] /= temperature
        return out

    def llama(_module, _args, out):
        return out / temperature

    hooks = []
    for layer in range(lm.info.n_layers):
        attn = _attn(lm, layer)
        hooks.append((attn.c_attn, "post", gpt2) if hasattr(attn, "c_attn") else (attn.q_proj, "post", llama))
    return hooks


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_llama"])
def test_attention_temperature_equals_scaled_queries_and_changes_the_weights(name, request):
    lm = request.getfixturevalue(name)
    ids = encode(lm, PROMPT)
    logits, attentions = _reference(lm, ids, _scale_queries(lm, 3.0), output_attentions=True)
    trace = _traced(lm, [AttentionTemperature(3.0)])
    np.testing.assert_allclose(trace.next_logits, logits, atol=TOL)
    np.testing.assert_allclose(trace.attention.astype(np.float32), attentions, atol=TOL)
    plain = run_trace(lm, PROMPT, lens=False)
    # Hotter attention is flatter: the largest weight of each row falls on average.
    assert trace.attention.max(-1).mean() < plain.attention.max(-1).mean()
    one = _traced(lm, [AttentionTemperature(3.0, layer=1)])
    np.testing.assert_array_equal(one.attention[0], plain.attention[0])  # layer 0 untouched
    assert not np.array_equal(one.attention[1], plain.attention[1])


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_llama"])
def test_steering_equals_adding_the_vector_before_the_block(name, request):
    lm = request.getfixturevalue(name)
    ids = encode(lm, PROMPT)
    vector = np.random.default_rng(0).standard_normal(lm.info.d_model).astype(np.float32)
    added = torch.from_numpy(vector) * 2.5
    block = _blocks(lm)[1]
    handle = block.register_forward_pre_hook(lambda m, args, kwargs: (
        (args[0] + added, *args[1:]), kwargs) if args else (args, {**kwargs, "hidden_states": kwargs["hidden_states"] + added}),
        with_kwargs=True)
    try:
        reference = _reference(lm, ids, [])
    finally:
        handle.remove()
    trace = _traced(lm, [Steering(1, tuple(float(v) for v in vector), 2.5, "random")])
    np.testing.assert_allclose(trace.next_logits, reference, atol=TOL)


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_llama"])
def test_reset_gives_the_original_numbers_bit_for_bit(name, request):
    lm = request.getfixturevalue(name)
    before = run_trace(lm, PROMPT)
    hooks_before = _hook_ids(lm)
    everything = InterventionSet((AttentionTemperature(0.5), AttentionTemperature(2.0, 1), Ablation("head", 0, 1, "mean"),
                                  Ablation("mlp", 1), Ablation("attention", 0, mode="mean"), Ablation("block", 2),
                                  Steering(1, (0.1,) * lm.info.d_model, 3.0)))
    set_interventions(lm, everything)
    assert current_interventions(lm) == everything
    during = run_trace(lm, PROMPT)
    clear_interventions(lm)
    after = run_trace(lm, PROMPT)
    assert not np.array_equal(during.next_logits, before.next_logits)
    for name_, array in before.arrays().items():
        np.testing.assert_array_equal(getattr(after, name_), array, err_msg=name_)
    np.testing.assert_array_equal(after.next_logits, before.next_logits)
    np.testing.assert_array_equal(after.lens_probs, before.lens_probs)
    assert current_interventions(lm) == InterventionSet()
    assert _hook_ids(lm) == hooks_before  # transformers' own output-capturing hooks, and nothing of ours
    assert not any(hasattr(module, "_logitscope_temperature") for module in lm.model.modules())


def test_switched_off_items_do_nothing_and_a_context_lends_them(tiny_gpt2):
    lm = tiny_gpt2
    plain = run_trace(lm, PROMPT, lens=False).next_logits
    off = InterventionSet((Ablation("head", 1, 2),)).toggled(0, False)
    set_interventions(lm, off)
    np.testing.assert_array_equal(run_trace(lm, PROMPT, lens=False).next_logits, plain)
    clear_interventions(lm)
    with applied(lm, InterventionSet((Ablation("head", 1, 2),))):
        inside = run_trace(lm, PROMPT, lens=False).next_logits
    assert np.abs(inside - plain).max() > 1e-3
    np.testing.assert_array_equal(run_trace(lm, PROMPT, lens=False).next_logits, plain)


@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_stepper_steps_through_the_cache_under_an_ablation(tiny_llama, mode):
    """Cached steps see the ablation: a zero-ablated step equals the full-sequence reference; a
    mean-ablated step uses the prompt's mean (the reference hook takes it from the prompt's pass)."""
    lm = tiny_llama
    d_head, layer, head = lm.info.d_head, 2, 1
    set_interventions(lm, InterventionSet((Ablation("head", layer, head, mode),)))
    try:
        stepper = Stepper(lm, max_new_tokens=3, lens=False)
        stepper.start(PROMPT)
        stepper.step()
        stepper.step()
        ids = stepper.trace.tokens.ids.tolist()
        n_prompt = stepper.trace.n_prompt
        traced = stepper.trace.next_logits
    finally:
        clear_interventions(lm)
    means = {}

    def pre(_module, args):
        x = args[0].clone()
        cols = slice(head * d_head, (head + 1) * d_head)
        if mode == "mean":
            means.setdefault("m", x[:, :n_prompt, cols].mean(dim=1, keepdim=True))
            x[..., cols] = means["m"]
        else:
            x[..., cols] = 0
        return (x, *args[1:])

    reference = _reference(lm, ids, [(_out_proj(lm, layer), "pre", pre)])
    np.testing.assert_allclose(traced, reference, atol=TOL)


@pytest.mark.builtin
def test_builtin_head_ablation_equals_the_reference(builtin_lm):
    lm = builtin_lm
    ids = encode(lm, PROMPT)
    layer, head = 3, 4
    reference = _reference(lm, ids, [(lm.model.model.layers[layer].self_attn.o_proj, "pre",
                                      _zero_head(lm.info.d_head, head))])
    np.testing.assert_allclose(_traced(lm, [Ablation("head", layer, head)]).next_logits, reference, atol=TOL)
    logits, attentions = _reference(lm, ids, _scale_queries(lm, 2.0), output_attentions=True)
    trace = _traced(lm, [AttentionTemperature(2.0)])
    np.testing.assert_allclose(trace.next_logits, logits, atol=TOL)
    np.testing.assert_allclose(trace.attention[-1].astype(np.float32), attentions[-1], atol=TOL)


@pytest.mark.parametrize("bad, words", [
    (AttentionTemperature(0.0), "above 0"),
    (AttentionTemperature(-1.0), "above 0"),
    (AttentionTemperature(2.0, layer=99), "layer 99 does not exist"),
    (Ablation("head", 0, 99), "no head 0.99"),
    (Ablation("head", 99, 0), "layer 99 does not exist"),
    (Ablation("neuron", 0), "Unknown ablation"),
    (Ablation("mlp", 0, mode="median"), "zero or mean"),
    (Steering(99, (0.0,)), "layer 99 does not exist"),
    (Steering(0, (0.0, 1.0)), "2 numbers"),
])
def test_bad_interventions_are_refused_and_the_old_ones_stay(tiny_gpt2, bad, words):
    lm = tiny_gpt2
    good = InterventionSet((Ablation("head", 0, 0),))
    set_interventions(lm, good)
    try:
        with pytest.raises(InterventionError, match=words):
            set_interventions(lm, InterventionSet((Ablation("mlp", 1), bad)))
        assert current_interventions(lm) == good
        hooked = [m for m in lm.model.modules() if m._forward_pre_hooks]
        assert len(hooked) == 2  # the head's out-projection pre-hook and the freshness hook, nothing of the refused set
    finally:
        clear_interventions(lm)


def test_rerun_traces_the_same_sequence_under_the_new_interventions(tiny_llama):
    lm = tiny_llama
    stepper = Stepper(lm, max_new_tokens=3, lens=False)
    stepper.start(PROMPT)
    stepper.step()
    stepper.step()
    ids, choices = stepper.trace.tokens.ids.copy(), stepper.choices
    ablation = InterventionSet((Ablation("head", 1, 0, "mean"), AttentionTemperature(1.5)))
    set_interventions(lm, ablation)
    try:
        rerun = stepper.rerun()
        fresh = Stepper(lm, max_new_tokens=3, lens=False)
        fresh.start(PROMPT)
        for token in ids[stepper.trace.n_prompt:]:
            fresh.append(int(token))
    finally:
        clear_interventions(lm)
    np.testing.assert_array_equal(rerun.tokens.ids, ids)
    assert stepper.choices == choices and stepper.n_new == 2
    np.testing.assert_allclose(rerun.next_logits, fresh.trace.next_logits, atol=1e-5)
    np.testing.assert_allclose(rerun.attention, fresh.trace.attention, atol=1e-3)


def test_suspended_is_the_model_as_trained_and_the_interventions_come_back(tiny_gpt2):
    from model_core.engine.interventions.applied import suspended

    lm = tiny_gpt2
    plain = run_trace(lm, PROMPT, lens=False).next_logits
    set_interventions(lm, InterventionSet((Ablation("head", 1, 2, "mean"), AttentionTemperature(3.0))))
    try:
        during = run_trace(lm, PROMPT, lens=False).next_logits
        with suspended(lm):
            np.testing.assert_array_equal(run_trace(lm, PROMPT, lens=False).next_logits, plain)
        np.testing.assert_array_equal(run_trace(lm, PROMPT, lens=False).next_logits, during)
    finally:
        clear_interventions(lm)
