"""One forward pass, everything the panels show: the `Trace`.

A Trace is plain numpy plus token metadata, so it crosses from the worker
thread to the GUI as data. Only the last position's logits are computed (the
panels need no more at first); the logit lens at the last position
(`with_lens`), per-token surprisal and the lens grid over every position are
separate, later calls (`lens.py`), so they never delay the first picture.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
import torch

from model_core.capture import attention_outputs, block_outputs, recording
from model_core.errors import PromptError
from model_core.loading import LoadedModel
from model_core.token_text import byte_offsets, piece_labels, piece_notes
from model_core.tokenizer_compare import hf_token_bytes
from model_core.trace_buffers import TraceBuffers
from model_core.trace_types import TokenTable, Trace

LENS_TOP_K = 10
# Attention for every head and pair of positions grows with the square of the length:
# 1024 tokens of SmolLM2 (30 layers x 9 heads) is already 570 MB of float16 weights.
MAX_TRACE_TOKENS = int(os.environ.get("LOGITSCOPE_MAX_TOKENS", "1024"))


# ---------------------------------------------------------------------------------------------
# Tokenising


def clean_text(text: str) -> str:
    """Replace lone UTF-16 surrogates (pasted from some clipboards) with U+FFFD; keep everything else."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def token_limit(lm: LoadedModel) -> int:
    """The longest sequence we trace: the model's context, capped by what the panels can hold."""
    context = lm.info.context_length or MAX_TRACE_TOKENS
    return min(context, MAX_TRACE_TOKENS)


def encode(lm: LoadedModel, text: str, allow_special: bool = False) -> list[int]:
    """Token ids for `text`. Special-token strings typed by the user stay plain text unless allowed."""
    if not text:
        raise PromptError("The prompt is empty: type some text first.")
    text = clean_text(text)
    ids = lm.tokenizer(text, add_special_tokens=True, split_special_tokens=not allow_special)["input_ids"]
    if not ids:
        raise PromptError("The prompt produced no tokens.")
    context, limit = lm.info.context_length, token_limit(lm)
    if len(ids) > limit:
        why = (f"{lm.info.name} reads at most {context:,}" if limit == context
               else f"Logitscope traces at most {limit:,} (every head's attention grows with the square of the length)")
        raise PromptError(f"The prompt is {len(ids):,} tokens but {why}. Shorten it.")
    return list(ids)


def token_table(lm: LoadedModel, ids: list[int] | np.ndarray) -> TokenTable:
    """Readable metadata for a sequence of ids (control tokens get empty byte pieces)."""
    ids = [int(i) for i in ids]
    special_ids = set(lm.tokenizer.all_special_ids)
    special = np.array([i in special_ids for i in ids], dtype=bool)
    text_positions = [k for k, s in enumerate(special) if not s]
    text_pieces = hf_token_bytes(lm.tokenizer, [ids[k] for k in text_positions]) if text_positions else []
    pieces: list[bytes] = [b""] * len(ids)
    for k, piece in zip(text_positions, text_pieces, strict=True):
        pieces[k] = piece
    text_labels = piece_labels(text_pieces)
    text_notes = piece_notes(text_pieces)
    labels = list(lm.tokenizer.convert_ids_to_tokens(ids))
    notes = ["control token" for _ in ids]
    for j, k in enumerate(text_positions):
        labels[k] = text_labels[j]
        notes[k] = text_notes[j]
    return TokenTable(
        ids=np.asarray(ids, dtype=np.int64),
        pieces=tuple(pieces),
        labels=tuple(labels),
        notes=tuple(notes),
        offsets=byte_offsets(pieces),
        special=special,
    )


# ---------------------------------------------------------------------------------------------
# Forward passes


@dataclass
class Capture:
    """Numpy copies of what one forward pass computed for its new positions."""

    residual: np.ndarray  # [L+1, Tq, d]
    attn_out: np.ndarray  # [L, Tq, d]
    attention: np.ndarray  # [L, H, Tq, Tk]
    queries: np.ndarray  # [L, H, Tq, dh]
    keys: np.ndarray  # [L, KV, Tq, dh]
    values: np.ndarray  # [L, KV, Tq, dh]
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
            residual=residual.float().cpu().numpy(),
            attn_out=attn_out.float().cpu().numpy(),
            attention=torch.stack([record.weights.pop(i) for i in range(n_layers)]).cpu().numpy(),
            queries=torch.stack([record.queries[i] for i in range(n_layers)]).float().cpu().numpy(),
            keys=torch.stack([record.keys[i] for i in range(n_layers)]).float().cpu().numpy(),
            values=torch.stack([record.values[i] for i in range(n_layers)]).float().cpu().numpy(),
            next_logits=unembed(lm, residual[-1:, -1])[0].cpu().numpy(),
        )
    return capture


def final_logits(lm: LoadedModel, residual: np.ndarray, position: int = -1) -> np.ndarray:
    """[V] logits for the token after `position`, from a trace's residual stream [L+1, T, d]."""
    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(residual[-1, position]))[None].to(lm.device)
        return unembed(lm, x)[0].cpu().numpy()


def with_lens(lm: LoadedModel, trace: Trace) -> Trace:
    """The trace plus the logit lens at its last position: what each layer, and the middle of
    each block (after attention, before the MLP), would predict if the model stopped there."""
    if trace.has_lens:
        return trace
    residual_last, attn_out_last = trace.residual[:, -1], trace.attn_out[:, -1]  # [L+1, d], [L, d]
    n_layers = attn_out_last.shape[0]
    rows = np.concatenate([residual_last, residual_last[:-1] + attn_out_last])  # [2L+1, d]
    with torch.inference_mode():
        logprobs = torch.log_softmax(unembed(lm, torch.from_numpy(rows).to(lm.device)), dim=-1).cpu().numpy()
    lens_logprobs = logprobs[: n_layers + 1]
    lens_ids, lens_probs = top_k_rows(lens_logprobs)
    mid_ids, mid_probs = top_k_rows(logprobs[n_layers + 1 :])
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


def kv_head_map(lm: LoadedModel) -> np.ndarray:
    """[H] the key/value head each query head reads: h // (H / KV)."""
    h, kv = lm.info.n_heads, lm.info.n_kv_heads
    return np.arange(h) // (h // kv)


def build_trace(lm: LoadedModel, ids: list[int], capture: Capture, n_prompt: int) -> Trace:
    tokens = token_table(lm, ids)
    return Trace(
        model_name=lm.info.name,
        text=b"".join(tokens.pieces).decode("utf-8", errors="replace"),
        tokens=tokens,
        n_prompt=n_prompt,
        residual=capture.residual,
        attn_out=capture.attn_out,
        attention=capture.attention,
        queries=capture.queries,
        keys=capture.keys,
        values=capture.values,
        kv_head_of=kv_head_map(lm),
        next_logits=capture.next_logits,
    )


def trace_ids(lm: LoadedModel, ids: list[int], n_prompt: int | None = None, lens: bool = True) -> Trace:
    """Trace a sequence of token ids in one forward pass (`lens=False`: the logit lens comes later)."""
    trace = build_trace(lm, ids, forward_capture(lm, ids), n_prompt if n_prompt is not None else len(ids))
    return with_lens(lm, trace) if lens else trace


def run_trace(lm: LoadedModel, text: str, allow_special: bool = False, lens: bool = True) -> Trace:
    """Tokenise `text` and trace it: the one call the panels need for a new prompt."""
    return trace_ids(lm, encode(lm, text, allow_special), lens=lens)


def extend_trace(lm: LoadedModel, trace: Trace, token_ids: int | list[int], capture: Capture,
                 n_prompt: int | None = None, buffers: TraceBuffers | None = None) -> Trace:
    """The trace of `trace` plus new tokens, from a capture of just those positions that used the KV cache.

    The model is causal, so the earlier positions' arrays are exactly what a full pass would give.
    With `buffers` (the stepper's), the new positions are written into spare room rather than
    every array being copied.
    """
    new = [int(token_ids)] if isinstance(token_ids, int) else [int(i) for i in token_ids]
    fields = ("residual", "attn_out", "attention", "queries", "keys", "values")
    old_arrays = {name: getattr(trace, name) for name in fields}
    new_arrays = {name: getattr(capture, name) for name in fields}
    if buffers is None:  # a one-off: exactly the room needed
        arrays = TraceBuffers().extend(old_arrays, new_arrays, limit=0)
    else:
        arrays = buffers.extend(old_arrays, new_arrays, limit=token_limit(lm))
    ids = [*trace.tokens.ids.tolist(), *new]
    tokens = token_table(lm, ids)
    return Trace(
        model_name=trace.model_name,
        text=b"".join(tokens.pieces).decode("utf-8", errors="replace"),
        tokens=tokens,
        n_prompt=trace.n_prompt if n_prompt is None else n_prompt,
        kv_head_of=trace.kv_head_of,
        next_logits=capture.next_logits,
        **arrays,
    )


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading ids two sequences share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
