"""Every family opens through `load_model` and shows what plain transformers computes.

Per spec (tests/model_families.py: the 24 families of issue 14 plus 12 variants and extras), a
tiny random checkpoint written to a temp folder and loaded as a real one is traced and compared
with transformers' eager attention (`output_attentions`, `output_hidden_states`):
probabilities, attention, the residual stream and the lens at the last layer within 2e-3
(attention is stored as float16, ~2.4e-4 of rounding; the residual relative to its largest
value), and what attention adds to the stream (`attn_out`) against the stream the MLP side of the
block reads. Generation steps with the KV cache equal a full re-trace of the same tokens.

The special cases are shown to matter, so agreement is not an accident of a tiny model:
Gemma 2's softcap moves the weights, sliding windows hide keys, the final-logit transforms move
the logits, Gemma's embedding is scaled.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_core.engine.stepper import Stepper
from model_core.engine.tracing import run_trace, trace_ids
from model_core.types.model_info import PARALLEL, POST_LN, SEQUENTIAL
from tests.model_core.family_checks import TEXT, TOLERANCE, compare
from tests.model_core.test_stepper import assert_traces_equal
from tests.model_families import EXTRAS, FAMILIES, WINDOW

ALL_SPECS = FAMILIES + EXTRAS
LAYOUT = {spec: PARALLEL for spec in ("gptj", "gpt_neox", "falcon", "falcon@nda", "phi", "cohere", "cohere2",
                                      "stablelm@parallel")} | {"opt@proj": POST_LN}
MOE = {"mixtral": (4, 2, 0), "qwen2_moe": (4, 2, 1), "qwen2_moe@sparse": (4, 2, 1), "qwen3_moe": (4, 2, 0),
       "olmoe": (4, 2, 0), "granitemoe": (4, 2, 0), "gpt_oss": (4, 2, 0)}  # experts, per token, shared


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_trace_agrees_with_transformers(spec, family_lm, family_dir):
    diffs = compare(family_lm(spec), family_dir(spec), spec)
    assert diffs["n_tokens"] > 2 * WINDOW  # long enough for the sliding windows to hide keys
    for key in ("probs", "attention", "residual", "lens", "attn_out"):
        assert diffs[key] <= TOLERANCE, (key, diffs)
    assert diffs["logits"] <= 1e-3, diffs


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_shapes_and_facts(spec, family_lm):
    lm = family_lm(spec)
    info = lm.info
    trace = run_trace(lm, TEXT, lens=False)
    t = trace.n_tokens
    assert info.tested and info.architecture and info.model_type == spec.split("@")[0]
    assert trace.attention.shape == (info.n_layers, info.n_heads, t, t)
    assert trace.queries.shape == (info.n_layers, info.n_heads, t, info.d_head)
    assert trace.keys.shape == trace.values.shape == (info.n_layers, info.n_kv_heads, t, info.d_head)
    assert trace.kv_head_of.max() == info.n_kv_heads - 1
    assert info.block_layout == trace.block_layout == LAYOUT.get(spec, SEQUENTIAL)
    assert info.n_params == sum(p.numel() for p in lm.model.parameters())
    experts, per_token, shared = MOE.get(spec, (0, 0, 0))
    assert (info.n_experts, info.experts_per_token, info.shared_experts) == (experts, per_token, shared)
    assert trace.router_ids.shape == (info.n_layers, t, per_token)
    assert trace.router_probs.shape == (info.n_layers, t, experts)
    assert trace.is_moe == bool(experts)
    assert (info.n_active_params < info.n_params) == bool(experts)


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_steps_with_the_cache_equal_a_full_retrace(spec, family_lm):
    """Three greedy steps, two undos, one more step: always the same as tracing the tokens afresh
    (for sliding-window families too: the cache keeps every key, the window stays in the mask)."""
    lm = family_lm(spec)
    stepper = Stepper(lm, max_new_tokens=4)
    first = stepper.start(TEXT)
    for _ in range(3):
        stepper.step()
    assert_traces_equal(stepper.trace, trace_ids(lm, stepper.trace.tokens.ids.tolist(), n_prompt=first.n_tokens))
    stepper.undo()
    undone = stepper.undo()
    assert undone.n_tokens == first.n_tokens + 1
    again = stepper.step()
    assert_traces_equal(again, trace_ids(lm, again.tokens.ids.tolist()))


def _captured_scores(trace, layer: int, scaling: float) -> np.ndarray:
    """[H, T, T] q·k·scaling from the captured (post-rotary) queries and keys."""
    q = trace.queries[layer]
    k = trace.keys[layer][trace.kv_head_of]
    return q @ k.transpose(0, 2, 1) * scaling


def _causal_softmax(x: np.ndarray) -> np.ndarray:
    x = np.where(np.tril(np.ones(x.shape[-2:], dtype=bool)), x, -np.inf)
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_gemma2_softcap_is_in_the_captured_weights(family_lm):
    """Full-attention layer 1 of the tiny Gemma 2: the weights are softmax(tanh(s/c)·c), not softmax(s)."""
    lm = family_lm("gemma2")
    cfg = lm.model.config
    trace = run_trace(lm, TEXT, lens=False)
    scores = _captured_scores(trace, 1, cfg.query_pre_attn_scalar ** -0.5)
    captured = trace.attention[1].astype(np.float32)
    cap = cfg.attn_logit_softcapping
    assert np.abs(_causal_softmax(np.tanh(scores / cap) * cap) - captured).max() <= TOLERANCE
    assert np.abs(_causal_softmax(scores) - captured).max() > 2 * TOLERANCE  # the softcap really moves them


@pytest.mark.parametrize(("spec", "sliding"), [("mistral", [0, 1, 2]), ("gemma2", [0, 2]), ("qwen2", [1, 2]),
                                               ("gemma3_text", [0, 2]), ("cohere2", [0, 1])])
def test_sliding_windows_hide_the_keys_outside_them(spec, sliding, family_lm):
    trace = run_trace(family_lm(spec), TEXT, lens=False)
    visible = (trace.attention[:, :, -1] > 0).sum(-1).min(-1)  # [L] keys the last query sees
    for layer in range(trace.n_layers):
        assert visible[layer] == (WINDOW if layer in sliding else trace.n_tokens), (layer, visible)


@pytest.mark.parametrize("spec", ["gemma2", "gemma3_text", "granite", "cohere", "granitemoe"])
def test_final_logit_transforms_are_in_the_lens(spec, family_lm):
    """lm_head(final_norm(x)) alone is not the model's logits for these families; the lens applies the rest."""
    lm = family_lm(spec)
    trace = run_trace(lm, TEXT)
    with torch.no_grad():
        raw = lm.adapter.unembedding(lm.adapter.final(torch.from_numpy(trace.residual[-1, -1]))).numpy()
    assert np.abs(raw - trace.next_logits).max() > 1e-2  # 1000 times what the lens may differ by
    np.testing.assert_allclose(trace.lens_logprobs[-1], torch.log_softmax(torch.from_numpy(trace.next_logits), -1),
                               atol=1e-5)


@pytest.mark.parametrize("spec", ["gemma", "gemma2", "gemma3_text"])
def test_gemma_embeddings_are_scaled_by_the_square_root_of_the_width(spec, family_lm):
    lm = family_lm(spec)
    trace = run_trace(lm, TEXT, lens=False)
    rows = lm.adapter.embedding.weight[torch.from_numpy(trace.tokens.ids)].detach().numpy()
    d = lm.info.d_model
    assert lm.adapter.embedding_scale == pytest.approx(d ** 0.5, rel=1e-3)  # the module's bfloat16 √d
    np.testing.assert_allclose(trace.residual[0], rows * lm.adapter.embedding_scale, rtol=1e-5, atol=1e-5)
    assert any("√d" in note or "multiplies" in note for note in lm.info.notes)


def test_post_ln_blocks_have_no_attention_update_and_say_why(family_lm):
    lm = family_lm("opt@proj")
    trace = run_trace(lm, TEXT)
    assert np.isnan(trace.attn_out).all() and trace.mid_lens_ids is None
    assert "cannot be separated" in lm.info.block_layout_note
    assert lm.info.d_model == 64 and lm.model.config.word_embed_proj_dim == 32  # project_out in the lens
