"""Interventions as forward hooks on a loaded model, placed through its adapter and removed exactly.

Every intervention is put where the adapter says that part of the model is, so one code path
serves every family:

- a head: a pre-hook on the attention output projection (`adapter.attention_out_proj`) rewrites
  that head's slice [h·dh, (h+1)·dh) of its input — the head's output before it is mixed back into
  the residual stream (TransformerLens' `hook_z`);
- an attention sub-layer or an MLP: a forward hook on the module the adapter reads its update from
  (`attention_update` / `mlp_update`) replaces the update (BLOOM's modules add the residual
  themselves: the residual is kept, the update replaced);
- a block: its output becomes its input (plus the mean update for mean-ablation);
- attention temperature: an attribute on the attention module that the one attention function
  (`capture.py`) divides the scores by, so the weights the heatmap shows are the ones used;
- steering: a pre-hook on block `layer` adds strength · vector to the stream entering it.

Mean-ablation replaces a part by its mean over the positions of the pass that starts at
position 0 (the prompt, or the whole sequence when re-traced); a cached generation step uses the
mean the prompt's pass left. Each entry can be limited to one row of a batch, which is how the
ablation scan runs many single ablations in one forward pass (`scan.py`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from model_core.engine.capture import TEMPERATURE_ATTR
from model_core.engine.loading import LoadedModel
from model_core.types.interventions import (
    ATTENTION,
    BLOCK,
    HEAD,
    MEAN,
    MLP,
    Ablation,
    AttentionTemperature,
    Intervention,
    InterventionError,
    Steering,
    validate,
)

_MISSING = object()
Row = int | None  # the batch row an entry applies to; None: every row


@dataclass
class HookSet:
    """The hooks and attributes one set of interventions placed; `remove()` leaves the model as it was."""

    handles: list = field(default_factory=list)
    attributes: list[tuple[nn.Module, str, object]] = field(default_factory=list)  # (module, name, previous)
    fresh: bool = True  # the running pass starts at position 0: means are taken from it
    means: dict[tuple, torch.Tensor] = field(default_factory=dict)
    needs_full_pass: bool = False  # a mean-ablation is in it: a prompt must run from position 0
    active: bool = True  # False while suspended (the model as trained, for "before → after"); means are kept

    def set_attribute(self, module: nn.Module, name: str, value: object) -> None:
        self.attributes.append((module, name, getattr(module, name, _MISSING)))
        setattr(module, name, value)

    def suspend(self) -> list[tuple[nn.Module, str, object]]:
        """Make the hooks pass everything through and put the attributes back (see `resume`)."""
        self.active = False
        now = [(module, name, getattr(module, name)) for module, name, _ in self.attributes]
        for module, name, previous in reversed(self.attributes):
            if previous is _MISSING:
                delattr(module, name)
            else:
                setattr(module, name, previous)
        return now

    def resume(self, values: list[tuple[nn.Module, str, object]]) -> None:
        for module, name, value in values:
            setattr(module, name, value)
        self.active = True

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        for module, name, previous in reversed(self.attributes):
            if previous is _MISSING:
                delattr(module, name)
            else:
                setattr(module, name, previous)
        self.handles, self.attributes, self.means = [], [], {}


def check(lm: LoadedModel, items: Iterable[Intervention]) -> None:
    """InterventionError when this model cannot take one of `items` (before any hook is placed)."""
    adapter = lm.adapter
    items = list(items)
    validate(items, adapter.n_layers, adapter.n_heads, adapter.d_model)
    for item in items:
        if isinstance(item, AttentionTemperature) and adapter.family.eager:
            raise InterventionError(
                f"Attention temperature needs the shared attention function, which {lm.info.architecture} "
                "models compute inside their own modules.")
        if isinstance(item, Ablation):
            if item.kind == HEAD and adapter.attention_out_proj(item.layer) is None:
                raise InterventionError(f"{lm.info.architecture} attention has no output projection to ablate a head at.")
            if item.kind == ATTENTION and adapter.attention_update(item.layer) is None:
                raise InterventionError("This model normalises after each residual add: attention's update "
                                        "cannot be separated to ablate it (ablate the block instead).")
            if item.kind == MLP and adapter.mlp_update(item.layer) is None:
                raise InterventionError("This model normalises after each residual add: the MLP's update "
                                        "cannot be separated to ablate it (ablate the block instead).")


def _rows(x: torch.Tensor, row: Row) -> slice:
    return slice(None) if row is None else slice(row, row + 1)


def _mean_over_positions(x: torch.Tensor) -> torch.Tensor:
    """[B, 1, ...] mean over the position axis of [B, T, ...]."""
    return x.mean(dim=1, keepdim=True)


def _stored_mean(hooks: HookSet, key: tuple, current: torch.Tensor) -> torch.Tensor:
    if hooks.fresh or key not in hooks.means:
        hooks.means[key] = _mean_over_positions(current)
    return hooks.means[key]


def install(lm: LoadedModel, entries: Iterable[tuple[Row, Intervention]], hooks: HookSet | None = None) -> HookSet:
    """Place the hooks for (row, intervention) entries; the caller has `check`ed them. -> the HookSet."""
    hooks = hooks or HookSet()
    adapter = lm.adapter
    heads: dict[int, list[tuple[Row, Ablation]]] = defaultdict(list)
    try:
        for row, item in entries:
            if isinstance(item, AttentionTemperature):
                layers = range(adapter.n_layers) if item.layer is None else [item.layer]
                for layer in layers:
                    module = adapter.attention(layer)
                    previous = getattr(module, TEMPERATURE_ATTR, None)
                    hooks.set_attribute(module, TEMPERATURE_ATTR, item.temperature * (previous or 1.0))
            elif isinstance(item, Steering):
                _steer(lm, hooks, row, item)
            elif item.kind == HEAD:
                heads[item.layer].append((row, item))
            elif item.kind == BLOCK:
                _ablate_block(lm, hooks, row, item)
            else:
                _ablate_update(lm, hooks, row, item)
            if isinstance(item, Ablation) and item.mode == MEAN:
                hooks.needs_full_pass = True
        for layer, ablations in heads.items():
            _ablate_heads(lm, hooks, layer, ablations)
        hooks.handles.append(adapter.base.register_forward_pre_hook(_freshness(hooks), with_kwargs=True))
    except Exception:
        hooks.remove()
        raise
    return hooks


def _freshness(hooks: HookSet):
    def pre(_module: nn.Module, _args: tuple, kwargs: dict) -> None:
        cache = kwargs.get("past_key_values")
        hooks.fresh = cache is None or cache.get_seq_length() == 0

    return pre


def _ablate_heads(lm: LoadedModel, hooks: HookSet, layer: int, ablations: list[tuple[Row, Ablation]]) -> None:
    d_head = lm.adapter.d_head

    def pre(_module: nn.Module, args: tuple):
        if not hooks.active:
            return None
        x = args[0]
        out = x.clone()
        for row, ablation in ablations:
            rows, cols = _rows(x, row), slice(ablation.head * d_head, (ablation.head + 1) * d_head)
            if ablation.mode == MEAN:
                out[rows, ..., cols] = _stored_mean(hooks, ("head", row, layer, ablation.head), x[rows, ..., cols])
            else:
                out[rows, ..., cols] = 0
        return (out, *args[1:])

    hooks.handles.append(lm.adapter.attention_out_proj(layer).register_forward_pre_hook(pre))


def _ablate_update(lm: LoadedModel, hooks: HookSet, row: Row, ablation: Ablation) -> None:
    """Replace what attention or the MLP of one block adds to the residual stream."""
    adapter = lm.adapter
    update = adapter.attention_update(ablation.layer) if ablation.kind == ATTENTION else adapter.mlp_update(ablation.layer)
    key = (ablation.kind, row, ablation.layer)

    def post(_module: nn.Module, args: tuple, output):
        if not hooks.active:
            return None
        hidden = output[0] if isinstance(output, tuple) else output
        rows = _rows(hidden, row)
        residual = args[1] if update.minus_residual else None
        new = hidden.clone()
        if ablation.mode == MEAN:
            part = hidden[rows] - residual[rows] if residual is not None else hidden[rows]
            mean = _stored_mean(hooks, key, part)
            new[rows] = (residual[rows] + mean) if residual is not None else mean.expand_as(part)
        else:
            new[rows] = residual[rows] if residual is not None else 0
        return (new, *output[1:]) if isinstance(output, tuple) else new

    hooks.handles.append(update.module.register_forward_hook(post))


def _block_input(args: tuple, kwargs: dict) -> torch.Tensor:
    return args[0] if args else kwargs["hidden_states"]


def _ablate_block(lm: LoadedModel, hooks: HookSet, row: Row, ablation: Ablation) -> None:
    """The block hands its input on unchanged (zero), or its input plus its mean update (mean)."""
    block = lm.adapter.blocks[ablation.layer]
    inputs: list[torch.Tensor] = []
    key = ("block", row, ablation.layer)

    def pre(_module: nn.Module, args: tuple, kwargs: dict) -> None:
        inputs[:] = [_block_input(args, kwargs)]

    def post(_module: nn.Module, _args: tuple, output):
        if not hooks.active:
            return None
        hidden = output[0] if isinstance(output, tuple) else output
        x = inputs.pop()
        rows = _rows(hidden, row)
        new = hidden.clone()
        if ablation.mode == MEAN:
            new[rows] = x[rows] + _stored_mean(hooks, key, hidden[rows] - x[rows])
        else:
            new[rows] = x[rows]
        return (new, *output[1:]) if isinstance(output, tuple) else new

    hooks.handles.append(block.register_forward_pre_hook(pre, with_kwargs=True))
    hooks.handles.append(block.register_forward_hook(post))


def _steer(lm: LoadedModel, hooks: HookSet, row: Row, steering: Steering) -> None:
    block = lm.adapter.blocks[steering.layer]
    added = torch.tensor(steering.vector, dtype=torch.float32) * float(steering.strength)

    def pre(_module: nn.Module, args: tuple, kwargs: dict):
        if not hooks.active:
            return None
        x = _block_input(args, kwargs)
        new = x.clone()
        new[_rows(x, row)] += added.to(device=x.device, dtype=x.dtype)
        if args:
            return (new, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": new}

    hooks.handles.append(block.register_forward_pre_hook(pre, with_kwargs=True))
