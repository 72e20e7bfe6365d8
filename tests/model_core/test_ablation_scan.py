"""The ablation scan and activation patching: batched numbers equal the single interventions one by one,
patching the last state restores the clean answer exactly, Cancel leaves no hook behind."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_core.engine.interventions.applied import applied, clear_interventions, set_interventions
from model_core.engine.interventions.patching import activation_patching, token_difference
from model_core.engine.interventions.scan import ablation_scan
from model_core.engine.interventions.steering import steering_from_prompts
from model_core.engine.stepper import Stepper
from model_core.engine.tracing import encode, run_trace
from model_core.errors import Cancelled, PromptError
from model_core.progress import Progress
from model_core.types.interventions import Ablation, InterventionError, InterventionSet

PROMPT = "The capital of France is Paris. The capital of Germany is"


def _prob(lm, token_id, interventions=()):
    with applied(lm, InterventionSet(tuple(interventions))):
        logits = run_trace(lm, PROMPT, lens=False).next_logits
    return float(torch.softmax(torch.from_numpy(logits), -1)[token_id])


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_llama"])
@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_scan_numbers_equal_single_ablations_one_by_one(name, mode, request):
    lm = request.getfixturevalue(name)
    ids = encode(lm, PROMPT)
    scan = ablation_scan(lm, ids, mode=mode, batch=5)  # batches that cut across layers and kinds
    plain = run_trace(lm, PROMPT, lens=False).next_logits
    assert scan.target_id == int(np.argmax(plain))
    assert scan.base_prob == pytest.approx(_prob(lm, scan.target_id), abs=1e-5)
    n_layers, n_heads = lm.info.n_layers, lm.info.n_heads
    assert scan.heads.shape == (n_layers, n_heads)
    for layer in range(n_layers):
        for head in range(n_heads):
            single = _prob(lm, scan.target_id, [Ablation("head", layer, head, mode)])
            assert scan.heads[layer, head] == pytest.approx(single, abs=1e-5), (layer, head)
        assert scan.attention[layer] == pytest.approx(_prob(lm, scan.target_id, [Ablation("attention", layer, None, mode)]), abs=1e-5)
        assert scan.mlp[layer] == pytest.approx(_prob(lm, scan.target_id, [Ablation("mlp", layer, None, mode)]), abs=1e-5)
    top = scan.top_heads(3)
    assert top[0][2] == pytest.approx(float(scan.head_drop.max()))
    assert top[0][2] >= top[1][2] >= top[2][2]


def test_scan_of_a_chosen_target_and_bad_arguments(tiny_gpt2):
    ids = encode(tiny_gpt2, PROMPT)
    scan = ablation_scan(tiny_gpt2, ids, target_id=7)
    assert scan.target_id == 7 and scan.base_prob == pytest.approx(_prob(tiny_gpt2, 7), abs=1e-5)
    with pytest.raises(InterventionError, match="zero or mean"):
        ablation_scan(tiny_gpt2, ids, mode="median")
    with pytest.raises(InterventionError, match="not in the vocabulary"):
        ablation_scan(tiny_gpt2, ids, target_id=10**9)


def _hooks(lm):
    return [(n, tuple(m._forward_hooks), tuple(m._forward_pre_hooks)) for n, m in lm.model.named_modules()]


@pytest.mark.parametrize("which", ["scan", "patch"])
def test_cancel_mid_scan_leaves_nothing_applied(tiny_llama, which):
    lm = tiny_llama
    before, plain = _hooks(lm), run_trace(lm, PROMPT, lens=False).next_logits
    seen = []
    progress = Progress(callback=lambda message, fraction: seen.append(fraction))
    progress.should_stop = lambda: len(seen) >= 2  # stop after the first batch
    ids = encode(lm, PROMPT)
    with pytest.raises(Cancelled):
        if which == "scan":
            ablation_scan(lm, ids, progress=progress, batch=3)
        else:
            activation_patching(lm, ids, ids[:-1] + [ids[-1] + 1], progress=progress, batch=3)
    assert len(seen) == 2
    assert _hooks(lm) == before
    np.testing.assert_array_equal(run_trace(lm, PROMPT, lens=False).next_logits, plain)


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_llama"])
def test_patching_the_last_state_restores_the_clean_answer_exactly(name, request):
    lm = request.getfixturevalue(name)
    clean = encode(lm, PROMPT)
    corrupt = list(clean)
    corrupt[3] = (corrupt[3] + 17) % lm.info.vocab_size
    result = activation_patching(lm, clean, corrupt, batch=7)
    n_layers, n = lm.info.n_layers, len(clean)
    assert result.residual.shape == (n_layers + 1, n) and result.heads.shape == (n_layers, lm.info.n_heads)
    assert result.residual[-1, -1] == pytest.approx(result.clean_prob, abs=1e-6)
    assert result.residual_restored[-1, -1] == pytest.approx(1.0, abs=1e-4)
    # Before the corrupted position nothing differs: patching there changes nothing.
    np.testing.assert_allclose(result.residual[:, :3], result.corrupt_prob, atol=1e-5)
    # The whole stream at the corrupted position, entering block 0, is the clean run's from there on.
    assert result.residual[0, 3] == pytest.approx(result.clean_prob, abs=1e-5)


def test_patching_a_head_equals_a_hook_written_here(tiny_llama):
    lm = tiny_llama
    clean = encode(lm, PROMPT)
    corrupt = list(clean)
    corrupt[2] = (corrupt[2] + 5) % lm.info.vocab_size
    result = activation_patching(lm, clean, corrupt)
    layer, head, dh = 1, 3, lm.info.d_head
    o_proj = lm.model.model.layers[layer].self_attn.o_proj
    seen = {}
    handle = o_proj.register_forward_pre_hook(lambda _m, args: seen.setdefault("z", args[0].clone()))
    with torch.inference_mode():
        lm.model(input_ids=torch.tensor([clean]))
    handle.remove()

    def patch(_module, args):
        x = args[0].clone()
        x[..., head * dh:(head + 1) * dh] = seen["z"][..., head * dh:(head + 1) * dh]
        return (x, *args[1:])

    handle = o_proj.register_forward_pre_hook(patch)
    with torch.inference_mode():
        logits = lm.model(input_ids=torch.tensor([corrupt])).logits[0, -1]
    handle.remove()
    assert result.heads[layer, head] == pytest.approx(float(torch.softmax(logits, -1)[result.answer_id]), abs=1e-5)


def test_patching_refuses_prompts_of_different_lengths(tiny_gpt2):
    clean = encode(tiny_gpt2, PROMPT)
    with pytest.raises(PromptError, match=f"{len(clean)} tokens and the corrupted one {len(clean) + 1}"):
        activation_patching(tiny_gpt2, clean, clean + [5])
    same = token_difference(tiny_gpt2, clean, clean)
    assert same.same_length and "same tokens" in same.message
    one = token_difference(tiny_gpt2, clean, clean[:-1] + [clean[-1] + 1])
    assert one.positions == (len(clean) - 1,) and "1 token(s) differ" in one.message


def test_generation_continues_under_steering(tiny_gpt2):
    lm = tiny_gpt2
    steering = steering_from_prompts(lm, " happy", " sad", layer=1, strength=8.0)
    assert len(steering.vector) == lm.info.d_model and "' happy'" in steering.source
    plain = Stepper(lm, max_new_tokens=4, lens=False)
    plain.start(PROMPT)
    for _ in range(4):
        plain.step()
    set_interventions(lm, InterventionSet((steering,)))
    try:
        steered = Stepper(lm, max_new_tokens=4, lens=False)
        steered.start(PROMPT)
        for _ in range(4):
            steered.step()
    finally:
        clear_interventions(lm)
    assert steered.trace.n_tokens == plain.trace.n_tokens
    assert not np.allclose(steered.trace.next_logits, plain.trace.next_logits)
    with pytest.raises(InterventionError, match="layer 9 does not exist"):
        steering_from_prompts(lm, "a", "b", layer=9)
