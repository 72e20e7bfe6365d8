"""The ablation scan: how much the target token's probability drops when each head, each attention
sub-layer and each MLP is ablated on its own.

Every single ablation is one row of a batched forward pass (`batched.py`), through the same hooks
the Interventions list uses (`hooks.py`), so a number in the scan is the number that ablation gives
when applied alone (tests/model_core/test_ablation_scan.py). Whatever is in effect already
(the Interventions list) stays in effect underneath: the scan measures the model as shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from model_core.engine.interventions.batched import BATCH, last_logits, probability_of, run_batched
from model_core.engine.interventions.hooks import check, install
from model_core.engine.loading import LoadedModel
from model_core.progress import Progress
from model_core.types.interventions import ABLATION_MODES, ATTENTION, HEAD, MLP, Ablation, InterventionError


@dataclass(frozen=True)
class AblationScan:
    """The target's probability with nothing more ablated and with each part ablated alone."""

    target_id: int
    mode: str
    base_prob: float
    heads: np.ndarray  # [L, H] target probability with head (l, h) ablated
    attention: np.ndarray  # [L] with layer l's attention ablated
    mlp: np.ndarray  # [L] with layer l's MLP ablated

    @property
    def head_drop(self) -> np.ndarray:
        """[L, H] how much each head's ablation lowers the target's probability (negative: raises it)."""
        return self.base_prob - self.heads

    @property
    def attention_drop(self) -> np.ndarray:
        return self.base_prob - self.attention

    @property
    def mlp_drop(self) -> np.ndarray:
        return self.base_prob - self.mlp

    def top_heads(self, n: int = 5) -> list[tuple[int, int, float]]:
        """The n heads whose ablation costs the target most: (layer, head, drop), biggest first."""
        drop = self.head_drop
        order = np.argsort(drop, axis=None)[::-1][:n]
        return [(int(i // drop.shape[1]), int(i % drop.shape[1]), float(drop.flat[i])) for i in order]


def ablation_scan(lm: LoadedModel, ids: list[int], target_id: int | None = None, mode: str = "zero",
                  progress: Progress | None = None, batch: int = BATCH) -> AblationScan:
    """Ablate every head, attention sub-layer and MLP alone on `ids`; the target is the top prediction
    unless given. Cancel (through `progress`) raises Cancelled between batches, leaving no hook behind."""
    if mode not in ABLATION_MODES:
        raise InterventionError(f"Unknown ablation mode '{mode}': choose zero or mean.")
    adapter = lm.adapter
    n_layers, n_heads = adapter.n_layers, adapter.n_heads
    with torch.inference_mode():
        base = torch.softmax(last_logits(lm, ids, 1), dim=-1)[0]
    if target_id is None:
        target_id = int(base.argmax())
    if not 0 <= target_id < base.shape[0]:
        raise InterventionError(f"Token id {target_id} is not in the vocabulary (0–{base.shape[0] - 1}).")
    variants = [Ablation(HEAD, layer, head, mode) for layer in range(n_layers) for head in range(n_heads)]
    variants += [Ablation(kind, layer, None, mode) for kind in (ATTENTION, MLP) for layer in range(n_layers)
                 if (adapter.attention_update(layer) if kind == ATTENTION else adapter.mlp_update(layer)) is not None]
    check(lm, variants)

    def place(chunk: Sequence[Ablation]):
        return install(lm, list(enumerate(chunk))).remove

    probs = run_batched(lm, ids, variants, place, probability_of(target_id), progress, "Ablation scan", batch)
    found = dict(zip(((v.kind, v.layer, v.head) for v in variants), probs.tolist(), strict=True))
    nan = float("nan")
    return AblationScan(
        target_id=target_id,
        mode=mode,
        base_prob=float(base[target_id]),
        heads=np.array([[found[(HEAD, l_, h)] for h in range(n_heads)] for l_ in range(n_layers)], dtype=np.float32),
        attention=np.array([found.get((ATTENTION, l_, None), nan) for l_ in range(n_layers)], dtype=np.float32),
        mlp=np.array([found.get((MLP, l_, None), nan) for l_ in range(n_layers)], dtype=np.float32),
    )
