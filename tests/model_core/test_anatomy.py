"""Anatomy parts add up to the real parameter count; the calculator reproduces real models."""

from __future__ import annotations

import pytest

from model_core.analysis.model_sizes import GPT2_STYLE, LLAMA_STYLE, build_model
from model_core.engine.probes.anatomy import model_anatomy


def _check(lm):
    anatomy = model_anatomy(lm)
    real = sum(p.numel() for p in lm.model.parameters())
    assert anatomy.total == real
    assert sum(part.params for part in anatomy.parts) == real
    assert "other" not in [p.key for p in anatomy.parts]
    n = lm.info.n_layers
    for key in ("attention", "mlp"):
        assert anatomy.part(key).copies == n
    return anatomy


def test_tiny_gpt2(tiny_gpt2):
    anatomy = _check(tiny_gpt2)
    assert anatomy.tied and anatomy.part("unembedding").params == 0
    assert anatomy.part("positions").shapes == (("weight", (128, 48)),)
    assert anatomy.part("mlp").params_each == 48 * 192 + 192 + 192 * 48 + 48
    cfg = tiny_gpt2.model.config
    estimate = build_model(cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.vocab_size, cfg.n_positions, GPT2_STYLE)
    assert estimate.params == anatomy.total


def test_tiny_llama(tiny_llama):
    anatomy = _check(tiny_llama)
    assert not anatomy.tied and anatomy.part("unembedding").params == tiny_llama.info.vocab_size * 48
    cfg = tiny_llama.model.config
    estimate = build_model(cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.vocab_size,
                           cfg.max_position_embeddings, LLAMA_STYLE, d_mlp=cfg.intermediate_size,
                           n_kv_heads=cfg.num_key_value_heads, tied=False)
    assert estimate.params == anatomy.total


@pytest.mark.builtin
def test_builtin(builtin_lm):
    anatomy = _check(builtin_lm)
    cfg = builtin_lm.model.config
    estimate = build_model(cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.vocab_size,
                           cfg.max_position_embeddings, LLAMA_STYLE, d_mlp=cfg.intermediate_size,
                           n_kv_heads=cfg.num_key_value_heads, tied=anatomy.tied)
    assert estimate.params == anatomy.total


def test_gpt2_small_from_its_shape():
    estimate = build_model(12, 768, 12, 50257, 1024, GPT2_STYLE, training_tokens=10**9)
    assert estimate.params == 124_439_808
    assert estimate.fp32_bytes == 4 * 124_439_808 and estimate.fp16_bytes == 2 * 124_439_808
    assert estimate.training_flops == pytest.approx(6 * 124_439_808 * 1e9)
    assert build_model(12, 768, 12, 50257, 1024, GPT2_STYLE, tied=False).params == 124_439_808 + 50257 * 768
    with pytest.raises(ValueError):
        build_model(12, 770, 12, 50257, 1024)


@pytest.mark.parametrize("spec", ["mixtral", "olmoe"])
def test_calculator_counts_a_mixture_of_experts_as_the_model_does(spec, family_lm):
    """Mixtral's layout from its shape: E gated experts and a bias-free router per block; a token
    uses k of the E experts, so the active count leaves the other experts out."""
    lm = family_lm(spec)
    anatomy = model_anatomy(lm)
    cfg = lm.model.config
    n_experts = getattr(cfg, "num_local_experts", None) or cfg.num_experts
    estimate = build_model(cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.vocab_size,
                           cfg.max_position_embeddings, LLAMA_STYLE, d_mlp=cfg.intermediate_size,
                           n_kv_heads=cfg.num_key_value_heads, tied=anatomy.tied, n_experts=n_experts,
                           experts_per_token=cfg.num_experts_per_tok)
    if spec == "mixtral":  # OLMoE adds q/k norms the plain Llama shape does not have
        assert estimate.params == anatomy.total
    assert estimate.params - estimate.active_params == anatomy.total - anatomy.active
    assert anatomy.active == lm.info.n_active_params < anatomy.total
    # Training compute follows what a token uses: 6 · active parameters · tokens.
    trained = build_model(2, 64, 4, 100, 128, LLAMA_STYLE, d_mlp=128, n_experts=8, experts_per_token=2,
                          training_tokens=10)
    assert trained.params - trained.active_params == 2 * 6 * 3 * 64 * 128
    assert trained.training_flops == pytest.approx(6 * 10 * trained.active_params)
    with pytest.raises(ValueError, match="experts per token"):
        build_model(2, 64, 4, 100, 128, LLAMA_STYLE, n_experts=4, experts_per_token=5)
