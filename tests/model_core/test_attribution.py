"""Attribution of one next-token logit: Captum's numbers against plain torch autograd, IG's
completeness, and rollout / flow against their formulas on a trace's attention."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_core.analysis.attention_flow import flow, mixing_matrices, rollout
from model_core.engine.attribution.attribute import attribute
from model_core.engine.attribution.gradients import baseline_embeddings, grad_x_input, integrated_gradients
from model_core.engine.tracing import trace_ids
from model_core.types.attribution import FLOW, GRAD_X_INPUT, INTEGRATED_GRADIENTS, ROLLOUT

PROMPT = "The capital of France is"
REL = 1e-4  # relative to the largest score


def _ids(lm) -> list[int]:
    return lm.tokenizer.encode(PROMPT)


_PLAIN: dict[str, torch.nn.Module] = {}


def _plain(request, name: str):
    """The same checkpoint in plain transformers (eager attention, none of our hooks): the reference."""
    from transformers import AutoModelForCausalLM

    if name not in _PLAIN:
        folder = request.getfixturevalue(f"{name}_dir")
        _PLAIN[name] = AutoModelForCausalLM.from_pretrained(str(folder), attn_implementation="eager",
                                                            dtype=torch.float32).eval()
    return _PLAIN[name]


def _logit(model, embeds: torch.Tensor, target: int) -> torch.Tensor:
    return model(inputs_embeds=embeds, use_cache=False).logits[:, -1, target]


def _blocks(model) -> torch.nn.ModuleList:
    return model.transformer.h if hasattr(model, "transformer") else model.model.layers


def _reference_gxi(model, ids, target) -> tuple[np.ndarray, list[np.ndarray]]:
    """Plain autograd: Σ_d ∂logit/∂E · E per position, and the same at every block output."""
    embeds = model.get_input_embeddings()(torch.tensor([ids])).detach().requires_grad_(True)
    outputs: list[torch.Tensor] = []

    def keep(_m, _a, out):
        hidden = out[0] if isinstance(out, tuple) else out
        hidden.retain_grad()
        outputs.append(hidden)

    handles = [block.register_forward_hook(keep) for block in _blocks(model)]
    try:
        _logit(model, embeds, target).sum().backward()
    finally:
        for h in handles:
            h.remove()
    rows = [(o.grad * o).sum(-1)[0].detach().numpy() for o in outputs]
    return (embeds.grad * embeds).sum(-1)[0].detach().numpy(), rows


def _reference_ig(model, pad_id, ids, target, steps) -> np.ndarray:
    """Plain autograd IG with the same Gauss–Legendre points and the same (pad) baseline."""
    embedding = model.get_input_embeddings()
    x = embedding(torch.tensor([ids])).detach()
    base = embedding(torch.tensor([[pad_id] * len(ids)])).detach()
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    alphas, weights = (nodes + 1) / 2, weights / 2
    total = torch.zeros_like(x)
    for alpha, weight in zip(alphas, weights, strict=True):
        point = (base + float(alpha) * (x - base)).requires_grad_(True)
        (grad,) = torch.autograd.grad(_logit(model, point, target).sum(), point)
        total += float(weight) * grad
    return ((x - base) * total).sum(-1)[0].numpy()


MEASURED: dict[str, float] = {}  # the largest relative difference seen per test (printed with -s)


def _close(ours: np.ndarray, reference: np.ndarray, what: str = "") -> float:
    scale = max(float(np.abs(reference).max()), 1e-12)
    diff = float(np.abs(ours - reference).max()) / scale
    assert diff <= REL, diff
    if what:
        MEASURED[what] = max(MEASURED.get(what, 0.0), diff)
        print(f"{what}: max relative difference {diff:.2e}")
    return diff


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_llama"])
def test_grad_x_input_equals_autograd(request, name):
    lm = request.getfixturevalue(name)
    ids, target = _ids(lm), 7
    ours = grad_x_input(lm, ids, target)
    reference, layers = _reference_gxi(_plain(request, name), ids, target)
    _close(ours.scores, reference, f"grad-x-input {name}")
    assert ours.per_layer.shape == (lm.info.n_layers + 1, len(ids))
    _close(ours.per_layer[0], reference)
    for layer, row in enumerate(layers):
        _close(ours.per_layer[layer + 1], row, f"grad-x-activation per layer {name}")
    assert np.abs(ours.scores).max() > 0  # something is attributed


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_llama"])
def test_integrated_gradients_equals_autograd(request, name):
    lm = request.getfixturevalue(name)
    ids, target = _ids(lm), 11
    ours = integrated_gradients(lm, ids, target, steps=16, baseline="pad")
    plain = _plain(request, name)
    tokenizer = lm.tokenizer
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    _close(ours.scores, _reference_ig(plain, pad, ids, target, 16), f"integrated gradients {name}")
    with torch.no_grad():
        x = plain.get_input_embeddings()(torch.tensor([ids]))
        assert ours.target_logit == pytest.approx(float(_logit(plain, x, target)[0]), rel=1e-5)
        base = baseline_embeddings(lm, ids, "pad")
        assert ours.baseline_logit == pytest.approx(float(_logit(plain, base, target)[0]), rel=1e-5, abs=1e-6)
    expected_error = float(ours.scores.sum()) - (ours.target_logit - ours.baseline_logit)
    assert ours.completeness_error == pytest.approx(expected_error, abs=1e-4)


@pytest.mark.parametrize(("name", "steps"), [("tiny_gpt2", (2, 4, 16)), ("tiny_llama", (8, 32, 128))])
def test_integrated_gradients_completeness_error_falls_with_steps(request, name, steps):
    lm = request.getfixturevalue(name)
    ids = _ids(lm)
    errors = [abs(integrated_gradients(lm, ids, 11, steps=s).completeness_error) for s in steps]
    assert errors[0] > errors[1] > errors[2] or errors[2] < 1e-6, errors
    last = integrated_gradients(lm, ids, 11, steps=steps[-1])
    assert last.relative_completeness_error < 1e-3


def test_rollout_equals_the_formula_on_the_traces_attention(tiny_llama):
    trace = trace_ids(tiny_llama, _ids(tiny_llama), lens=False)
    attention = trace.attention.astype(np.float64)  # [L, H, T, T]
    n_layers, _, t, _ = attention.shape
    product = np.eye(t)
    expected = [product[-1]]
    for layer in range(n_layers):
        a = np.zeros((t, t))
        for i in range(t):
            for j in range(t):
                a[i, j] = 0.5 * attention[layer, :, i, j].mean() + 0.5 * (i == j)
            a[i] /= a[i].sum()
        product = a @ product
        expected.append(product[-1])
    np.testing.assert_allclose(rollout(trace.attention), np.stack(expected), rtol=1e-10, atol=1e-12)
    result = attribute(tiny_llama, _ids(tiny_llama), 3, ROLLOUT, attention=trace.attention)
    np.testing.assert_allclose(result.scores, expected[-1], rtol=1e-6)
    assert result.scores.sum() == pytest.approx(1.0, abs=1e-5)  # rows of a product of row-stochastic matrices
    assert result.target_logit == pytest.approx(float(trace.next_logits[3]), rel=1e-5)


def test_flow_of_one_layer_is_its_mixing_row_and_never_exceeds_it():
    rng = np.random.default_rng(0)
    t = 5
    raw = np.tril(rng.random((1, 2, t, t)))
    attention = raw / raw.sum(-1, keepdims=True)
    row = mixing_matrices(attention)[0, -1]
    np.testing.assert_allclose(flow(attention), row, atol=2e-6)  # one edge per token: its capacity
    deep = np.concatenate([attention, attention[::-1]], axis=0)
    scores = flow(deep)
    assert np.all(scores <= mixing_matrices(deep)[1, -1].sum() + 1e-6)
    assert np.all(scores > 0)


def test_attribute_dispatches_each_method_and_says_what_is_wrong(tiny_gpt2):
    ids = _ids(tiny_gpt2)
    for method in (GRAD_X_INPUT, INTEGRATED_GRADIENTS, ROLLOUT, FLOW):
        result = attribute(tiny_gpt2, ids, 5, method, steps=4)
        assert result.method == method and result.scores.shape == (len(ids),)
    with pytest.raises(ValueError, match="unknown attribution method"):
        attribute(tiny_gpt2, ids, 5, "saliency")
    with pytest.raises(ValueError, match="empty"):
        attribute(tiny_gpt2, [], 5, GRAD_X_INPUT)
    with pytest.raises(ValueError, match="vocabulary"):
        attribute(tiny_gpt2, ids, 10**6, INTEGRATED_GRADIENTS)


def test_grad_x_input_equals_captums_input_x_gradient_on_inputs_embeds(tiny_llama):
    """The one-pass layer form equals Captum's own InputXGradient on the input embeddings."""
    from captum.attr import InputXGradient

    from model_core.engine.attribution.gradients import input_embeddings, target_logit_fn

    ids = _ids(tiny_llama)
    ours = grad_x_input(tiny_llama, ids, 9)
    embeds = input_embeddings(tiny_llama, ids).requires_grad_(True)
    with torch.enable_grad():
        theirs = InputXGradient(target_logit_fn(tiny_llama, 9)).attribute(embeds)
    _close(ours.scores, theirs[0].sum(-1).detach().numpy(), "grad-x-input vs InputXGradient tiny_llama")


@pytest.mark.builtin
def test_keeping_the_attention_sink_makes_integrated_gradients_converge_on_the_builtin_model(builtin_lm):
    """From the plain pad baseline the logit jumps along the path (the first token, the attention
    sink, is moved) and the error stays large at any step count; with the first token kept it falls."""
    lm = builtin_lm
    ids = lm.tokenizer("The capital of France is")["input_ids"]
    paris = lm.tokenizer(" Paris")["input_ids"][0]
    errors = [integrated_gradients(lm, ids, paris, steps=s).relative_completeness_error for s in (16, 64)]
    assert errors[1] < errors[0] and errors[1] < 0.01, errors
    kept = integrated_gradients(lm, ids, paris, steps=64)
    assert kept.baseline == "pad-keep-first" and kept.scores[0] == 0.0  # the sink is not attributed
    plain_pad = integrated_gradients(lm, ids, paris, steps=64, baseline="pad")
    assert plain_pad.relative_completeness_error > 10 * errors[1]
