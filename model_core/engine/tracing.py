"""One forward pass, everything the panels show: the `Trace`.

A Trace is plain numpy plus token metadata, so it crosses from the worker
thread to the GUI as data. Only the last position's logits are computed (the
panels need no more at first); the logit lens at the last position
(`with_lens`), per-token surprisal and the lens grid over every position are
separate, later calls (`lens.py`), so they never delay the first picture.
"""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np

from model_core.engine.forward import Capture, forward_capture
from model_core.engine.lens import with_lens
from model_core.engine.loading import LoadedModel
from model_core.errors import PromptError
from model_core.text.hf_bytes import hf_token_bytes
from model_core.text.token_text import byte_offsets, piece_labels, piece_notes
from model_core.types.trace import TokenTable, Trace
from model_core.types.trace_buffers import TraceBuffers

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
    return check_length(lm, list(ids))


def check_length(lm: LoadedModel, ids: list[int], what: str = "The prompt", fix: str = "Shorten it.") -> list[int]:
    """`ids`, or PromptError when they are longer than can be traced (saying which limit and why)."""
    context, limit = lm.info.context_length, token_limit(lm)
    if len(ids) > limit:
        why = (f"{lm.info.name} reads at most {context:,}" if limit == context
               else f"Logitscope traces at most {limit:,} (every head's attention grows with the square of the length)")
        raise PromptError(f"{what} is {len(ids):,} tokens but {why}. {fix}")
    return ids


def check_generation_length(lm: LoadedModel, n_prompt: int, max_new_tokens: int) -> None:
    """PromptError naming the context when `max_new_tokens` after an `n_prompt`-token prompt cannot fit."""
    context, limit = lm.info.context_length, token_limit(lm)
    room = limit - n_prompt
    if max_new_tokens <= room:
        return
    why = (f"{lm.info.name} reads at most {context:,} tokens" if limit == context
           else f"Logitscope traces at most {limit:,} tokens ({lm.info.name} reads {context:,})")
    raise PromptError(f"{max_new_tokens:,} new tokens do not fit: the prompt is {n_prompt:,} tokens and {why}, "
                      f"so at most {max(room, 0):,} new tokens fit.")


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


def kv_head_map(lm: LoadedModel) -> np.ndarray:
    """[H] the key/value head each query head reads: h // (H / KV)."""
    h, kv = lm.info.n_heads, lm.info.n_kv_heads
    return np.arange(h) // (h // kv)


def build_trace(lm: LoadedModel, ids: list[int], capture: Capture, n_prompt: int) -> Trace:
    tokens = token_table(lm, ids)
    return Trace(
        model_name=lm.info.name,
        text=tokens.text(),
        tokens=tokens,
        n_prompt=n_prompt,
        kv_head_of=kv_head_map(lm),
        next_logits=capture.next_logits,
        block_layout=lm.info.block_layout,
        **capture.arrays,
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
    if buffers is None:  # a one-off: exactly the room needed
        arrays = TraceBuffers().extend(trace.arrays(), capture.arrays, limit=0)
    else:
        arrays = buffers.extend(trace.arrays(), capture.arrays, limit=token_limit(lm))
    tokens = token_table(lm, [*trace.tokens.ids.tolist(), *new])
    return Trace(
        model_name=trace.model_name,
        text=tokens.text(),
        tokens=tokens,
        n_prompt=trace.n_prompt if n_prompt is None else n_prompt,
        kv_head_of=trace.kv_head_of,
        next_logits=capture.next_logits,
        block_layout=trace.block_layout,
        **arrays,
    )


def cut_trace(lm: LoadedModel, trace: Trace, n: int, next_logits: np.ndarray) -> Trace:
    """The first n positions of a trace (views, no copy), with the logits after position n-1.
    What is computed later for a whole trace (the lens, surprisal) is dropped."""
    tokens = token_table(lm, trace.tokens.ids[:n].tolist())
    return replace(
        trace, text=tokens.text(), tokens=tokens, next_logits=next_logits, **trace.cut(n),
        lens_ids=None, lens_probs=None, lens_logprobs=None, mid_lens_ids=None, mid_lens_probs=None, surprisal=None,
    )


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading ids two sequences share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
