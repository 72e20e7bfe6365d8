"""Tiny random checkpoints of every causal-LM family Logitscope opens, saved like real ones.

    save_tiny("gemma2", folder)            -> folder (config.json, model.safetensors, tokenizer files)
    save_tiny("falcon@alibi", folder)      -> a named variant of a family (see SPECS)
    save_tiny("llama", folder, num_hidden_layers=2)   -> overrides go to AutoConfig.for_model

Everything is offline and deterministic: the tokenizer is the byte-level BPE of tests/tiny_models.py,
the weights come from `from_config` under a fixed seed and are then "sharpened" (matrices multiplied
by SHARPEN, vectors jittered) so that attention patterns, router choices and next-token
distributions are far from uniform and no two norms compute the same function.

Every spec is sized so a 12-token prompt exercises the family's special cases: sliding windows of 4
tokens, small softcaps (gemma2) that really bend the scores, non-trivial Granite/Cohere multipliers,
grouped-query attention wherever the family has it, 4 experts with top-2 routing. d=64, 3 layers:
a load and a trace take well under a second.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from tests.tiny_models import byte_level_tokenizer

SEED = 1234
SHARPEN = 2.5
JITTER = 0.2  # added to 1-D parameters (norm weights, biases)
WINDOW = 4  # sliding window: small enough to matter on a 12-token prompt

PROMPT = "The capital of Germany is Berlin. The capital of France is Paris."

# Shared sizes: d=64, 4 query heads of 16, 2 key/value heads where the family has GQA, 3 layers.
_LLAMA_LIKE = dict(
    hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
    num_key_value_heads=2, max_position_embeddings=128,
)
_MOE = dict(num_experts_per_tok=2)

# name -> kwargs for AutoConfig.for_model(name.split("@")[0], **kwargs)
SPECS: dict[str, dict] = {
    # --- learned / absolute positions, LayerNorm -------------------------------------------
    "gpt2": dict(n_embd=64, n_layer=3, n_head=4, n_positions=128),
    # layer-wise 1/(layer_idx+1) scaling and the upcast/reordered eager kernel
    "gpt2@scaled": dict(n_embd=64, n_layer=3, n_head=4, n_positions=128, scale_attn_by_inverse_layer_idx=True,
                        reorder_and_upcast_attn=True),
    "gpt_bigcode": dict(n_embd=64, n_layer=3, n_head=4, n_positions=128, multi_query=True),
    "opt": dict(hidden_size=64, ffn_dim=128, num_hidden_layers=3, num_attention_heads=4,
                max_position_embeddings=128, word_embed_proj_dim=64),
    # OPT-350m layout: post-LN blocks, embeddings projected in/out of a smaller width
    "opt@proj": dict(hidden_size=64, ffn_dim=128, num_hidden_layers=3, num_attention_heads=4,
                     max_position_embeddings=128, word_embed_proj_dim=32, do_layer_norm_before=False),
    # --- ALiBi ---------------------------------------------------------------------------------
    "bloom": dict(hidden_size=64, n_layer=3, n_head=4),
    # --- rotary, older fused / parallel layouts ------------------------------------------------
    "gptj": dict(n_embd=64, n_layer=3, n_head=4, rotary_dim=8, n_positions=128),
    "gpt_neox": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                     max_position_embeddings=128, use_parallel_residual=True,
                     rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                      "partial_rotary_factor": 0.25}),
    # falcon-7b layout: multi-query, parallel attention + MLP with one shared LayerNorm
    "falcon": dict(hidden_size=64, num_hidden_layers=3, num_attention_heads=4, max_position_embeddings=128,
                   multi_query=True, parallel_attn=True, new_decoder_architecture=False, alibi=False,
                   bias=False),
    # falcon-40b/180b layout: grouped KV heads, two LayerNorms (ln_attn, ln_mlp)
    "falcon@nda": dict(hidden_size=64, num_hidden_layers=3, num_attention_heads=4, num_kv_heads=2,
                       max_position_embeddings=128, new_decoder_architecture=True, parallel_attn=True,
                       alibi=False, bias=False),
    # falcon-rw layout: ALiBi, sequential blocks, full multi-head
    "falcon@alibi": dict(hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
                         max_position_embeddings=128, alibi=True, multi_query=False, parallel_attn=False,
                         new_decoder_architecture=False, bias=True),
    "phi": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=128, qk_layernorm=False,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5}),
    "stablelm": dict(**_LLAMA_LIKE, qk_layernorm=True, use_qkv_bias=True,
                     rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                      "partial_rotary_factor": 0.25}),
    "stablelm@parallel": dict(**_LLAMA_LIKE, use_parallel_residual=True,
                              rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                               "partial_rotary_factor": 0.25}),
    # --- Llama-style -----------------------------------------------------------------------------
    "llama": dict(**_LLAMA_LIKE, tie_word_embeddings=False),
    "mistral": dict(**_LLAMA_LIKE, sliding_window=WINDOW),
    "qwen2": dict(**_LLAMA_LIKE, use_sliding_window=True, sliding_window=WINDOW, max_window_layers=1),
    "qwen3": dict(**_LLAMA_LIKE, head_dim=16),
    "gemma": dict(**_LLAMA_LIKE, head_dim=16),
    "gemma2": dict(**_LLAMA_LIKE, head_dim=16, sliding_window=WINDOW, query_pre_attn_scalar=16,
                   attn_logit_softcapping=0.75, final_logit_softcapping=3.0),
    "gemma3_text": dict(**_LLAMA_LIKE, head_dim=16, sliding_window=WINDOW, query_pre_attn_scalar=16,
                        layer_types=["sliding_attention", "full_attention", "sliding_attention"],
                        final_logit_softcapping=3.0),
    "phi3": dict(**_LLAMA_LIKE),
    "phi3@partial": dict(**_LLAMA_LIKE, sliding_window=WINDOW,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                          "partial_rotary_factor": 0.5}),
    "granite": dict(**_LLAMA_LIKE, embedding_multiplier=3.0, residual_multiplier=0.5,
                    attention_multiplier=0.2, logits_scaling=4.0),
    "starcoder2": dict(**_LLAMA_LIKE, sliding_window=WINDOW),
    "olmo": dict(**_LLAMA_LIKE, clip_qkv=1.5),
    "olmo2": dict(**_LLAMA_LIKE),
    "cohere": dict(**_LLAMA_LIKE, logit_scale=0.5, use_qk_norm=True),
    "cohere2": dict(**_LLAMA_LIKE, logit_scale=0.5, sliding_window=WINDOW,
                    layer_types=["sliding_attention", "sliding_attention", "full_attention"]),
    # --- mixture of experts ----------------------------------------------------------------------
    "mixtral": dict(**_LLAMA_LIKE, **_MOE, num_local_experts=4, sliding_window=WINDOW),
    "qwen2_moe": dict(**_LLAMA_LIKE, **_MOE, num_experts=4, moe_intermediate_size=64,
                      shared_expert_intermediate_size=96, norm_topk_prob=False),
    # a dense MLP in layer 1: router_logits then has one entry per SPARSE layer only
    "qwen2_moe@sparse": dict(**_LLAMA_LIKE, **_MOE, num_experts=4, moe_intermediate_size=64,
                             shared_expert_intermediate_size=96, mlp_only_layers=[1]),
    "qwen3_moe": dict(**_LLAMA_LIKE, **_MOE, num_experts=4, moe_intermediate_size=64, head_dim=16,
                      norm_topk_prob=True),
    "olmoe": dict(**_LLAMA_LIKE, **_MOE, num_experts=4, norm_topk_prob=False),
    # bonus: attention sinks (s_aux) + sliding window + MoE routed like granitemoe
    "gpt_oss": dict(**_LLAMA_LIKE, **_MOE, head_dim=16, num_local_experts=4, sliding_window=WINDOW,
                    layer_types=["sliding_attention", "full_attention", "sliding_attention"]),
    "granitemoe": dict(**_LLAMA_LIKE, **_MOE, num_local_experts=4, embedding_multiplier=3.0,
                       residual_multiplier=0.5, attention_multiplier=0.2, logits_scaling=4.0),
}

FAMILIES = [
    "gpt2", "gptj", "gpt_neox", "opt", "falcon", "bloom", "llama", "mistral", "qwen2", "qwen3", "gemma",
    "gemma2", "gemma3_text", "phi", "phi3", "stablelm", "granite", "starcoder2", "olmo2", "cohere",
    "mixtral", "qwen2_moe", "qwen3_moe", "olmoe",
]
EXTRAS = ["granitemoe", "gpt_bigcode", "olmo", "cohere2", "phi3@partial", "falcon@alibi", "falcon@nda",
          "opt@proj", "stablelm@parallel", "qwen2_moe@sparse", "gpt2@scaled", "gpt_oss"]


def model_type_of(name: str) -> str:
    return name.split("@")[0]


def tiny_config(name: str, vocab_size: int, **overrides):
    if name not in SPECS:
        raise KeyError(f"no tiny spec for {name!r}; known: {', '.join(sorted(SPECS))}")
    kwargs = dict(SPECS[name])
    kwargs.update(vocab_size=vocab_size, bos_token_id=1, eos_token_id=0, pad_token_id=0)
    kwargs.update(overrides)
    return AutoConfig.for_model(model_type_of(name), **kwargs)


@torch.no_grad()
def sharpen(model: torch.nn.Module, factor: float = SHARPEN, jitter: float = JITTER) -> None:
    """Scale every matrix (>= 2-D parameter: projections, embeddings, experts, routers) by `factor`,
    and jitter every vector (norm gains, biases) so that no two norms compute the same function:
    otherwise a check cannot tell the final norm from, say, BLOOM's embedding LayerNorm."""
    g = torch.Generator().manual_seed(SEED + 1)
    for p in model.parameters():
        if p.ndim >= 2:
            p.mul_(factor)
        else:
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype) * jitter)


def build_tiny(name: str, seed: int = SEED, **overrides):
    """(model, tokenizer) for a spec name, in memory, float32, eval mode."""
    tokenizer = byte_level_tokenizer(bos=True)
    config = tiny_config(name, len(tokenizer), **overrides)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    sharpen(model)
    model.eval()
    return model, tokenizer


def save_tiny(model_type: str, folder: Path, **overrides) -> Path:
    """Build the tiny random checkpoint `model_type` (a SPECS key) and save it with its tokenizer.

    The folder loads back with AutoModelForCausalLM.from_pretrained(folder) and
    AutoTokenizer.from_pretrained(folder); weights are safetensors only.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model, tokenizer = build_tiny(model_type, **overrides)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    (folder / "tiny_spec.json").write_text(json.dumps({"spec": model_type, "seed": SEED, "sharpen": SHARPEN,
                                                       "overrides": {k: repr(v) for k, v in overrides.items()}}))
    return folder
