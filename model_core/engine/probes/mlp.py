"""Inside one block: what the MLP's neurons do at one position, and how much each sub-layer writes.

Every block adds two updates to the residual stream: the attention sub-layer's, then the MLP's
(both at once in parallel blocks). `probe_mlp` re-runs the model on the tokens up to the chosen
position (causal: later tokens cannot change it) with forward hooks on

- the chosen layer's MLP internals, as the adapter found them: the hidden activations that feed
  the output projection (GPT-2: GELU(c_fc x); gated MLPs: act_fn(gate_proj x) * up_proj x, with
  Phi-3's fused gate_up projection split in two), and for gated MLPs the gate and the up
  projection separately. A mixture-of-experts layer has no neurons of its own (each expert has
  its own); the probe says so in `note` and leaves the neuron fields empty;
- every layer's attention and MLP updates, read where the adapter says they are (post-norm
  outputs for Gemma 2/3 and OLMo 2, scaled for Granite, minus the residual for BLOOM), so the two
  updates per layer add up to the change of the residual stream: residual[l+1] - residual[l] =
  attn + mlp. Post-LN blocks (OPT-350m) have no such split: their updates are NaN, and `note` says why.

Hooks are registered inside a context manager, so they are always removed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from model_core.engine.adapters import Update
from model_core.engine.loading import LoadedModel
from model_core.types.probes import MlpProbe  # noqa: F401  (also imported from here; defined torch-free)

TOP_NEURONS = 20


def _activation_name(lm: LoadedModel) -> str:
    cfg = lm.model.config
    return str(getattr(cfg, "hidden_act", None) or getattr(cfg, "activation_function", None) or "?")


def _last(tensor: torch.Tensor) -> torch.Tensor:
    """The last position's row of a batch-1 [B, T, n] (or flattened [B·T, n]) tensor."""
    return tensor.reshape(-1, tensor.shape[-1])[-1].detach()


@contextmanager
def _hooks(lm: LoadedModel, layer: int) -> Iterator[dict]:
    """Record (batch 0, last position) tensors of one forward pass; hooks removed on exit."""
    adapter = lm.adapter
    seen: dict = {"attn": {}, "mlp": {}}
    handles = []

    def keep_update(kind: str, index: int, update: Update):
        def hook(_module: nn.Module, args: tuple, output) -> None:
            # a copy: Falcon adds attention's output into the MLP's output in place after this hook
            seen[kind][index] = update.read(args, output)[-1].detach().clone()

        return hook

    def keep_input(_module: nn.Module, args: tuple) -> None:
        seen["hidden"] = _last(args[0])  # [d_mlp]

    def keep(name: str):
        def hook(_module: nn.Module, _args: tuple, output: torch.Tensor) -> None:
            seen[name] = _last(output)

        return hook

    try:
        for i in range(adapter.n_layers):
            for kind, update in (("attn", adapter.attention_update(i)), ("mlp", adapter.mlp_update(i))):
                if update is not None:
                    handles.append(update.module.register_forward_hook(keep_update(kind, i, update)))
        parts = adapter.mlp(layer)
        if parts.out_proj is not None:
            handles.append(parts.out_proj.register_forward_pre_hook(keep_input))
        if parts.kind == "gated":
            handles.append(parts.gate_proj.register_forward_hook(keep("gate_pre")))
            handles.append(parts.up_proj.register_forward_hook(keep("up")))
        elif parts.kind == "gated_fused":
            handles.append(parts.gate_up_proj.register_forward_hook(keep("gate_up")))
        yield seen
    finally:
        for handle in handles:
            handle.remove()


def _updates(seen: dict, n: int, d: int) -> np.ndarray:
    """[L, d] float32 of the recorded updates; NaN rows where the model has no separable update."""
    out = np.full((n, d), np.nan, dtype=np.float32)
    for i, tensor in seen.items():
        out[i] = tensor.float().cpu().numpy()
    return out


def probe_mlp(lm: LoadedModel, ids: Sequence[int], position: int, layer: int, k: int = TOP_NEURONS) -> MlpProbe:
    """Neuron activations of `layer`'s MLP and every layer's sub-layer updates at `position` of `ids`."""
    adapter = lm.adapter
    n = adapter.n_layers
    position = int(np.clip(position, 0, len(ids) - 1))
    layer = int(np.clip(layer, 0, n - 1))
    input_ids = torch.tensor([list(ids)[: position + 1]], dtype=torch.long, device=lm.device)
    parts = adapter.mlp(layer)
    notes = [lm.info.block_layout_note] if lm.info.block_layout_note else []
    with torch.inference_mode(), _hooks(lm, layer) as seen:
        adapter.base(input_ids=input_ids, use_cache=False)
        attn = _updates(seen["attn"], n, adapter.d_model)
        mlp_out = _updates(seen["mlp"], n, adapter.d_model)
        gate = up = hidden = None
        if parts.kind == "gated":
            gate, up = parts.act(seen["gate_pre"]), seen["up"]
        elif parts.kind == "gated_fused":  # Phi-3: gate_up_proj x = [gate | up]
            gate_pre, up = seen["gate_up"].chunk(2, dim=-1)
            gate = parts.act(gate_pre)
        if "hidden" in seen:
            hidden = seen["hidden"].float().cpu().numpy()  # [d_mlp]
        gate_np = gate.float().cpu().numpy() if gate is not None else None
        up_np = up.float().cpu().numpy() if up is not None else None
    if parts.kind == "moe":
        notes.append(f"layer {layer}'s MLP is a mixture of {adapter.n_experts} experts "
                     f"({adapter.experts_per_token} per token): the neurons belong to the experts, so this "
                     "layer has no neuron view; the router's choice is in the trace")
        top = np.zeros(0, dtype=np.int64)
    else:
        k = min(k, hidden.shape[0])
        top = np.argsort(-np.abs(hidden), kind="stable")[:k].astype(np.int64)
    return MlpProbe(position=position, layer=layer, gated=parts.gated, activation_name=_activation_name(lm),
                    hidden=hidden, gate=gate_np, up=up_np, top_neurons=top,
                    attn_updates=attn, mlp_updates=mlp_out, note="; ".join(notes))
