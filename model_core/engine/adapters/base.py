"""What an architecture adapter names, so the rest of model_core stays generic.

An adapter knows where a model keeps its blocks, its final norm and its
unembedding. Per-head Q/K/V capture does NOT live here: transformers routes
every attention call through its AttentionInterface, and `capture.py` hooks that
one place for all architectures (post-RoPE for Llama-style models, as the
attention actually uses them).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class ArchitectureAdapter:
    """Accessors for one family of causal LMs (GPT-2, Llama-style, ...)."""

    name: str
    model_types: tuple[str, ...]
    base_attr: str  # the transformer body inside the *ForCausalLM wrapper
    blocks_attr: str
    final_norm_attr: str
    attention_attr: str  # the attention sub-layer inside a block (its output is added to the residual)
    embedding_attr: str
    norm_kind: str  # "LayerNorm" or "RMSNorm"
    positions: str  # "learned" or "rotary"

    def base(self, model: nn.Module) -> nn.Module:
        return getattr(model, self.base_attr)

    def blocks(self, model: nn.Module) -> nn.ModuleList:
        return getattr(self.base(model), self.blocks_attr)

    def attention(self, block: nn.Module) -> nn.Module:
        return getattr(block, self.attention_attr)

    def final_norm(self, model: nn.Module) -> nn.Module:
        return getattr(self.base(model), self.final_norm_attr)

    def embedding(self, model: nn.Module) -> nn.Embedding:
        return getattr(self.base(model), self.embedding_attr)

    def unembedding(self, model: nn.Module) -> nn.Module:
        return model.get_output_embeddings()

    def tied(self, model: nn.Module) -> bool:
        return self.unembedding(model).weight.data_ptr() == self.embedding(model).weight.data_ptr()
