"""The generation stepper: extend the sequence one token at a time, with everything traced.

Each step runs the model on the one new token against the KV cache, and the
trace grows by one position, so every panel can follow every step at the cost
of one cached decoding step. Undo crops the cache and slices the trace back.

The prompt is raw text (`start`) or a conversation rendered by the model's chat template
(`start_chat`). Generation stops at the template's end-of-turn token, the end-of-text token,
a stop sequence, the maximum length or the longest traceable sequence (`stop_reason`). Every
generated token remembers how it was chosen (greedy, sampled, or given by a replay).

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

from model_core.analysis.sampling import (
    SamplingSettings,
    draw,
    greedy_token,
    rng_for,
    shape_distribution,
    stop_sequence_hit,
)
from model_core.engine.chat_template import render_chat
from model_core.engine.forward import final_logits, forward_capture
from model_core.engine.interventions.applied import needs_full_pass
from model_core.engine.lens import with_lens
from model_core.engine.loading import LoadedModel
from model_core.engine.tracing import (
    build_trace,
    check_generation_length,
    check_length,
    common_prefix,
    cut_trace,
    encode,
    extend_trace,
    token_limit,
)
from model_core.errors import PromptError
from model_core.types.chat import ChatPrompt, Conversation
from model_core.types.stop_reasons import (  # noqa: F401  (re-exported for callers and tests)
    CONTEXT_FULL,
    END_OF_TEXT,
    END_OF_TURN,
    MAX_LENGTH,
    STOP_MESSAGES,
    STOP_SEQUENCE,
)
from model_core.types.trace import Trace
from model_core.types.trace_buffers import TraceBuffers

# How each generated token was chosen.
GREEDY, SAMPLED, GIVEN = "greedy", "sampled", "given"
CHOICES = (GREEDY, SAMPLED, GIVEN)


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
        self.stop: tuple[str, ...] = ()  # stop sequences, checked as each token is appended
        self._chat: ChatPrompt | None = None  # the conversation the prompt was rendered from, if any
        self._choices: list[str] = []  # [n_new] how each generated token was chosen
        self._stop_hits: dict[int, str] = {}  # sequence length -> the stop sequence its last token completed

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
    def chat(self) -> ChatPrompt | None:
        """The rendered conversation when the prompt is a chat, else None."""
        return self._chat

    @property
    def choices(self) -> tuple[str, ...]:
        """[n_new] how each generated token was chosen: GREEDY, SAMPLED or GIVEN."""
        return tuple(self._choices)

    @property
    def stop_reason(self) -> str | None:
        """Why generation cannot go on, or None if it can."""
        if self._trace is None:
            return None
        if self.n_new > 0:
            last = int(self._trace.tokens.ids[-1])
            if last in self.lm.end_of_turn_ids:
                return END_OF_TURN
            if last in self.lm.stop_ids:
                return END_OF_TEXT
            if self._trace.n_tokens in self._stop_hits:
                return STOP_SEQUENCE
        if self.n_new >= self.max_new_tokens:
            return MAX_LENGTH
        if self._trace.n_tokens >= token_limit(self.lm):
            return CONTEXT_FULL
        return None

    @property
    def stop_detail(self) -> str:
        """What stopped it: the end token as the vocabulary writes it (<|im_end|>), or the stop sequence."""
        reason = self.stop_reason
        if reason in (END_OF_TURN, END_OF_TEXT):
            return str(self.lm.tokenizer.convert_ids_to_tokens(int(self.trace.tokens.ids[-1])))
        if reason == STOP_SEQUENCE:
            return self._stop_hits[self.trace.n_tokens]
        return ""

    # -- actions -----------------------------------------------------------------------------

    def start(self, text: str, allow_special: bool = False) -> Trace:
        """Trace a new prompt and make it the start of generation.

        When the new prompt begins with tokens already traced (the user typed on at the end),
        only the new tail runs, against the cached keys and values of the shared prefix.
        """
        return self._begin(lambda: encode(self.lm, text, allow_special), None)

    def start_chat(self, conversation: Conversation, allow_special: bool = False) -> Trace:
        """Render a conversation with the model's own chat template (with the generation prompt,
        so the next token opens the assistant's reply) and trace it as the prompt."""
        chat = None

        def ids() -> list[int]:
            nonlocal chat
            chat = render_chat(self.lm.tokenizer, conversation, allow_special)
            return check_length(self.lm, list(chat.ids), "The conversation",
                                "Remove or shorten some turns, or start a new conversation.")

        return self._begin(ids, lambda: chat)

    def _begin(self, make_ids: Callable[[], list[int]], chat: Callable[[], ChatPrompt | None] | None) -> Trace:
        try:
            ids = make_ids()
            shared = 0
            if self._trace is not None and not needs_full_pass(self.lm):  # a mean-ablation needs the whole prompt
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
        chat = chat() if chat is not None else None
        self._n_prompt = len(ids)
        self._chat = chat
        self._choices, self._stop_hits = [], {}
        return self._lensed()

    def rerun(self) -> Trace:
        """Trace the same sequence again from position 0: the model changed (an intervention was set or
        removed), so nothing cached holds. The prompt runs first and the generated tokens then go
        through the cache in one pass, as they did when generated (a mean-ablation keeps the prompt's mean)."""
        trace = self.trace
        ids, n = trace.tokens.ids.tolist(), self._n_prompt
        try:
            cache = DynamicCache()
            self._buffers.forget()
            rerun = build_trace(self.lm, ids[:n], forward_capture(self.lm, ids[:n], past_key_values=cache), n_prompt=n)
            if len(ids) > n:
                capture = forward_capture(self.lm, ids[n:], past_key_values=cache)
                rerun = extend_trace(self.lm, rerun, ids[n:], capture, n_prompt=n, buffers=self._buffers)
        except Exception:
            self.clear()  # what is cached belongs to the model before the change
            raise
        self._cache, self._trace = cache, rerun
        return self._lensed()

    def clear(self) -> None:
        """Forget the sequence (a prompt that failed leaves nothing to generate from)."""
        self._trace, self._cache, self._n_prompt, self._chat = None, None, 0, None
        self._choices, self._stop_hits = [], {}
        self._buffers.forget()

    def append(self, token_id: int, choice: str = GIVEN) -> Trace:
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
        before = self.trace
        self._trace = extend_trace(self.lm, before, int(token_id), capture, buffers=self._buffers)
        self._choices.append(choice)
        if self.stop:
            tokens = self._trace.tokens
            hit = stop_sequence_hit(tokens.text(), len(before.tokens.text()), self.stop)
            if hit is not None:
                self._stop_hits[self._trace.n_tokens] = hit
        return self._lensed()

    def add_lens(self) -> Trace:
        """Give the current trace its logit lens (a no-op when it has one)."""
        self._trace = with_lens(self.lm, self.trace)
        return self._trace

    def _lensed(self) -> Trace:
        return self.add_lens() if self.lens else self.trace

    def context(self) -> np.ndarray:
        """[T] the token ids so far: what the penalties count."""
        return self.trace.tokens.ids

    def step(self, settings: SamplingSettings | None = None) -> Trace:
        """Greedy: append the most likely token (after the logit bias and the penalties, if any)."""
        if settings is not None:
            self.stop = settings.stop
        return self.append(greedy_token(self.trace.next_logits, settings, self.context()), GREEDY)

    def sample(self, settings: SamplingSettings) -> Trace:
        """Draw the next token with every knob of `settings`; the same seed gives the same text."""
        self.stop = settings.stop
        distribution = shape_distribution(self.trace.next_logits, settings, self.context())
        rng = rng_for(settings.seed, self.trace.n_tokens)
        return self.append(draw(distribution, rng), GREEDY if settings.temperature == 0 else SAMPLED)

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
        del self._choices[max(0, n - self._n_prompt):]
        self._stop_hits = {k: v for k, v in self._stop_hits.items() if k <= n}
        self._buffers.forget()  # the cut-off positions may still be on screen in the longer trace
        logits = final_logits(self.lm, trace.residual[:, :n]) if logits else trace.next_logits
        self._trace = cut_trace(self.lm, trace, n, logits)
        return self._trace


def run_generation(lm: LoadedModel, text: str, max_new_tokens: int, settings: SamplingSettings | None,
                   allow_special: bool = False, conversation: Conversation | None = None,
                   greedy: bool | None = None, on_token: Callable[[int], None] | None = None) -> Stepper:
    """Headless generation (command line) from raw text or a conversation, to the first stop.
    Greedy when `greedy` is True, or (by default) when settings is None or temperature is 0.
    `on_token(n_new)` is called after every new token (progress). A length that cannot fit after
    the prompt is refused before any token is generated (PromptError naming the context)."""
    stepper = Stepper(lm, max_new_tokens=max_new_tokens)
    stepper.stop = settings.stop if settings is not None else ()
    if conversation is not None:
        stepper.start_chat(conversation, allow_special)
    else:
        stepper.start(text, allow_special)
    check_generation_length(lm, stepper.trace.n_prompt, max_new_tokens)
    if greedy is None:
        greedy = settings is None or settings.temperature == 0
    while stepper.stop_reason is None:
        if greedy:
            stepper.step(settings)
        else:
            stepper.sample(settings)
        if on_token is not None:
            on_token(stepper.n_new)
    return stepper


def generate_text(lm: LoadedModel, text: str, max_new_tokens: int, settings: SamplingSettings | None,
                  allow_special: bool = False, conversation: Conversation | None = None,
                  on_token: Callable[[int], None] | None = None) -> tuple[Trace, str]:
    """Headless generation: greedy when settings is None or temperature is 0. -> (trace, stop reason)"""
    stepper = run_generation(lm, text, max_new_tokens, settings, allow_special, conversation, on_token=on_token)
    return stepper.trace, stepper.stop_reason
