"""GPT-2 family: fused c_attn, learned positions, LayerNorm, final ln_f."""

from model_core.engine.adapters.base import ArchitectureAdapter

GPT2 = ArchitectureAdapter(
    name="GPT-2",
    model_types=("gpt2",),
    base_attr="transformer",
    blocks_attr="h",
    final_norm_attr="ln_f",
    attention_attr="attn",
    embedding_attr="wte",
    norm_kind="LayerNorm",
    positions="learned",
)
