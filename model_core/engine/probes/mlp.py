"""Inside one block: what the MLP's neurons do at one position, and how much each sub-layer writes.

Every block adds two updates to the residual stream: the attention sub-layer's output,
then the MLP's. `probe_mlp` re-runs the model on the tokens up to the chosen position
(causal: later tokens cannot change it) with forward hooks on

- the chosen layer's MLP internals: the hidden activations that feed the output
  projection (GPT-2: GELU(c_fc x); gated MLPs: act_fn(gate_proj x) * up_proj x), and
  for gated MLPs the gate and the up projection separately;
- every layer's attention and MLP module outputs, so the two updates per layer add up
  to the change of the residual stream: residual[l+1] - residual[l] = attn + mlp.

Hooks are registered inside a context manager, so they are always removed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from model_core.engine.loading import LoadedModel

TOP_NEURONS = 20


@dataclass(frozen=True)
class MlpProbe:
    """One layer's MLP neurons and every layer's sub-layer updates at one position (plain numpy)."""

    position: int
    layer: int
    gated: bool  # True for gate/up/down MLPs (Llama-style), False for GPT-2's fc -> act -> proj
    activation_name: str  # e.g. "gelu_new" or "silu"
    hidden: np.ndarray  # [d_mlp] float32: the input of the output projection (GPT-2: act(c_fc x); gated: gate*up)
    gate: np.ndarray | None  # [d_mlp] act_fn(gate_proj x), gated MLPs only
    up: np.ndarray | None  # [d_mlp] up_proj x, gated MLPs only
    top_neurons: np.ndarray  # [k] int64 neuron indices, largest |hidden| first
    attn_updates: np.ndarray  # [L, d] float32: what each attention sub-layer added at this position
    mlp_updates: np.ndarray  # [L, d] float32: what each MLP added at this position

    @property
    def attn_norms(self) -> np.ndarray:
        """[L] ‖attention update‖ per layer."""
        return np.linalg.norm(self.attn_updates, axis=-1)

    @property
    def mlp_norms(self) -> np.ndarray:
        """[L] ‖MLP update‖ per layer."""
        return np.linalg.norm(self.mlp_updates, axis=-1)


def attention_module(block: nn.Module) -> nn.Module:
    """The attention sub-layer of a block (GPT-2: `attn`, Llama-style: `self_attn`)."""
    for name in ("self_attn", "attn", "attention"):
        module = getattr(block, name, None)
        if isinstance(module, nn.Module):
            return module
    raise AttributeError(f"{type(block).__name__} has no attention sub-layer this probe knows")


def is_gated(mlp: nn.Module) -> bool:
    return all(isinstance(getattr(mlp, n, None), nn.Module) for n in ("gate_proj", "up_proj", "down_proj"))


def output_projection(mlp: nn.Module) -> nn.Module:
    """The MLP's last linear map (its input is the neuron activations)."""
    for name in ("down_proj", "c_proj", "fc_out", "dense_4h_to_h"):
        module = getattr(mlp, name, None)
        if isinstance(module, nn.Module):
            return module
    raise AttributeError(f"{type(mlp).__name__} has no output projection this probe knows")


def _activation_name(lm: LoadedModel) -> str:
    cfg = lm.model.config
    return str(getattr(cfg, "hidden_act", None) or getattr(cfg, "activation_function", None) or "?")


@contextmanager
def _hooks(blocks: Sequence[nn.Module], layer: int) -> Iterator[dict]:
    """Record (batch 0, last position) tensors of one forward pass; hooks removed on exit."""
    seen: dict = {"attn": {}, "mlp": {}}
    handles = []

    def keep_output(kind: str, index: int):
        def hook(_module: nn.Module, _args: tuple, output) -> None:
            out = output[0] if isinstance(output, tuple) else output  # [B, T, d]
            seen[kind][index] = out[0, -1].detach()

        return hook

    def keep_input(_module: nn.Module, args: tuple) -> None:
        seen["hidden"] = args[0][0, -1].detach()  # [d_mlp]

    def keep(name: str):
        def hook(_module: nn.Module, _args: tuple, output: torch.Tensor) -> None:
            seen[name] = output[0, -1].detach()

        return hook

    try:
        for i, block in enumerate(blocks):
            handles.append(attention_module(block).register_forward_hook(keep_output("attn", i)))
            handles.append(block.mlp.register_forward_hook(keep_output("mlp", i)))
        mlp = blocks[layer].mlp
        handles.append(output_projection(mlp).register_forward_pre_hook(keep_input))
        if is_gated(mlp):
            handles.append(mlp.gate_proj.register_forward_hook(keep("gate_pre")))
            handles.append(mlp.up_proj.register_forward_hook(keep("up")))
        yield seen
    finally:
        for handle in handles:
            handle.remove()


def probe_mlp(lm: LoadedModel, ids: Sequence[int], position: int, layer: int, k: int = TOP_NEURONS) -> MlpProbe:
    """Neuron activations of `layer`'s MLP and every layer's sub-layer updates at `position` of `ids`."""
    model, adapter = lm.model, lm.adapter
    blocks = adapter.blocks(model)
    position = int(np.clip(position, 0, len(ids) - 1))
    layer = int(np.clip(layer, 0, len(blocks) - 1))
    input_ids = torch.tensor([list(ids)[: position + 1]], dtype=torch.long, device=lm.device)
    mlp = blocks[layer].mlp
    gated = is_gated(mlp)
    with torch.inference_mode(), _hooks(blocks, layer) as seen:
        adapter.base(model)(input_ids=input_ids, use_cache=False)
        gate = mlp.act_fn(seen["gate_pre"]) if gated else None  # [d_mlp]
        n = len(blocks)
        attn = torch.stack([seen["attn"][i] for i in range(n)]).float().cpu().numpy()  # [L, d]
        mlp_out = torch.stack([seen["mlp"][i] for i in range(n)]).float().cpu().numpy()  # [L, d]
        hidden = seen["hidden"].float().cpu().numpy()  # [d_mlp]
        gate_np = gate.float().cpu().numpy() if gate is not None else None
        up_np = seen["up"].float().cpu().numpy() if gated else None
    k = min(k, hidden.shape[0])
    top = np.argsort(-np.abs(hidden), kind="stable")[:k].astype(np.int64)
    return MlpProbe(position=position, layer=layer, gated=gated, activation_name=_activation_name(lm),
                    hidden=hidden, gate=gate_np, up=up_np, top_neurons=top,
                    attn_updates=attn, mlp_updates=mlp_out)
