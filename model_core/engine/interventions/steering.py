"""Steering directions: the difference of the residual stream of two prompts at one layer.

Activation addition (Turner et al.): the stream entering block `layer` at the last position of
"Love" minus that of "Hate" is a direction; adding it, scaled, at every position of another prompt
pushes generation towards the first. Two single tokens are two one-token prompts. The direction is
measured on the model as it is now (with the interventions in effect).
"""

from __future__ import annotations

import numpy as np
import torch

from model_core.engine.capture import block_outputs
from model_core.engine.loading import LoadedModel
from model_core.engine.tracing import encode
from model_core.types.interventions import InterventionError, Steering


def stream_at(lm: LoadedModel, text: str, layer: int) -> np.ndarray:
    """[d] the residual stream entering block `layer` at the last position of `text`."""
    with torch.inference_mode(), block_outputs(lm.adapter.blocks) as stream:
        lm.adapter.base(input_ids=torch.tensor([encode(lm, text)], device=lm.device), use_cache=False)
        return stream[layer][-1].float().cpu().numpy()


def steering_from_prompts(lm: LoadedModel, towards: str, away: str, layer: int, strength: float = 1.0) -> Steering:
    """The Steering that adds strength · (stream(towards) − stream(away)) at `layer`."""
    if not 0 <= layer < lm.adapter.n_layers:
        raise InterventionError(
            f"The steering layer {layer} does not exist: the model has layers 0–{lm.adapter.n_layers - 1}.")
    vector = stream_at(lm, towards, layer) - stream_at(lm, away, layer)
    return Steering(layer, tuple(float(v) for v in vector), float(strength), f"{towards!r} − {away!r}")
