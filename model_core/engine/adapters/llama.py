"""Llama-style models: RMSNorm, RoPE, grouped-query attention (SmolLM2, TinyLlama, Qwen2, Mistral)."""

from model_core.engine.adapters.base import ArchitectureAdapter

LLAMA = ArchitectureAdapter(
    name="Llama-style",
    model_types=("llama", "mistral", "qwen2", "qwen3", "smollm3", "olmo2"),
    base_attr="model",
    blocks_attr="layers",
    final_norm_attr="norm",
    attention_attr="self_attn",
    embedding_attr="embed_tokens",
    norm_kind="RMSNorm",
    positions="rotary",
)
