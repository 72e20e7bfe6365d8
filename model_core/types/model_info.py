"""What the window knows about a model: plain data, no torch, so the GUI can show it before torch loads."""

from __future__ import annotations

from dataclasses import dataclass

BUILTIN = "builtin"
GPT2_FAMILY = ("gpt2", "distilgpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")  # where the model can run; "auto" picks CUDA, then MPS, then CPU


@dataclass(frozen=True)
class ModelInfo:
    """The facts the model picker shows; plain data so it can cross threads."""

    name: str
    source: str  # "builtin", a hub id, or a folder path
    architecture: str
    model_type: str
    n_layers: int
    n_heads: int
    n_kv_heads: int
    d_model: int
    d_head: int
    d_mlp: int
    vocab_size: int
    n_params: int
    context_length: int
    device: str
    dtype: str
    tied_embeddings: bool
    licence: str

    def summary(self) -> str:
        kv = f" ({self.n_kv_heads} key/value)" if self.n_kv_heads != self.n_heads else ""
        return (
            f"{self.name}: {self.n_layers} layers, {self.n_heads} heads{kv}, width {self.d_model}, "
            f"vocabulary {self.vocab_size:,}, {self.n_params / 1e6:.0f}M parameters, "
            f"context {self.context_length:,}, {self.device}"
        )
