"""Attention capture for the families whose modules compute attention themselves: GPT-J, Falcon, BLOOM.

Their attention modules never call transformers' AttentionInterface (GPT-J and Falcon even refuse
a custom implementation name), so they are loaded with eager attention and recorded here, into
the same `AttentionRecord` as every other family (`capture.py`):

- GPT-J: `GPTJAttention._attn(query, key, value, mask)` receives the post-rotary query and keys
  (cache included) and returns the weights it used; the instance's `_attn` is wrapped.
- Falcon, BLOOM: the attention module returns the weights it used as `output[1]` (eager computes
  them even without `output_attentions`). The query/key/value of the new positions come from the
  fused `query_key_value` projection's output, split the module's own way; Falcon's rotary
  embedding is applied to them as its forward does (ALiBi layouts have none). Falcon-40B's layout
  broadcasts each key/value head to its query heads; the record keeps the real key/value heads.

The hooks stay on the model for as long as it is loaded, like the registered attention function,
and record only inside `capture.recording()`.
"""

from __future__ import annotations

import torch
from torch import nn

from model_core.engine.adapters import ModelAdapter
from model_core.engine.adapters.families import BLOOM_HOOKS, FALCON_HOOKS, GPTJ_HOOKS
from model_core.engine.capture import current_record


def install(adapter: ModelAdapter) -> None:
    """Put the recording hooks of `adapter.family.capture` on every attention module."""
    kind = adapter.family.capture
    installers = {GPTJ_HOOKS: _install_gptj, FALCON_HOOKS: _install_fused, BLOOM_HOOKS: _install_fused}
    for layer in range(adapter.n_layers):
        installers[kind](adapter.attention(layer), layer, kind)


def _install_gptj(attn: nn.Module, layer: int, _kind: str) -> None:
    original = attn._attn

    def _attn(query, key, value, attention_mask=None):  # [B, H, Tq, dh], [B, H, Tk, dh] x2
        output, weights = original(query, key, value, attention_mask)
        record = current_record()
        if record is not None:
            record.add(layer, query[0], key[0], value[0], weights[0])
        return output, weights

    attn._attn = _attn  # an instance attribute: the class and other models are untouched


def _install_fused(attn: nn.Module, layer: int, kind: str) -> None:
    pending: dict[str, object] = {}

    def before(_module: nn.Module, args: tuple, kwargs: dict) -> None:
        if current_record() is not None:
            # Falcon applies its rotary embedding only when there is no ALiBi (falcon-rw has ALiBi).
            rotary = kwargs.get("alibi") is None
            pending["position_embeddings"] = kwargs.get("position_embeddings") if rotary else None

    def after_qkv(_module: nn.Module, _args: tuple, output: torch.Tensor) -> None:
        if current_record() is not None:
            pending["fused"] = output  # [B, Tq, (H + 2·KV)·dh] in the module's own order

    def after(module: nn.Module, _args: tuple, output) -> None:
        record = current_record()
        if record is None:
            return
        fused = pending.pop("fused")
        if kind == BLOOM_HOOKS:
            query, key, value = module._reshape(fused)  # [B, H, Tq, dh] each
        else:
            query, key, value = _falcon_split(module, fused, pending.pop("position_embeddings", None))
        record.add(layer, query[0], key[0], value[0], output[1][0])

    attn.register_forward_pre_hook(before, with_kwargs=True)
    attn.query_key_value.register_forward_hook(after_qkv)
    attn.register_forward_hook(after)


def _falcon_split(attn: nn.Module, fused: torch.Tensor, position_embeddings) -> tuple[torch.Tensor, ...]:
    """Query [B, H, Tq, dh] and key/value [B, KV, Tq, dh] as FalconAttention.forward makes them."""
    from transformers.models.falcon.modeling_falcon import apply_rotary_pos_emb

    query, key, value = attn._split_heads(fused)  # [B, Tq, heads, dh]
    query, key, value = (x.transpose(1, 2) for x in (query, key, value))
    if position_embeddings is not None:  # rotary layouts; ALiBi layouts pass None
        cos, sin = position_embeddings
        query, key = apply_rotary_pos_emb(query, key, cos, sin)
    if attn.new_decoder_architecture:  # each key/value head was broadcast to its group of query heads
        group = attn.num_heads // attn.num_kv_heads
        key, value = key[:, ::group], value[:, ::group]
    return query, key, value
