"""Capture what attention computes, for every architecture, through one hook point.

transformers sends every attention call through `ALL_ATTENTION_FUNCTIONS` under
the model's `config._attn_implementation`. We register our own implementation,
"logitscope": the eager maths of every routed family (so the weights equal
`output_attentions`, and the model's outputs equal eager's), plus a recorder that keeps the
query, key and value each head really used (after RoPE where the model uses it, before the
key/value heads are repeated for grouped-query attention). The eager maths includes the
families' extras that arrive as keyword arguments: Gemma 2's attention-logit softcapping and
GPT-OSS's attention sinks. A sliding window needs nothing: it is in the mask, which comes from
the mask function registered beside ours (without it transformers would pass no mask at all).

The families whose modules compute attention themselves (GPT-J, Falcon, BLOOM) write into the
same record from hooks (`eager_capture.py`). Recording only happens inside `recording()`, so a
stray forward pass costs nothing and leaks nothing — the TransformerLens habit.

The other recorders here are context managers whose hooks are always removed: the residual
stream at block boundaries, what each sub-layer adds to it, and the routers' choices.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, eager_mask

from model_core.engine.adapters import Update

ATTN_IMPLEMENTATION = "logitscope"
# An attention module carrying this attribute has its scores divided by it before the softmax:
# the attention-temperature intervention (engine/interventions/hooks.py sets and deletes it).
TEMPERATURE_ATTR = "_logitscope_temperature"

_local = threading.local()


class _LayerBlock:
    """One [L, ...] tensor that layer l's piece is written into as it arrives (converted to the
    block's dtype on the way in), with a per-layer dict of views; a piece of an unexpected shape is
    kept on its own instead, and `stacked` then falls back to stacking."""

    def __init__(self, n_layers: int | None, dtype: torch.dtype) -> None:
        self.n_layers, self.dtype = n_layers, dtype
        self.block: torch.Tensor | None = None
        self.layers: dict[int, torch.Tensor] = {}
        self.whole = True  # every piece so far went into the block

    def put(self, layer: int, piece: torch.Tensor) -> None:
        if self.block is None and self.n_layers is not None and 0 <= layer < self.n_layers:
            self.block = torch.empty((self.n_layers, *piece.shape), dtype=self.dtype, device=piece.device)
        block = self.block
        if block is not None and 0 <= layer < block.shape[0] and block.shape[1:] == piece.shape:
            self.layers[layer] = block[layer].copy_(piece)
        else:
            self.layers[layer] = piece.to(self.dtype)
            self.whole = False

    def stacked(self, n_layers: int) -> torch.Tensor:
        block = self.block
        if block is not None and self.whole and block.shape[0] == n_layers and len(self.layers) == n_layers:
            return block
        return torch.stack([self.layers[i] for i in range(n_layers)])


class AttentionRecord:
    """Per layer, the new positions' tensors of one forward pass (batch 1): `queries` [H, Tq, dh],
    `keys` and `values` [KV, Tq, dh] (float32), `weights` [H, Tq, Tk] (float16), as dicts by layer.

    With `n_layers`, each kind is written into one [L, ...] block as it is made, so the trace takes
    the blocks without stacking them (at 1024 tokens of GPT-2 small the attention stack alone was
    a 288 MB copy).
    """

    def __init__(self, n_layers: int | None = None) -> None:
        # The weights become float16, as the trace stores them, the moment they are made: holding
        # every layer's float32 weights until the end would double the peak memory of a long prompt.
        self._blocks = {name: _LayerBlock(n_layers, dtype) for name, dtype in
                        (("queries", torch.float32), ("keys", torch.float32), ("values", torch.float32),
                         ("weights", torch.float16))}
        self.queries = self._blocks["queries"].layers
        self.keys = self._blocks["keys"].layers
        self.values = self._blocks["values"].layers
        self.weights = self._blocks["weights"].layers

    def add(self, layer: int, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
            weights: torch.Tensor) -> None:
        """query [H, Tq, dh], key/value [KV, Tk, dh] (cache included: the last Tq are new), weights [H, Tq, Tk]."""
        tq = query.shape[-2]
        for name, piece in (("queries", query), ("keys", key[:, -tq:]), ("values", value[:, -tq:]),
                            ("weights", weights)):
            self._blocks[name].put(layer, piece.detach())

    def stacked(self, name: str, n_layers: int) -> torch.Tensor:
        """[L, ...] the recorded `name` ("queries", "keys", "values", "weights") of layers 0..L-1 as one tensor."""
        return self._blocks[name].stacked(n_layers)


def current_record() -> AttentionRecord | None:
    """The record of the `recording()` block running on this thread, if any."""
    return getattr(_local, "record", None)


def attention_weights(
    query: torch.Tensor,  # [B, H, Tq, dh]
    keys: torch.Tensor,  # [B, H, Tk, dh] (already repeated to H heads)
    attention_mask: torch.Tensor | None,  # [B, 1, Tq, ≥Tk] additive
    scaling: float,
    softcap: float | None = None,
    sinks: torch.Tensor | None = None,  # [H] one extra logit per head
) -> torch.Tensor:
    """[B, H, Tq, Tk] eager attention weights, with the extras the families' own eager code applies:
    softcap tanh(s/c)·c after scaling and before the mask (Gemma 2); a sink column joined to the
    softmax and dropped after it, so a row sums to less than 1 (GPT-OSS)."""
    # Scaling and the mask are applied in place: the same numbers as the families' `(q @ k) * s + mask`,
    # without two more [B, H, Tq, Tk] tensors per layer (at 1024 tokens their allocation alone costs
    # more than the arithmetic). Autograd allows it: neither matmul's nor mul's backward reads this output.
    scores = torch.matmul(query, keys.transpose(-1, -2)).mul_(scaling)
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    if attention_mask is not None:
        scores.add_(attention_mask[:, :, :, : keys.shape[-2]])
    if sinks is not None:
        sink = sinks.reshape(1, -1, 1, 1).expand(scores.shape[0], -1, scores.shape[-2], 1).to(scores.dtype)
        combined = torch.cat([scores, sink], dim=-1)
        combined = combined - combined.max(dim=-1, keepdim=True).values
        return torch.softmax(combined, dim=-1, dtype=combined.dtype)[..., :-1].to(query.dtype)
    return torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)


def _capturing_attention(
    module: nn.Module,
    query: torch.Tensor,  # [B, H, Tq, dh]
    key: torch.Tensor,  # [B, KV, Tk, dh]  (cache included)
    value: torch.Tensor,  # [B, KV, Tk, dh]
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    softcap: float | None = None,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eager attention (softmax in float32, as the families' eager code does) that also records its inputs.
    Other keyword arguments (position_ids, sliding_window, output flags) are informational."""
    n_rep = query.shape[1] // key.shape[1]
    keys = key.repeat_interleave(n_rep, dim=1) if n_rep > 1 else key
    values = value.repeat_interleave(n_rep, dim=1) if n_rep > 1 else value
    if scaling is None:
        scaling = query.shape[-1] ** -0.5
    temperature = getattr(module, TEMPERATURE_ATTR, None)
    if temperature is not None:
        scaling = scaling / temperature
    sinks = kwargs.get("s_aux", kwargs.get("sinks"))
    weights = attention_weights(query, keys, attention_mask, scaling, softcap, sinks)
    output = torch.matmul(weights, values).transpose(1, 2).contiguous()  # [B, Tq, H, dh]

    record = current_record()
    if record is not None:
        record.add(int(module.layer_idx), query[0], key[0], value[0], weights[0])
    return output, weights


AttentionInterface.register(ATTN_IMPLEMENTATION, _capturing_attention)
AttentionMaskInterface.register(ATTN_IMPLEMENTATION, eager_mask)


@contextmanager
def recording(n_layers: int | None = None) -> Iterator[AttentionRecord]:
    """Record attention of every forward pass run inside this block, on this thread (one forward
    pass of an `n_layers` model, when given: its weights then go straight into one block)."""
    record = AttentionRecord(n_layers)
    previous = current_record()
    _local.record = record
    try:
        yield record
    finally:
        _local.record = previous


@contextmanager
def _hooked(handles: list) -> Iterator[None]:
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def sublayer_updates(updates: Sequence[Update | None]) -> Iterator[list[torch.Tensor | None]]:
    """Collect what each sub-layer adds to the residual stream ([Tq, d] per entry; None where the
    model has no separable update). Copies: Falcon adds attention's output into the MLP's in place."""
    collected: list[torch.Tensor | None] = [None] * len(updates)

    def after(index: int, update: Update):
        def hook(_module: nn.Module, args: tuple, output) -> None:
            collected[index] = update.read(args, output).detach().clone()

        return hook

    handles = [u.module.register_forward_hook(after(i, u)) for i, u in enumerate(updates) if u is not None]
    with _hooked(handles):
        yield collected


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
    with _hooked(handles):
        yield collected


@dataclass
class RouterRecord:
    """Per MoE layer, what its router chose for the new positions of one forward pass (batch 1)."""

    logits: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [Tq, E] raw router logits
    weights: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [Tq, k] gate weights used
    ids: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [Tq, k] chosen experts
    shared_gate: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [Tq, S] shared experts' gates


@contextmanager
def router_choices(routers: Sequence[tuple[int, nn.Module, nn.Module | None]]) -> Iterator[RouterRecord]:
    """Record each router's (logits, gate weights, expert ids), as the model's experts receive them,
    and the shared experts' sigmoid gates; `routers` holds (layer, router, shared_expert_gate or None)."""
    record = RouterRecord()

    def after_router(layer: int):
        def hook(_module: nn.Module, _args: tuple, output) -> None:
            logits, weights, ids = output
            record.logits[layer] = logits.detach().reshape(-1, logits.shape[-1])
            record.weights[layer] = weights.detach().reshape(-1, weights.shape[-1])
            record.ids[layer] = ids.detach().reshape(-1, ids.shape[-1])

        return hook

    def after_shared_gate(layer: int):
        def hook(_module: nn.Module, _args: tuple, output: torch.Tensor) -> None:
            record.shared_gate[layer] = torch.sigmoid(output.detach().reshape(-1, output.shape[-1]))

        return hook

    handles = []
    for layer, router, shared_gate in routers:
        handles.append(router.register_forward_hook(after_router(layer)))
        if shared_gate is not None:
            handles.append(shared_gate.register_forward_hook(after_shared_gate(layer)))
    with _hooked(handles):
        yield record
