"""The probes inside a block work for every family, or say why a part does not apply.

- MLP probe: the neuron activations equal the family's MLP formula recomputed from the MLP's
  input with the model's own sub-modules (named here as transformers names them, not as the
  adapter found them), and the attention and MLP updates add up to the change of the residual
  stream (1e-4 of its scale). A mixture-of-experts layer has no neurons of its own and a post-LN
  block no separable updates: the probe leaves those empty and its note says why.
- Anatomy: the parts add up exactly to the model's parameter count, none is left over as
  "other"; a mixture of experts has fewer parameters active per token than in total.
- KV cache: the same greedy tokens with and without the cache; the memory per token follows
  from the key/value heads the trace really has.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_core.engine.probes.anatomy import model_anatomy
from model_core.engine.probes.kv_cache import benchmark_kv_cache, kv_memory
from model_core.engine.probes.mlp import probe_mlp
from model_core.engine.tracing import run_trace
from model_core.types.model_info import POST_LN
from tests.model_core.family_checks import TEXT, reference_blocks
from tests.model_core.test_families import ALL_SPECS, MOE

# (MLP module name in the block, input projection, activation) for the families whose MLP is in -> act -> out
PLAIN = {"gpt2": ("mlp", "c_fc", "act"), "gpt2@scaled": ("mlp", "c_fc", "act"), "gpt_bigcode": ("mlp", "c_fc", "act"),
         "starcoder2": ("mlp", "c_fc", "act"), "gptj": ("mlp", "fc_in", "act"),
         "gpt_neox": ("mlp", "dense_h_to_4h", "act"), "falcon": ("mlp", "dense_h_to_4h", "act"),
         "falcon@nda": ("mlp", "dense_h_to_4h", "act"), "falcon@alibi": ("mlp", "dense_h_to_4h", "act"),
         "bloom": ("mlp", "dense_h_to_4h", "gelu_impl"), "phi": ("mlp", "fc1", "activation_fn"),
         "opt": (None, "fc1", "activation_fn"), "opt@proj": (None, "fc1", "activation_fn")}


def _mlp_input(lm, ids, layer: int, module) -> torch.Tensor:
    """The last position's input to `module`, from a hook of the test's own."""
    seen = {}

    def keep(_module, args) -> None:  # returns None: a pre-hook's return value would replace the input
        seen["x"] = args[0].reshape(-1, args[0].shape[-1])[-1].clone()

    handle = module.register_forward_pre_hook(keep)
    try:
        with torch.inference_mode():
            lm.model(input_ids=torch.tensor([ids]), use_cache=False)
    finally:
        handle.remove()
    return seen["x"]


def _expected_neurons(spec: str, block, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        if spec in PLAIN:
            container_name, up, act = PLAIN[spec]
            container = getattr(block, container_name) if container_name else block
            return getattr(container, act)(getattr(container, up)(x))
        mlp = block.mlp
        if hasattr(mlp, "gate_up_proj"):  # Phi-3
            gate, up = mlp.gate_up_proj(x).chunk(2, dim=-1)
            return mlp.activation_fn(gate) * up
        return mlp.act_fn(mlp.gate_proj(x)) * mlp.up_proj(x)


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_mlp_probe(spec, family_lm):
    lm = family_lm(spec)
    trace = run_trace(lm, TEXT, lens=False)
    ids = trace.tokens.ids.tolist()
    position = trace.n_tokens - 2
    blocks = reference_blocks(lm.model)
    scale = float(np.abs(trace.residual).max())
    for layer in range(lm.info.n_layers):
        probe = probe_mlp(lm, ids, position, layer)
        change = trace.residual[1:, position] - trace.residual[:-1, position]  # [L, d]
        if lm.info.block_layout == POST_LN:
            assert np.isnan(probe.attn_updates).all() and "cannot be separated" in probe.note
        else:
            assert np.abs(probe.attn_updates + probe.mlp_updates - change).max() <= 1e-4 * scale
            np.testing.assert_allclose(probe.attn_updates, trace.attn_out[:, position], atol=1e-4 * scale)
        if layer in lm.info.moe_layers:
            assert probe.hidden is None and probe.top_neurons.size == 0 and "mixture of 4 experts" in probe.note
            continue
        block = blocks[layer]
        container = block if spec.startswith("opt") else block.mlp
        x = _mlp_input(lm, ids[: position + 1], layer, container.fc1 if spec.startswith("opt") else container)
        expected = _expected_neurons(spec, block, x).numpy()
        np.testing.assert_allclose(probe.hidden, expected, atol=1e-5, rtol=1e-5, err_msg=f"layer {layer}")
        assert probe.gated == (spec not in PLAIN)
        assert np.abs(probe.hidden[probe.top_neurons[0]]) == pytest.approx(np.abs(probe.hidden).max())


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_anatomy_adds_up(spec, family_lm):
    lm = family_lm(spec)
    anatomy = model_anatomy(lm)
    real = sum(p.numel() for p in lm.model.parameters())
    assert anatomy.total == real == sum(part.params for part in anatomy.parts)
    assert "other" not in [p.key for p in anatomy.parts]
    assert {"embedding", "attention", "mlp", "unembedding"} <= {p.key for p in anatomy.parts}
    if spec in MOE:
        assert anatomy.active == lm.info.n_active_params < anatomy.total
        experts = sum(p.numel() for i in lm.info.moe_layers for p in lm.adapter.mlp(i).experts.parameters())
        assert anatomy.total - anatomy.active == experts // 2  # 2 of the 4 experts run per token
        assert "experts" in anatomy.part("mlp").title
    else:
        assert anatomy.active == anatomy.total


@pytest.mark.parametrize("spec", ["gpt2", "gptj", "falcon", "falcon@nda", "bloom", "mistral", "gemma2", "mixtral",
                                  "qwen2_moe", "opt@proj"])
def test_kv_cache_probe(spec, family_lm):
    lm = family_lm(spec)
    trace = run_trace(lm, TEXT, lens=False)
    bench = benchmark_kv_cache(lm, trace.tokens.ids[:6].tolist(), 3)
    assert bench.same_tokens
    memory = kv_memory(lm)
    assert memory.per_token == 2 * lm.info.n_layers * trace.keys.shape[1] * trace.keys.shape[-1] * 4
