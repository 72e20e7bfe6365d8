"""The generation stepper: extend the sequence one token at a time, with everything traced.

Each step runs the model on the one new token against the KV cache, and the
trace grows by one position, so every panel can follow every step at the cost
of one cached decoding step. Undo crops the cache and slices the trace back.

The cache is a plain `DynamicCache()` that keeps every position on every layer. The one
transformers builds from a config keeps only the last W positions on sliding-window layers
(Mistral, Gemma 2/3, Qwen2, …): a step's attention row would then cover W keys instead of all
of them, and `crop` (undo) raises once W tokens are cached. The window is in the attention
mask either way, so the model computes the same thing; the full cache costs memory on those
layers only, which is small beside the trace itself.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from transformers import DynamicCache

from model_core.analysis.sampling import SamplingSettings, draw, rng_for, shape_distribution
from model_core.engine.forward import final_logits, forward_capture
from model_core.engine.lens import with_lens
from model_core.engine.loading import LoadedModel
from model_core.engine.tracing import (
    build_trace,
    check_generation_length,
    common_prefix,
    cut_trace,
    encode,
    extend_trace,
    token_limit,
)
from model_core.errors import PromptError
from model_core.types.stop_reasons import CONTEXT_FULL, END_OF_TEXT, MAX_LENGTH, STOP_MESSAGES  # noqa: F401
from model_core.types.trace import Trace
from model_core.types.trace_buffers import TraceBuffers


class Stepper:
    """Owns one growing sequence and its KV cache. Not thread-safe: the worker thread owns it."""

    def __init__(self, lm: LoadedModel, max_new_tokens: int = 20, lens: bool = True) -> None:
        """`lens=False`: traces come without the logit lens (the window asks `add_lens` after showing them)."""
        self.lm = lm
        self.max_new_tokens = max_new_tokens
        self.lens = lens
        self._trace: Trace | None = None
        self._cache: DynamicCache | None = None
        self._buffers = TraceBuffers()  # spare positions, so a step writes one row (trace_buffers.py)
        self._n_prompt = 0

    # -- state -------------------------------------------------------------------------------

    @property
    def trace(self) -> Trace:
        if self._trace is None:
            raise PromptError("No prompt has been traced yet.")
        return self._trace

    @property
    def n_new(self) -> int:
        return 0 if self._trace is None else self._trace.n_tokens - self._n_prompt

    @property
    def stop_reason(self) -> str | None:
        """Why generation cannot go on, or None if it can."""
        if self._trace is None:
            return None
        if self.n_new > 0 and int(self._trace.tokens.ids[-1]) in self.lm.eos_ids:
            return END_OF_TEXT
        if self.n_new >= self.max_new_tokens:
            return MAX_LENGTH
        if self._trace.n_tokens >= token_limit(self.lm):
            return CONTEXT_FULL
        return None

    # -- actions -----------------------------------------------------------------------------

    def start(self, text: str, allow_special: bool = False) -> Trace:
        """Trace a new prompt and make it the start of generation.

        When the new prompt begins with tokens already traced (the user typed on at the end),
        only the new tail runs, against the cached keys and values of the shared prefix.
        """
        try:
            ids = encode(self.lm, text, allow_special)
            shared = 0
            if self._trace is not None:
                shared = min(common_prefix(self._trace.tokens.ids.tolist(), ids), len(ids) - 1)
            if shared > 0:
                prefix = self._truncate(shared, logits=False)
                capture = forward_capture(self.lm, ids[shared:], past_key_values=self._cache)
                self._trace = extend_trace(self.lm, prefix, ids[shared:], capture, n_prompt=len(ids),
                                           buffers=self._buffers)
            else:
                cache = DynamicCache()
                capture = forward_capture(self.lm, ids, past_key_values=cache)
                self._cache = cache
                self._buffers.forget()
                self._trace = build_trace(self.lm, ids, capture, n_prompt=len(ids))
        except Exception:
            self.clear()  # the old prompt is not what the user asked for any more: nothing to step from
            raise
        self._n_prompt = len(ids)
        return self._lensed()

    def clear(self) -> None:
        """Forget the sequence (a prompt that failed leaves nothing to generate from)."""
        self._trace, self._cache, self._n_prompt = None, None, 0
        self._buffers.forget()

    def append(self, token_id: int) -> Trace:
        """Append one token (chosen by the caller) and trace it through the cache."""
        if self.stop_reason is not None:
            return self.trace
        try:
            capture = forward_capture(self.lm, [int(token_id)], past_key_values=self._cache)
        except Exception:  # the cache may hold the new token's keys and values; the trace does not
            extra = self._cache.get_seq_length() - self.trace.n_tokens
            if extra > 0:
                self._cache.crop(-extra)  # transformers 5: a negative count removes that many
            raise
        self._trace = extend_trace(self.lm, self.trace, int(token_id), capture, buffers=self._buffers)
        return self._lensed()

    def add_lens(self) -> Trace:
        """Give the current trace its logit lens (a no-op when it has one)."""
        self._trace = with_lens(self.lm, self.trace)
        return self._trace

    def _lensed(self) -> Trace:
        return self.add_lens() if self.lens else self.trace

    def step(self) -> Trace:
        """Greedy: append the most likely token."""
        return self.append(int(np.argmax(self.trace.next_logits)))

    def sample(self, settings: SamplingSettings) -> Trace:
        """Draw the next token with temperature/top-k/top-p; the same seed gives the same text."""
        distribution = shape_distribution(self.trace.next_logits, settings)
        rng = rng_for(settings.seed, self.trace.n_tokens)
        return self.append(draw(distribution, rng))

    def undo(self) -> Trace:
        """Remove the last generated token (never a prompt token)."""
        if self.n_new == 0:
            return self.trace
        self._truncate(self.trace.n_tokens - 1)
        return self._lensed()

    def reset(self) -> Trace:
        """Back to the prompt alone."""
        self._truncate(self._n_prompt)
        return self._lensed()

    def _truncate(self, n: int, logits: bool = True) -> Trace:
        """Keep the first n positions (the cache too); `logits=False` when more tokens follow at once."""
        trace = self.trace
        if n == trace.n_tokens:
            return trace
        self._cache.crop(n - trace.n_tokens)  # transformers 5: a negative count removes that many
        self._buffers.forget()  # the cut-off positions may still be on screen in the longer trace
        logits = final_logits(self.lm, trace.residual[:, :n]) if logits else trace.next_logits
        self._trace = cut_trace(self.lm, trace, n, logits)
        return self._trace


def generate_text(lm: LoadedModel, text: str, max_new_tokens: int, settings: SamplingSettings | None,
                  allow_special: bool = False, on_token: Callable[[int], None] | None = None) -> tuple[Trace, str]:
    """Headless generation (command line): greedy when settings is None or temperature is 0.
    `on_token(n_new)` is called after every new token (progress). A length that cannot fit after
    the prompt is refused before anything runs (PromptError naming the context)."""
    stepper = Stepper(lm, max_new_tokens=max_new_tokens)
    check_generation_length(lm, len(encode(lm, text, allow_special)), max_new_tokens)
    stepper.start(text, allow_special)
    while stepper.stop_reason is None:
        if settings is None or settings.temperature == 0:
            stepper.step()
        else:
            stepper.sample(settings)
        if on_token is not None:
            on_token(stepper.n_new)
    return stepper.trace, stepper.stop_reason
