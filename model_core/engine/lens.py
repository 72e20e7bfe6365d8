"""Later, heavier reads of a trace: surprisal, the logit lens anywhere, the lens grid.

These reuse the residual stream the trace already holds and only run the final
norm and the unembedding, never the blocks again. They run after the first
display of a trace, or only when the panel that needs them is visible.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from model_core.engine.forward import unembed
from model_core.engine.loading import LoadedModel
from model_core.types.model_info import POST_LN
from model_core.types.trace import Trace

LENS_TOP_K = 10

_CHUNK = 128  # positions per unembedding matmul: bounds memory at [chunk, V] floats


def _lens_logprobs(lm: LoadedModel, hidden: np.ndarray) -> torch.Tensor:
    """[N, V] log-probabilities of the final norm + unembedding applied to [N, d] residual vectors."""
    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(hidden)).to(lm.device)
        return torch.log_softmax(unembed(lm, x), dim=-1)


def surprisal_bits(lm: LoadedModel, trace: Trace) -> np.ndarray:
    """[T] how unexpected each token was to the model, in bits: -log2 p(token t | tokens < t).

    The first token has no context, so it is NaN.
    """
    final = trace.residual[-1]  # [T, d] before the final norm
    ids = torch.from_numpy(trace.tokens.ids)
    out = np.full(trace.n_tokens, np.nan, dtype=np.float32)
    for start in range(0, trace.n_tokens - 1, _CHUNK):
        stop = min(start + _CHUNK, trace.n_tokens - 1)
        logprobs = _lens_logprobs(lm, final[start:stop]).cpu()  # predicts tokens start+1 .. stop
        picked = logprobs.gather(1, ids[start + 1 : stop + 1, None])[:, 0]
        out[start + 1 : stop + 1] = (-picked / math.log(2)).numpy()
    return out


def lens_at(lm: LoadedModel, trace: Trace, position: int, k: int = LENS_TOP_K) -> tuple[np.ndarray, np.ndarray]:
    """Top-k ids [L+1, k] and probabilities [L+1, k] each layer predicts at `position`."""
    logprobs = _lens_logprobs(lm, trace.residual[:, position]).cpu().numpy()
    return top_k_rows(logprobs, k)


def lens_grid(lm: LoadedModel, trace: Trace) -> tuple[np.ndarray, np.ndarray]:
    """The top-1 token id and probability for every layer × position: ([L+1, T], [L+1, T])."""
    n_layers1, t, d = trace.residual.shape
    flat = trace.residual.reshape(-1, d)
    ids = np.empty(len(flat), dtype=np.int64)
    probs = np.empty(len(flat), dtype=np.float32)
    for start in range(0, len(flat), _CHUNK):
        logprobs = _lens_logprobs(lm, flat[start : start + _CHUNK])
        best, where = logprobs.max(dim=-1)
        ids[start : start + _CHUNK] = where.cpu().numpy()
        probs[start : start + _CHUNK] = best.exp().cpu().numpy()
    return ids.reshape(n_layers1, t), probs.reshape(n_layers1, t)


def with_lens(lm: LoadedModel, trace: Trace) -> Trace:
    """The trace plus the logit lens at its last position: what each layer, and the middle of
    each block (after attention, before the MLP), would predict if the model stopped there."""
    if trace.has_lens:
        return trace
    residual_last, attn_out_last = trace.residual[:, -1], trace.attn_out[:, -1]  # [L+1, d], [L, d]
    n_layers = attn_out_last.shape[0]
    mid = trace.block_layout != POST_LN  # post-LN blocks have no mid-block state to read
    rows = np.concatenate([residual_last, residual_last[:-1] + attn_out_last]) if mid else residual_last  # [2L+1, d]
    with torch.inference_mode():
        logprobs = torch.log_softmax(unembed(lm, torch.from_numpy(rows).to(lm.device)), dim=-1).cpu().numpy()
    lens_logprobs = logprobs[: n_layers + 1]
    lens_ids, lens_probs = top_k_rows(lens_logprobs)
    mid_ids, mid_probs = top_k_rows(logprobs[n_layers + 1 :]) if mid else (None, None)
    return replace(trace, lens_ids=lens_ids, lens_probs=lens_probs, lens_logprobs=lens_logprobs,
                   mid_lens_ids=mid_ids, mid_lens_probs=mid_probs)


def top_k_rows(logprobs: np.ndarray, k: int = LENS_TOP_K) -> tuple[np.ndarray, np.ndarray]:
    """Top-k ids and probabilities per row of a [R, V] log-probability array, most likely first."""
    k = min(k, logprobs.shape[-1])
    idx = np.argpartition(-logprobs, k - 1, axis=-1)[:, :k]
    part = np.take_along_axis(logprobs, idx, axis=-1)
    order = np.argsort(-part, axis=-1)
    ids = np.take_along_axis(idx, order, axis=-1).astype(np.int64)
    probs = np.exp(np.take_along_axis(part, order, axis=-1)).astype(np.float32)
    return ids, probs
