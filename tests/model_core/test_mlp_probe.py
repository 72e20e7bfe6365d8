"""The MLP probe against independent hooks on the model's own modules, and the residual identity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_core.engine.probes.mlp import probe_mlp
from model_core.engine.tracing import run_trace

PROMPT = "The capital of France is Paris. The capital of Germany is"


def _capture_mlp_input(lm, ids, layer):
    """The input of `layer`'s MLP at the last position, from a hook of our own."""
    seen = {}
    mlp = lm.model.model.layers[layer].mlp  # the model's own module, not the adapter's finding

    def hook(_module, args):
        seen["x"] = args[0][0, -1].detach().clone()

    handle = mlp.register_forward_pre_hook(hook)
    try:
        with torch.inference_mode():
            lm.model(input_ids=torch.tensor([ids]))
    finally:
        handle.remove()
    return seen["x"]


def test_gpt2_activations_equal_the_act_module_output(tiny_gpt2):
    trace = run_trace(tiny_gpt2, PROMPT)
    ids = trace.tokens.ids.tolist()
    position, layer = 4, 1
    seen = {}
    act = tiny_gpt2.model.transformer.h[layer].mlp.act
    handle = act.register_forward_hook(lambda _m, _a, out: seen.setdefault("h", out[0, -1].detach().clone()))
    try:
        with torch.inference_mode():
            tiny_gpt2.model(input_ids=torch.tensor([ids[: position + 1]]))
    finally:
        handle.remove()
    probe = probe_mlp(tiny_gpt2, ids, position, layer)
    assert not probe.gated and probe.gate is None
    assert probe.hidden.shape == (4 * 48,)
    np.testing.assert_allclose(probe.hidden, seen["h"].numpy(), atol=1e-5)
    assert np.abs(probe.hidden[probe.top_neurons[0]]) == pytest.approx(np.abs(probe.hidden).max())
    # Hooks are gone afterwards.
    assert not act._forward_hooks and not tiny_gpt2.model.transformer.h[layer].mlp._forward_hooks


def test_llama_gate_up_product_equal_the_formula(tiny_llama):
    trace = run_trace(tiny_llama, PROMPT)
    ids = trace.tokens.ids.tolist()
    position, layer = trace.n_tokens - 2, 2
    probe = probe_mlp(tiny_llama, ids, position, layer)
    mlp = tiny_llama.model.model.layers[layer].mlp
    x = _capture_mlp_input(tiny_llama, ids[: position + 1], layer)
    with torch.inference_mode():
        gate = mlp.act_fn(mlp.gate_proj(x)).numpy()
        up = mlp.up_proj(x).numpy()
    assert probe.gated and probe.hidden.shape == (96,)
    np.testing.assert_allclose(probe.gate, gate, atol=1e-5)
    np.testing.assert_allclose(probe.up, up, atol=1e-5)
    np.testing.assert_allclose(probe.hidden, gate * up, atol=1e-5)


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_llama"])
def test_updates_add_up_to_the_residual_change(name, request):
    lm = request.getfixturevalue(name)
    trace = run_trace(lm, PROMPT)
    ids = trace.tokens.ids.tolist()
    for position in (0, 3, trace.n_tokens - 1):
        probe = probe_mlp(lm, ids, position, 0)
        change = trace.residual[1:, position] - trace.residual[:-1, position]  # [L, d]
        np.testing.assert_allclose(probe.attn_updates + probe.mlp_updates, change, atol=1e-4)
        assert probe.attn_norms.shape == (trace.n_layers,)
        np.testing.assert_allclose(probe.mlp_norms, np.linalg.norm(probe.mlp_updates, axis=-1))
