"""Capture what attention computes, for every architecture, through one hook point.

transformers sends every attention call through `ALL_ATTENTION_FUNCTIONS` under
the model's `config._attn_implementation`. We register our own implementation,
"logitscope": the eager maths (so the weights equal `output_attentions`), plus a
recorder that keeps the query, key and value each head really used (after RoPE
for Llama-style models, before the key/value heads are repeated for grouped-query
attention). Recording only happens inside `recording()`, so a stray forward pass
costs nothing and leaks nothing — the TransformerLens habit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, eager_mask

ATTN_IMPLEMENTATION = "logitscope"

_local = threading.local()


@dataclass
class AttentionRecord:
    """Per layer, the new positions' tensors of one forward pass (batch 1)."""

    queries: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [H, Tq, dh]
    keys: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [KV, Tq, dh]
    values: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [KV, Tq, dh]
    weights: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [H, Tq, Tk] float16


def _capturing_attention(
    module: nn.Module,
    query: torch.Tensor,  # [B, H, Tq, dh]
    key: torch.Tensor,  # [B, KV, Tk, dh]  (cache included)
    value: torch.Tensor,  # [B, KV, Tk, dh]
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eager attention (softmax in float32, as Llama's eager does) that also records its inputs."""
    n_rep = query.shape[1] // key.shape[1]
    keys = key.repeat_interleave(n_rep, dim=1) if n_rep > 1 else key
    values = value.repeat_interleave(n_rep, dim=1) if n_rep > 1 else value
    if scaling is None:
        scaling = query.shape[-1] ** -0.5
    scores = torch.matmul(query, keys.transpose(-1, -2)) * scaling  # [B, H, Tq, Tk]
    if attention_mask is not None:
        scores = scores + attention_mask[:, :, :, : keys.shape[-2]]
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    output = torch.matmul(weights, values).transpose(1, 2).contiguous()  # [B, Tq, H, dh]

    record: AttentionRecord | None = getattr(_local, "record", None)
    if record is not None:
        layer = int(module.layer_idx)
        tq = query.shape[-2]
        record.queries[layer] = query[0].detach()
        record.keys[layer] = key[0, :, -tq:].detach()
        record.values[layer] = value[0, :, -tq:].detach()
        # Kept as float16, as the trace stores it, the moment it is made: holding every layer's
        # float32 weights until the end would double the peak memory of a long prompt.
        record.weights[layer] = weights[0].detach().to(torch.float16)
    return output, weights


AttentionInterface.register(ATTN_IMPLEMENTATION, _capturing_attention)
AttentionMaskInterface.register(ATTN_IMPLEMENTATION, eager_mask)


@contextmanager
def recording() -> Iterator[AttentionRecord]:
    """Record attention of every forward pass run inside this block, on this thread."""
    record = AttentionRecord()
    previous = getattr(_local, "record", None)
    _local.record = record
    try:
        yield record
    finally:
        _local.record = previous


@contextmanager
def attention_outputs(modules: list[nn.Module]) -> Iterator[list[torch.Tensor | None]]:
    """Collect what each attention sub-layer adds to the residual stream ([Tq, d] per layer)."""
    collected: list[torch.Tensor | None] = [None] * len(modules)

    def after(index: int):
        def hook(_module: nn.Module, _args: tuple, output) -> None:
            hidden = output[0] if isinstance(output, tuple) else output
            collected[index] = hidden[0].detach()

        return hook

    handles = [module.register_forward_hook(after(i)) for i, module in enumerate(modules)]
    try:
        yield collected
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def block_outputs(blocks: nn.ModuleList) -> Iterator[list[torch.Tensor | None]]:
    """Collect the residual stream: index 0 is the input to block 0, index i+1 the output of block i."""
    collected: list[torch.Tensor | None] = [None] * (len(blocks) + 1)

    def before_first(_module: nn.Module, args: tuple, kwargs: dict) -> None:
        hidden = args[0] if args else kwargs["hidden_states"]
        collected[0] = hidden[0].detach()

    def after(index: int):
        def hook(_module: nn.Module, _args: tuple, output) -> None:
            hidden = output[0] if isinstance(output, tuple) else output
            collected[index + 1] = hidden[0].detach()

        return hook

    handles = [blocks[0].register_forward_pre_hook(before_first, with_kwargs=True)]
    handles += [block.register_forward_hook(after(i)) for i, block in enumerate(blocks)]
    try:
        yield collected
    finally:
        for handle in handles:
            handle.remove()
