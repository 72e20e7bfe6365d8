"""Activation patching: which states carry the clean answer from the clean prompt into the corrupted one.

Run the clean prompt ("The capital of France is") and keep its residual stream and every head's
output; then run the corrupted prompt ("The capital of Italy is") many times, each time copying one
clean state into it: the residual stream at one (layer, position), or one head's output at every
position. How much of the clean answer's probability comes back says where the information lives
(Meng et al.'s causal tracing; TransformerLens' `patching`). The prompts must have the same token
count so that positions line up; `token_difference` says where they differ, or why they do not line up.

Residual index r is the stream entering block r (r < L) or leaving the last block (r = L), as in the
trace's `residual`; a head's output is its slice of the input to the attention output projection.
Patching r = L at the last position hands the corrupted run the clean final state, so it gives the
clean answer exactly — a test holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from model_core.engine.capture import block_outputs
from model_core.engine.interventions.batched import BATCH, last_logits, probability_of, run_batched
from model_core.engine.loading import LoadedModel
from model_core.errors import PromptError
from model_core.progress import Progress

RESIDUAL, HEAD_OUT = "residual", "head"


@dataclass(frozen=True)
class TokenDifference:
    """Where two tokenised prompts differ, and the sentence that says it."""

    same_length: bool
    positions: tuple[int, ...]  # positions whose ids differ (over the shorter length)
    message: str


def token_difference(lm: LoadedModel, clean: list[int], corrupt: list[int]) -> TokenDifference:
    """Compare two token sequences for patching; the message helps make a corrupted prompt that lines up."""
    def label(i: int) -> str:
        return repr(lm.tokenizer.decode([i]))

    n = min(len(clean), len(corrupt))
    positions = tuple(p for p in range(n) if clean[p] != corrupt[p])
    if len(clean) != len(corrupt):
        message = (f"The clean prompt has {len(clean)} tokens and the corrupted one {len(corrupt)}: patching needs the "
                   "same count so positions line up. Replace one word by a word of as many tokens "
                   "(e.g. ' France' → ' Italy').")
        return TokenDifference(False, positions, message)
    if not positions:
        return TokenDifference(True, (), "The two prompts are the same tokens: change one word in the corrupted one.")
    changes = ", ".join(f"{label(clean[p])} → {label(corrupt[p])} at {p}" for p in positions[:4])
    return TokenDifference(True, positions, f"{len(positions)} token(s) differ: {changes}.")


@dataclass(frozen=True)
class PatchingResult:
    """How much of the clean answer each patch restores in the corrupted run."""

    clean_ids: tuple[int, ...]
    corrupt_ids: tuple[int, ...]
    answer_id: int  # the clean prompt's answer (its top prediction unless given)
    clean_prob: float  # its probability after the clean prompt
    corrupt_prob: float  # and after the corrupted one
    residual: np.ndarray  # [L+1, T] its probability with the residual at (r, position) patched
    heads: np.ndarray  # [L, H] with head (l, h)'s output patched at every position

    def restored(self, probs: np.ndarray) -> np.ndarray:
        """(p − p_corrupt) / (p_clean − p_corrupt): 0 = no better than corrupted, 1 = the clean answer back."""
        span = self.clean_prob - self.corrupt_prob
        if abs(span) < 1e-9:
            return np.zeros_like(probs)
        return (probs - self.corrupt_prob) / span

    @property
    def residual_restored(self) -> np.ndarray:
        return self.restored(self.residual)

    @property
    def heads_restored(self) -> np.ndarray:
        return self.restored(self.heads)


def _clean_states(lm: LoadedModel, ids: list[int]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The clean run's residual stream ([T, d] for r = 0..L) and heads' outputs ([T, H·dh] per layer)."""
    adapter = lm.adapter
    z: list[torch.Tensor | None] = [None] * adapter.n_layers
    handles = []
    for layer in range(adapter.n_layers):
        def keep(_module, args, layer=layer):
            z[layer] = args[0][0].detach().clone()

        handles.append(adapter.attention_out_proj(layer).register_forward_pre_hook(keep))
    try:
        with torch.inference_mode(), block_outputs(adapter.blocks) as stream:
            adapter.base(input_ids=torch.tensor([ids], device=lm.device), use_cache=False)
            residual = [s.clone() for s in stream]
    finally:
        for handle in handles:
            handle.remove()
    return residual, z


def _place_patches(lm: LoadedModel, residual: list[torch.Tensor], z: list[torch.Tensor],
                   chunk: Sequence[tuple[str, int, int]]):
    """Hooks giving row b of the batch the clean state named by chunk[b]; returns their remover."""
    adapter = lm.adapter
    d_head = adapter.d_head
    by_block: dict[int, list[tuple[int, int]]] = {}
    by_head: dict[int, list[tuple[int, int]]] = {}
    for row, (kind, index, where) in enumerate(chunk):
        (by_block if kind == RESIDUAL else by_head).setdefault(index, []).append((row, where))
    handles = []

    def set_rows(hidden: torch.Tensor, r: int, rows: list[tuple[int, int]]) -> torch.Tensor:
        new = hidden.clone()
        for row, position in rows:
            new[row, position] = residual[r][position].to(new.dtype)
        return new

    for r, rows in by_block.items():
        if r == 0:
            def pre(_module, args, kwargs, rows=rows):
                if args:
                    return (set_rows(args[0], 0, rows), *args[1:]), kwargs
                return args, {**kwargs, "hidden_states": set_rows(kwargs["hidden_states"], 0, rows)}

            handles.append(adapter.blocks[0].register_forward_pre_hook(pre, with_kwargs=True))
        else:
            def post(_module, _args, output, r=r, rows=rows):
                if isinstance(output, tuple):
                    return (set_rows(output[0], r, rows), *output[1:])
                return set_rows(output, r, rows)

            handles.append(adapter.blocks[r - 1].register_forward_hook(post))
    for layer, rows in by_head.items():
        def pre_z(_module, args, layer=layer, rows=rows):
            x = args[0].clone()
            for row, head in rows:
                cols = slice(head * d_head, (head + 1) * d_head)
                x[row, :, cols] = z[layer][:, cols].to(x.dtype)
            return (x, *args[1:])

        handles.append(adapter.attention_out_proj(layer).register_forward_pre_hook(pre_z))

    def remove() -> None:
        for handle in handles:
            handle.remove()

    return remove


def activation_patching(lm: LoadedModel, clean: list[int], corrupt: list[int], answer_id: int | None = None,
                        heads: bool = True, progress: Progress | None = None, batch: int = BATCH) -> PatchingResult:
    """Patch every (residual index, position) and (if `heads`) every head's output from the clean run into the
    corrupted one. PromptError when the token counts differ; Cancelled between batches."""
    difference = token_difference(lm, clean, corrupt)
    if not difference.same_length:
        raise PromptError(difference.message)
    adapter = lm.adapter
    n_layers, n_heads, n = adapter.n_layers, adapter.n_heads, len(clean)
    with torch.inference_mode():
        clean_probs = torch.softmax(last_logits(lm, clean, 1), dim=-1)[0]
        corrupt_probs = torch.softmax(last_logits(lm, corrupt, 1), dim=-1)[0]
    if answer_id is None:
        answer_id = int(clean_probs.argmax())
    residual, z = _clean_states(lm, clean)
    variants = [(RESIDUAL, r, p) for r in range(n_layers + 1) for p in range(n)]
    if heads and all(adapter.attention_out_proj(layer) is not None for layer in range(n_layers)):
        variants += [(HEAD_OUT, layer, head) for layer in range(n_layers) for head in range(n_heads)]

    def place(chunk):
        return _place_patches(lm, residual, z, chunk)

    probs = run_batched(lm, corrupt, variants, place, probability_of(answer_id), progress, "Activation patching", batch)
    head_probs = probs[(n_layers + 1) * n:]
    return PatchingResult(
        clean_ids=tuple(clean), corrupt_ids=tuple(corrupt), answer_id=answer_id,
        clean_prob=float(clean_probs[answer_id]), corrupt_prob=float(corrupt_probs[answer_id]),
        residual=probs[: (n_layers + 1) * n].reshape(n_layers + 1, n).astype(np.float32),
        heads=(head_probs.reshape(n_layers, n_heads) if head_probs.size else np.full((n_layers, n_heads), np.nan))
        .astype(np.float32),
    )
