"""The generation stepper: extend the sequence one token at a time, with everything traced.

Each step runs the model on the one new token against the KV cache, and the
trace grows by one position, so every panel can follow every step at the cost
of one cached decoding step. Undo crops the cache and slices the trace back.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from transformers import DynamicCache

from model_core.errors import PromptError
from model_core.loading import LoadedModel
from model_core.sampling import SamplingSettings, draw, rng_for, shape_distribution
from model_core.trace import (
    Trace,
    build_trace,
    common_prefix,
    encode,
    extend_trace,
    forward_capture,
    token_limit,
    token_table,
    top_k_rows,
)

END_OF_TEXT = "end-of-text"
MAX_LENGTH = "max-length"
CONTEXT_FULL = "context-full"

STOP_MESSAGES = {
    END_OF_TEXT: "Stopped: the model produced its end-of-text token.",
    MAX_LENGTH: "Stopped: reached the maximum number of new tokens.",
    CONTEXT_FULL: "Stopped: the sequence reached the longest length that can be traced.",
}


class Stepper:
    """Owns one growing sequence and its KV cache. Not thread-safe: the worker thread owns it."""

    def __init__(self, lm: LoadedModel, max_new_tokens: int = 20) -> None:
        self.lm = lm
        self.max_new_tokens = max_new_tokens
        self._trace: Trace | None = None
        self._cache: DynamicCache | None = None
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
        ids = encode(self.lm, text, allow_special)
        shared = 0
        if self._trace is not None:
            shared = min(common_prefix(self._trace.tokens.ids.tolist(), ids), len(ids) - 1)
        if shared > 0:
            prefix = self._truncate(shared)
            capture = forward_capture(self.lm, ids[shared:], past_key_values=self._cache)
            self._trace = extend_trace(self.lm, prefix, ids[shared:], capture, n_prompt=len(ids))
        else:
            cache = DynamicCache(config=self.lm.model.config)
            capture = forward_capture(self.lm, ids, past_key_values=cache)
            self._cache = cache
            self._trace = build_trace(self.lm, ids, capture, n_prompt=len(ids))
        self._n_prompt = len(ids)
        return self._trace

    def append(self, token_id: int) -> Trace:
        """Append one token (chosen by the caller) and trace it through the cache."""
        if self.stop_reason is not None:
            return self.trace
        capture = forward_capture(self.lm, [int(token_id)], past_key_values=self._cache)
        self._trace = extend_trace(self.lm, self.trace, int(token_id), capture)
        return self._trace

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
        return self._truncate(self.trace.n_tokens - 1)

    def reset(self) -> Trace:
        """Back to the prompt alone."""
        return self._truncate(self._n_prompt)

    def _truncate(self, n: int) -> Trace:
        trace = self.trace
        if n == trace.n_tokens:
            return trace
        self._cache.crop(n - trace.n_tokens)  # transformers 5: a negative count removes that many
        ids = trace.tokens.ids[:n].tolist()
        residual = trace.residual[:, :n]
        attn_out = trace.attn_out[:, :n]
        adapter, model = self.lm.adapter, self.lm.model
        with torch.inference_mode():
            last = np.concatenate([residual[:, -1], residual[:-1, -1] + attn_out[:, -1]])  # [2L+1, d]
            x = torch.from_numpy(np.ascontiguousarray(last)).to(self.lm.device)
            logits = adapter.unembedding(model)(adapter.final_norm(model)(x)).float()
            n_layers = attn_out.shape[0]
            all_logprobs = torch.log_softmax(logits, dim=-1).cpu().numpy()
            lens_logprobs = all_logprobs[: n_layers + 1]
            next_logits = logits[n_layers].cpu().numpy()
        tokens = token_table(self.lm, ids)
        lens_ids, lens_probs = top_k_rows(lens_logprobs)
        mid_ids, mid_probs = top_k_rows(all_logprobs[n_layers + 1 :])
        self._trace = replace(
            trace,
            text=b"".join(tokens.pieces).decode("utf-8", errors="replace"),
            tokens=tokens,
            residual=residual,
            attn_out=attn_out,
            attention=trace.attention[:, :, :n, :n],
            queries=trace.queries[:, :, :n],
            keys=trace.keys[:, :, :n],
            values=trace.values[:, :, :n],
            next_logits=next_logits,
            lens_ids=lens_ids,
            lens_probs=lens_probs,
            lens_logprobs=lens_logprobs,
            mid_lens_ids=mid_ids,
            mid_lens_probs=mid_probs,
            surprisal=None,
        )
        return self._trace


def generate_text(lm: LoadedModel, text: str, max_new_tokens: int, settings: SamplingSettings | None,
                  allow_special: bool = False) -> tuple[Trace, str]:
    """Headless generation (command line): greedy when settings is None or temperature is 0."""
    stepper = Stepper(lm, max_new_tokens=max_new_tokens)
    stepper.start(text, allow_special)
    while stepper.stop_reason is None:
        if settings is None or settings.temperature == 0:
            stepper.step()
        else:
            stepper.sample(settings)
    return stepper.trace, stepper.stop_reason
