"""Many variants of one prompt in few forward passes: row b of a batch gets variant b.

The ablation scan and activation patching run hundreds of single changes on the same token ids;
stacking them as rows of one batch (no padding is needed: every row is the same length) makes a
scan a few forward passes instead of hundreds. Between batches the progress object reports and
raises `Cancelled`; the hooks of a batch are removed whatever happens, so a cancelled scan leaves
the model as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import torch

from model_core.engine.loading import LoadedModel
from model_core.progress import Progress

T = TypeVar("T")
BATCH = 16  # rows per forward pass: 12 tokens of the built-in model, ~0.1 s a batch on 2 cores


def last_logits(lm: LoadedModel, ids: list[int], rows: int) -> torch.Tensor:
    """[rows, V] float32 logits after the last position, for `rows` copies of `ids` (the hooks decide
    what differs between rows). The model's own head: final norm, unembedding and logit transform."""
    input_ids = torch.tensor([ids] * rows, dtype=torch.long, device=lm.device)
    try:
        out = lm.model(input_ids=input_ids, use_cache=False, logits_to_keep=1)
    except TypeError:  # a head without logits_to_keep
        out = lm.model(input_ids=input_ids, use_cache=False)
    return out.logits[:, -1].float()


def run_batched(lm: LoadedModel, ids: list[int], variants: Sequence[T],
                place: Callable[[Sequence[T]], Callable[[], None]], measure: Callable[[torch.Tensor], np.ndarray],
                progress: Progress | None, what: str, batch: int = BATCH) -> np.ndarray:
    """measure(logits [rows, V]) for every variant, `batch` variants a forward pass.

    place(chunk) puts the hooks that give row b variant chunk[b] and returns the function that
    removes them."""
    results = []
    total = len(variants)
    with torch.inference_mode():
        for start in range(0, total, batch):
            if progress is not None:
                progress.report(f"{what}: {start:,} of {total:,}", start / max(total, 1))
            chunk = variants[start:start + batch]
            remove = place(chunk)
            try:
                logits = last_logits(lm, ids, len(chunk))
            finally:
                remove()
            results.append(measure(logits))
    if progress is not None:
        progress.report(f"{what}: done", 1.0)
    return np.concatenate(results) if results else np.zeros(0, dtype=np.float32)


def probability_of(token_id: int) -> Callable[[torch.Tensor], np.ndarray]:
    """logits [rows, V] -> [rows] the softmax probability of `token_id`."""
    def measure(logits: torch.Tensor) -> np.ndarray:
        return torch.softmax(logits, dim=-1)[:, token_id].cpu().numpy()

    return measure
