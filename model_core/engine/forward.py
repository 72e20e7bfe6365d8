"""The forward pass with everything recorded, and the unembedding.

`forward_capture` runs the body of the model once (after any cached positions) with the
attention recorder and the residual hooks on, and hands back numpy copies named as the
trace's arrays (`TRACE_ARRAYS`). Only one row is unembedded: the last position after the
last block, the distribution the panels show first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from model_core.engine.capture import attention_outputs, block_outputs, recording
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
    """[N, V] float32 logits of the final norm + unembedding applied to [N, d] residual vectors."""
    adapter, model = lm.adapter, lm.model
    return adapter.unembedding(model)(adapter.final_norm(model)(hidden)).float()


def forward_capture(lm: LoadedModel, ids: list[int], past_key_values=None) -> Capture:
    """Run the body of the model on `ids` (after any cached positions), recording every stage.

    The unembedding runs on one row, the last position after the last block: the panels need
    one distribution first. A plain forward unembeds every position; the logit lens (2L+1 rows)
    follows in `with_lens`.
    """
    model, adapter = lm.model, lm.adapter
    blocks = adapter.blocks(model)
    input_ids = torch.tensor([ids], dtype=torch.long, device=lm.device)
    attention_modules = [adapter.attention(block) for block in blocks]
    with (torch.inference_mode(), recording() as record, block_outputs(blocks) as stream,
          attention_outputs(attention_modules) as attn_stream):
        adapter.base(model)(input_ids=input_ids, past_key_values=past_key_values,
                            use_cache=past_key_values is not None)
        residual = torch.stack(stream)  # [L+1, Tq, d]
        attn_out = torch.stack(attn_stream)  # [L, Tq, d]
        n_layers = len(blocks)
        capture = Capture(
            arrays={
                "residual": residual.float().cpu().numpy(),
                "attn_out": attn_out.float().cpu().numpy(),
                "attention": torch.stack([record.weights.pop(i) for i in range(n_layers)]).cpu().numpy(),
                "queries": torch.stack([record.queries[i] for i in range(n_layers)]).float().cpu().numpy(),
                "keys": torch.stack([record.keys[i] for i in range(n_layers)]).float().cpu().numpy(),
                "values": torch.stack([record.values[i] for i in range(n_layers)]).float().cpu().numpy(),
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
