"""The router choices in a trace are the model's own: checked against transformers' router logits.

Plain transformers (eager, `output_router_logits=True`) returns each sparse layer's raw router
logits. From them the family's rule gives the experts and gate weights the model used:

- Mixtral: softmax over all experts, top-k, renormalised to sum 1;
- Qwen2-MoE, Qwen3-MoE, OLMoE: softmax, top-k, renormalised only with `norm_topk_prob`;
- Granite-MoE, GPT-OSS: top-k of the raw logits, softmax over the k chosen.

For every token and layer the trace must hold those experts (exactly) and weights (1e-5), and
the softmax of the logits as `router_probs` (1e-6). Dense blocks of a MoE model (Qwen2-MoE with
`mlp_only_layers`) are marked: ids -1, weights 0. Qwen2-MoE's shared expert gate is
sigmoid(shared_expert_gate(x)) of the MLP's input.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM

from model_core.analysis.experts import expert_load, gate_mass, moe_layers, router_choices
from model_core.engine.tracing import run_trace
from tests.model_core.family_checks import TEXT, reference_blocks

RENORMALISED, MAYBE, TOPK_THEN_SOFTMAX = "renormalised", "norm_topk_prob", "top-k then softmax"
RULES = {"mixtral": RENORMALISED, "qwen2_moe": MAYBE, "qwen2_moe@sparse": MAYBE, "qwen3_moe": MAYBE,
         "olmoe": MAYBE, "granitemoe": TOPK_THEN_SOFTMAX, "gpt_oss": TOPK_THEN_SOFTMAX}


def sparse_layers(config) -> list[int]:
    """Which blocks have a router, from the config (Qwen2-MoE's mlp_only_layers / decoder_sparse_step)."""
    only_dense = set(getattr(config, "mlp_only_layers", None) or [])
    step = getattr(config, "decoder_sparse_step", 1) or 1
    return [i for i in range(config.num_hidden_layers) if i not in only_dense and (i + 1) % step == 0]


def expected_choice(rule: str, logits: torch.Tensor, k: int, norm_topk_prob: bool):
    """(ids [T, k], weights [T, k]) by the family's rule from raw router logits [T, E]."""
    if rule == TOPK_THEN_SOFTMAX:
        top, ids = torch.topk(logits, k, dim=-1)
        return ids, torch.softmax(top, dim=-1)
    weights, ids = torch.topk(torch.softmax(logits, dim=-1), k, dim=-1)
    if rule == RENORMALISED or norm_topk_prob:
        weights = weights / weights.sum(-1, keepdim=True)
    return ids, weights


@pytest.mark.parametrize("spec", list(RULES))
def test_router_choices_are_the_models_own(spec, family_lm, family_dir):
    lm = family_lm(spec)
    trace = run_trace(lm, TEXT, lens=False)
    model = AutoModelForCausalLM.from_pretrained(family_dir(spec), attn_implementation="eager").eval()
    config = model.config
    shared_inputs: dict[int, torch.Tensor] = {}
    blocks = reference_blocks(model)
    handles = [b.mlp.register_forward_pre_hook(lambda _m, args, i=i: shared_inputs.__setitem__(i, args[0][0]))
               for i, b in enumerate(blocks) if hasattr(getattr(b, "mlp", None), "shared_expert_gate")]
    with torch.no_grad():
        out = model(torch.tensor([trace.tokens.ids.tolist()]), output_router_logits=True, use_cache=False)
    for handle in handles:
        handle.remove()
    sparse = sparse_layers(config)
    assert len(out.router_logits) == len(sparse) and tuple(sparse) == lm.info.moe_layers
    k = config.num_experts_per_tok
    for logits, layer in zip(out.router_logits, sparse, strict=True):
        logits = logits.float()  # [T, E] raw: rows do not sum to 1
        ids, weights = expected_choice(RULES[spec], logits, k, bool(getattr(config, "norm_topk_prob", False)))
        np.testing.assert_array_equal(trace.router_ids[layer], ids.numpy(), err_msg=f"layer {layer}")
        np.testing.assert_allclose(trace.router_weights[layer], weights.numpy(), atol=1e-5)
        np.testing.assert_allclose(trace.router_probs[layer], torch.softmax(logits, -1).numpy(), atol=1e-6)
        if layer in shared_inputs:
            gate = torch.sigmoid(blocks[layer].mlp.shared_expert_gate(shared_inputs[layer])).detach().numpy()
            np.testing.assert_allclose(trace.shared_expert_gate[layer], gate, atol=1e-5)
    for layer in set(range(config.num_hidden_layers)) - set(sparse):
        assert (trace.router_ids[layer] == -1).all() and (trace.router_weights[layer] == 0).all()
    assert len(set(trace.router_ids[sparse].ravel().tolist())) > 1  # the router really chooses


def test_renormalisation_is_the_familys_not_ours(family_lm):
    """Qwen2-MoE here has norm_topk_prob=False: its gate weights do not sum to 1; Mixtral's do."""
    qwen = run_trace(family_lm("qwen2_moe"), TEXT, lens=False)
    mixtral = run_trace(family_lm("mixtral"), TEXT, lens=False)
    assert (qwen.router_weights.sum(-1) < 1 - 1e-3).all()
    np.testing.assert_allclose(mixtral.router_weights.sum(-1), 1.0, atol=1e-5)


def test_expert_load_and_choices_read_the_router_arrays():
    ids = np.array([[[0, 1], [1, 2], [1, 0]], [[-1, -1], [-1, -1], [-1, -1]]], dtype=np.int16)  # [L=2, T=3, k=2]
    weights = np.array([[[0.6, 0.4], [0.3, 0.7], [0.9, 0.1]], [[0, 0], [0, 0], [0, 0]]], dtype=np.float32)
    load = expert_load(ids, 3)
    np.testing.assert_allclose(load[0], [2 / 3, 3 / 3, 1 / 3])  # expert 1 was chosen by every token
    assert (load[1] == 0).all() and load[0].sum() == pytest.approx(2.0)  # k = 2 per token
    np.testing.assert_allclose(gate_mass(ids, weights, 3)[0], [(0.6 + 0.1) / 3, (0.4 + 0.3 + 0.9) / 3, 0.7 / 3])
    assert moe_layers(ids).tolist() == [True, False]
    (choice,) = router_choices(ids, weights, 1)
    assert choice.layer == 0 and choice.experts == (2, 1) and choice.weights == pytest.approx((0.7, 0.3))
