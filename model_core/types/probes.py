"""What the probes answer, as plain data: the model's anatomy, an MLP probe, embedding neighbours,
the key/value-cache benchmark.

They live here, not beside the probes in `engine/probes/`, because they cross to the window: in
the model process they are pickled, and unpickling a class imports its module, which must not
pull torch into the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Part:
    """One box of the diagram."""

    key: str  # "embedding", "positions", "embedding_norm", "projections", "norm1", "attention",
    #           "attn_post_norm", "norm2", "mlp", "mlp_post_norm", "final_norm", "unembedding", "other"
    title: str
    shapes: tuple[tuple[str, tuple[int, ...]], ...]  # (parameter name inside the part, shape) of one copy
    params_each: int  # parameters in one copy
    copies: int  # 1, or N for the parts of a block
    note: str = ""
    active_each: int | None = None  # parameters one token uses in one copy (mixture of experts), else all

    @property
    def params(self) -> int:
        return self.params_each * self.copies

    @property
    def active(self) -> int:
        return (self.params_each if self.active_each is None else self.active_each) * self.copies

    def shape_text(self) -> str:
        return ", ".join(f"{name} {'×'.join(str(s) for s in shape)}" for name, shape in self.shapes)


@dataclass(frozen=True)
class Anatomy:
    model_name: str
    style: str  # GPT2_STYLE or LLAMA_STYLE
    n_layers: int
    parts: tuple[Part, ...]
    total: int  # == sum(p.numel() for p in model.parameters())
    tied: bool
    active: int = 0  # parameters one token uses (== total for a dense model)
    n_experts: int = 0
    experts_per_token: int = 0

    def part(self, key: str) -> Part:
        return next(p for p in self.parts if p.key == key)


@dataclass(frozen=True)
class ResolvedWord:
    """What a typed word became in this tokenizer."""

    text: str
    ids: tuple[int, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Neighbours:
    ids: np.ndarray  # [k] int64, most similar first
    labels: tuple[str, ...]
    similarities: np.ndarray  # [k] float32 cosine similarity


@dataclass(frozen=True)
class MlpProbe:
    """One layer's MLP neurons and every layer's sub-layer updates at one position (plain numpy)."""

    position: int
    layer: int
    gated: bool  # True for gate/up/down MLPs (Llama-style), False for GPT-2's fc -> act -> proj
    activation_name: str  # e.g. "gelu_new" or "silu"
    hidden: np.ndarray | None  # [d_mlp] float32: the input of the output projection; None for a MoE layer
    gate: np.ndarray | None  # [d_mlp] act_fn(gate_proj x), gated MLPs only
    up: np.ndarray | None  # [d_mlp] up_proj x, gated MLPs only
    top_neurons: np.ndarray  # [k] int64 neuron indices, largest |hidden| first (empty for a MoE layer)
    attn_updates: np.ndarray  # [L, d] float32: what each attention sub-layer added at this position (NaN: none)
    mlp_updates: np.ndarray  # [L, d] float32: what each MLP added at this position (NaN: none)
    note: str = ""  # why a part does not apply to this model or layer ("" when everything does)

    @property
    def attn_norms(self) -> np.ndarray:
        """[L] ‖attention update‖ per layer."""
        return np.linalg.norm(self.attn_updates, axis=-1)

    @property
    def mlp_norms(self) -> np.ndarray:
        """[L] ‖MLP update‖ per layer."""
        return np.linalg.norm(self.mlp_updates, axis=-1)


@dataclass(frozen=True)
class KvMemory:
    n_layers: int
    n_kv_heads: int
    head_dim: int
    bytes_per_number: int
    context_length: int

    @property
    def per_token(self) -> int:
        """Bytes of cache one token adds: 2 (key and value) × layers × kv_heads × head_dim × bytes."""
        return 2 * self.n_layers * self.n_kv_heads * self.head_dim * self.bytes_per_number

    @property
    def full_context(self) -> int:
        return self.per_token * self.context_length


@dataclass(frozen=True)
class KvBench:
    n_prompt: int
    n_new: int
    cached_times: np.ndarray  # [N] seconds per step (step 0 includes reading the prompt)
    recompute_times: np.ndarray  # [N] seconds per step
    cached_tokens: np.ndarray  # [N] tokens each cached forward processed (T, 1, 1, …)
    recompute_tokens: np.ndarray  # [N] tokens each full forward processed (T, T+1, …)
    same_tokens: bool  # both ways chose the same greedy tokens
    new_ids: tuple[int, ...]
    memory: KvMemory

    @property
    def cached_total(self) -> float:
        return float(self.cached_times.sum())

    @property
    def recompute_total(self) -> float:
        return float(self.recompute_times.sum())

    @property
    def speedup(self) -> float:
        return self.recompute_total / max(self.cached_total, 1e-12)
