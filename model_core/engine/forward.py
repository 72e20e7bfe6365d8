"""The forward pass with everything recorded, and the unembedding.

`forward_capture` runs the body of the model once (after any cached positions) with the
attention recorder, the residual hooks, the sub-layer update hooks and, for a mixture of
experts, the router hooks on, and hands back numpy copies named as the trace's arrays
(`TRACE_ARRAYS`). Only one row is unembedded: the last position after the last block, the
distribution the panels show first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from model_core.engine.capture import RouterRecord, block_outputs, recording, router_choices, sublayer_updates
from model_core.engine.finite import check_finite
from model_core.engine.loading import LoadedModel


@dataclass
class Capture:
    """Numpy copies of what one forward pass computed for its new positions: the trace's
    per-position arrays by name (`TRACE_ARRAYS`, attention rows over every key so far), and
    the logits after the last one."""

    arrays: dict[str, np.ndarray]  # residual [L+1, Tq, d], attention [L, H, Tq, Tk], ...
    next_logits: np.ndarray  # [V]


def unembed(lm: LoadedModel, hidden: torch.Tensor) -> torch.Tensor:
    """[N, V] float32 logits of [N, d] residual vectors: the model's final norm, unembedding and
    final-logit transform (the one path from the residual stream to logits; `ModelAdapter.unembed`)."""
    return lm.adapter.unembed(hidden)


def _routers(lm: LoadedModel) -> list[tuple[int, torch.nn.Module, torch.nn.Module | None]]:
    adapter = lm.adapter
    return [(i, adapter.mlp(i).router, adapter.mlp(i).shared_expert_gate) for i in adapter.moe_layers]


def _router_arrays(lm: LoadedModel, record: RouterRecord, tq: int) -> dict[str, np.ndarray]:
    """The router arrays of TRACE_ARRAYS for `tq` new positions: [L, Tq, k], [L, Tq, E], [L, Tq, S];
    dense blocks of a MoE model get ids -1 and zeros. A dense model gets zero-size expert axes."""
    adapter = lm.adapter
    n, k, e, s = adapter.n_layers, adapter.experts_per_token, adapter.n_experts, adapter.shared_experts
    ids = np.full((n, tq, k), -1, dtype=np.int16)
    weights = np.zeros((n, tq, k), dtype=np.float32)
    probs = np.zeros((n, tq, e), dtype=np.float32)
    shared = np.zeros((n, tq, s), dtype=np.float32)
    for layer in record.logits:
        ids[layer] = record.ids[layer][-tq:].cpu().numpy()
        weights[layer] = record.weights[layer][-tq:].float().cpu().numpy()
        probs[layer] = torch.softmax(record.logits[layer][-tq:].float(), dim=-1).cpu().numpy()
        if layer in record.shared_gate:
            shared[layer] = record.shared_gate[layer][-tq:].float().cpu().numpy()
    return {"router_ids": ids, "router_weights": weights, "router_probs": probs, "shared_expert_gate": shared}


def _stack(tensors: list[torch.Tensor | None], shape: tuple[int, ...]) -> np.ndarray:
    """float32 numpy of a list of [Tq, d] tensors; NaN where a sub-layer has no separable update."""
    out = np.full(shape, np.nan, dtype=np.float32)
    for i, tensor in enumerate(tensors):
        if tensor is not None:
            out[i] = tensor.float().cpu().numpy()
    return out


def forward_capture(lm: LoadedModel, ids: list[int], past_key_values=None) -> Capture:
    """Run the body of the model on `ids` (after any cached positions), recording every stage.

    The unembedding runs on one row, the last position after the last block: the panels need
    one distribution first. A plain forward unembeds every position; the logit lens (2L+1 rows)
    follows in `with_lens`.
    """
    adapter = lm.adapter
    blocks = adapter.blocks
    n_layers = adapter.n_layers
    input_ids = torch.tensor([ids], dtype=torch.long, device=lm.device)
    updates = [adapter.attention_update(i) for i in range(n_layers)]
    with (torch.inference_mode(), recording(n_layers) as record, block_outputs(blocks) as stream,
          sublayer_updates(updates) as attn_stream, router_choices(_routers(lm)) as routed):
        adapter.base(input_ids=input_ids, past_key_values=past_key_values, use_cache=past_key_values is not None)
        residual = torch.stack([s.to(stream[0].device) for s in stream])  # [L+1, Tq, d]
        tq = residual.shape[1]
        capture = Capture(
            arrays={
                "residual": residual.float().cpu().numpy(),
                "attn_out": _stack(attn_stream, (n_layers, tq, residual.shape[-1])),
                "attention": record.stacked("weights", n_layers).cpu().numpy(),
                "queries": record.stacked("queries", n_layers).cpu().numpy(),
                "keys": record.stacked("keys", n_layers).cpu().numpy(),
                "values": record.stacked("values", n_layers).cpu().numpy(),
                **_router_arrays(lm, routed, tq),
            },
            next_logits=unembed(lm, residual[-1:, -1])[0].cpu().numpy(),
        )
    check_finite(capture.arrays, capture.next_logits, lm.info.name)
    return capture


def final_logits(lm: LoadedModel, residual: np.ndarray, position: int = -1) -> np.ndarray:
    """[V] logits for the token after `position`, from a trace's residual stream [L+1, T, d]."""
    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(residual[-1, position]))[None].to(lm.device)
        return unembed(lm, x)[0].cpu().numpy()
