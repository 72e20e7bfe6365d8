"""The `Trace` and its `TokenTable` as plain numpy data (no torch), so the window can hold them
without importing torch; `engine/tracing.py` computes them.

`TRACE_ARRAYS` is the one description of the per-position arrays a trace carries: building,
extending by a generated token, cutting back (undo), the step buffers and saving to .npz all
read it, so a new array is one line here and one capture.

The router arrays of a mixture-of-experts model are there for every model: a dense model has
them with a zero-size expert axis ([L, T, 0]), so every path that handles arrays handles them
without a special case, and `Trace.is_moe` tells the two apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from model_core.text.token_text import pieces_text
from model_core.types.model_info import SEQUENTIAL


@dataclass(frozen=True)
class TraceArray:
    """One per-position array of a trace: its name (the `Trace` field), which axes count
    positions (attention has two: query and key), and the dtype it is stored in."""

    name: str
    position_axes: tuple[int, ...]
    dtype: type
    shape: str  # for people: the axes in the order they are stored

    def cut(self, array: np.ndarray, n: int) -> np.ndarray:
        """The first n positions (a view)."""
        index = [slice(None)] * array.ndim
        for axis in self.position_axes:
            index[axis] = slice(0, n)
        return array[tuple(index)]


TRACE_ARRAYS: tuple[TraceArray, ...] = (
    TraceArray("residual", (1,), np.float32, "[L+1, T, d]"),
    TraceArray("attn_out", (1,), np.float32, "[L, T, d]"),
    TraceArray("attention", (2, 3), np.float16, "[L, H, T, T]"),
    TraceArray("queries", (2,), np.float32, "[L, H, T, dh]"),
    TraceArray("keys", (2,), np.float32, "[L, KV, T, dh]"),
    TraceArray("values", (2,), np.float32, "[L, KV, T, dh]"),
    # Mixture of experts (k chosen of E experts per token; k = E = 0 for a dense model). Dense
    # blocks of a MoE model have ids -1 and weights 0. The weights are what multiplies each chosen
    # expert's output, by the family's own rule (renormalised or not).
    TraceArray("router_ids", (1,), np.int16, "[L, T, k]"),
    TraceArray("router_weights", (1,), np.float32, "[L, T, k]"),
    TraceArray("router_probs", (1,), np.float32, "[L, T, E]"),  # softmax over every expert's router logit
    # Experts every token uses, with their own gate (Qwen2-MoE: sigmoid(shared_expert_gate(x))); S = 0 if none.
    TraceArray("shared_expert_gate", (1,), np.float32, "[L, T, S]"),
)
ROUTER_ARRAYS = ("router_ids", "router_weights", "router_probs", "shared_expert_gate")
ARRAY_NAMES: tuple[str, ...] = tuple(a.name for a in TRACE_ARRAYS)


@dataclass(frozen=True)
class TokenTable:
    """Token metadata: what each position is, as text a person can read."""

    ids: np.ndarray  # [T] int64
    pieces: tuple[bytes, ...]  # exact bytes of each token ("" for control tokens such as BOS)
    labels: tuple[str, ...]  # readable: visible spaces, hex for partial UTF-8
    notes: tuple[str, ...]  # tooltip text (e.g. which character a byte piece belongs to)
    offsets: np.ndarray  # [T, 2] byte offsets into `text.encode()`
    special: np.ndarray  # [T] bool: a control token, not text

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def texts(self) -> list[str]:
        """Each token's exact text (leading spaces kept), partial UTF-8 decoded with replacement."""
        return [p.decode("utf-8", errors="replace") for p in self.pieces]

    def text(self, start: int = 0, stop: int | None = None) -> str:
        """The text tokens [start, stop) spell together (a character split across tokens stays whole)."""
        return pieces_text(self.pieces[start:stop])


@dataclass(frozen=True)
class Trace:
    """Everything one forward pass computed for a sequence (batch 1). Shapes use
    L layers, H query heads, KV key/value heads, T tokens, d width, dh head width, V vocabulary."""

    model_name: str
    text: str  # the text the tokens spell (prompt + generated)
    tokens: TokenTable
    n_prompt: int  # tokens [0, n_prompt) came from the prompt, the rest were generated
    residual: np.ndarray  # [L+1, T, d] float32: 0 = embeddings, l = after block l (before the final norm)
    attn_out: np.ndarray  # [L, T, d] float32: what layer l's attention added; residual[l] + attn_out[l] is
    #                       the stream in the middle of block l (after attention, before the MLP)
    attention: np.ndarray  # [L, H, T, T] float16, row = query, causal: zero above the diagonal
    queries: np.ndarray  # [L, H, T, dh] float32 (after RoPE where the model uses it)
    keys: np.ndarray  # [L, KV, T, dh] float32
    values: np.ndarray  # [L, KV, T, dh] float32
    kv_head_of: np.ndarray  # [H] int: the key/value head each query head reads (grouped-query attention)
    next_logits: np.ndarray  # [V] float32: logits for the token after the last position
    # The logit lens at the last position: 2L+1 rows against the whole vocabulary cost more than
    # the rest of a generation step, so the window gets the trace first and these just after
    # (`with_lens`); None until then.
    lens_ids: np.ndarray | None = None  # [L+1, k] int64: top tokens each layer predicts at the last position
    lens_probs: np.ndarray | None = None  # [L+1, k] float32
    lens_logprobs: np.ndarray | None = None  # [L+1, V] float32: the whole lens distribution at the last position
    mid_lens_ids: np.ndarray | None = None  # [L, k] int64: the lens mid-block (after attention, before the MLP)
    mid_lens_probs: np.ndarray | None = None  # [L, k] float32
    surprisal: np.ndarray | None = None  # [T] float32 bits; NaN for the first token. Filled in later.
    # Mixture of experts (see TRACE_ARRAYS); left out (None) they become empty [L, T, 0] arrays.
    router_ids: np.ndarray | None = None  # [L, T, k] int16, -1 on dense blocks
    router_weights: np.ndarray | None = None  # [L, T, k] float32
    router_probs: np.ndarray | None = None  # [L, T, E] float32
    shared_expert_gate: np.ndarray | None = None  # [L, T, S] float32
    # How attention's update meets the stream (model_info.SEQUENTIAL / PARALLEL / POST_LN): with
    # POST_LN, attn_out is NaN and there is no mid-block lens.
    block_layout: str = SEQUENTIAL
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n_layers, n_tokens = self.attn_out.shape[:2]
        for name in ROUTER_ARRAYS:
            if getattr(self, name) is None:
                dtype = np.int16 if name == "router_ids" else np.float32
                object.__setattr__(self, name, np.zeros((n_layers, n_tokens, 0), dtype=dtype))

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def n_layers(self) -> int:
        return self.attention.shape[0]

    @property
    def n_heads(self) -> int:
        return self.attention.shape[1]

    @property
    def is_moe(self) -> bool:
        """A mixture-of-experts model: the router arrays have an expert axis."""
        return self.router_probs.shape[-1] > 0

    @property
    def next_probs(self) -> np.ndarray:
        """[V] float32 softmax of `next_logits` (temperature 1)."""
        z = self.next_logits - self.next_logits.max()
        p = np.exp(z)
        return p / p.sum()

    def with_surprisal(self, surprisal: np.ndarray) -> Trace:
        return replace(self, surprisal=surprisal)

    @property
    def mid_residual(self) -> np.ndarray:
        """[L, T, d] the residual stream after each block's attention, before its MLP (for parallel
        blocks a stream the model never computes; NaN for post-LN blocks: see `block_layout`)."""
        return self.residual[:-1] + self.attn_out

    @property
    def has_lens(self) -> bool:
        return self.lens_ids is not None

    @property
    def prompt_text(self) -> str:
        return self.tokens.text(0, self.n_prompt)

    @property
    def generated_text(self) -> str:
        return self.tokens.text(self.n_prompt)

    def arrays(self) -> dict[str, np.ndarray]:
        """The per-position arrays by name (`TRACE_ARRAYS`)."""
        return {name: getattr(self, name) for name in ARRAY_NAMES}

    def cut(self, n: int) -> dict[str, np.ndarray]:
        """The per-position arrays of the first n positions (views)."""
        return {a.name: a.cut(getattr(self, a.name), n) for a in TRACE_ARRAYS}

    def npz_fields(self) -> dict[str, np.ndarray]:
        """Everything worth saving, as .npz fields: every per-position array, the token table, the
        logits, and the lens and surprisal when computed."""
        fields = {**self.arrays(), "token_ids": self.tokens.ids,
                  "token_text": np.array(self.tokens.texts, dtype=object).astype(str),
                  "n_prompt": np.array(self.n_prompt), "next_logits": self.next_logits,
                  "kv_head_of": self.kv_head_of}
        for name in ("lens_ids", "lens_probs", "mid_lens_ids", "mid_lens_probs", "surprisal"):
            value = getattr(self, name)
            if value is not None:
                fields[name] = value
        return fields

    @property
    def nbytes(self) -> int:
        arrays = (*self.arrays().values(), self.next_logits, self.lens_logprobs)
        return int(sum(a.nbytes for a in arrays if a is not None))


def check_arrays(arrays: Mapping[str, np.ndarray]) -> None:
    """Every per-position array present, with one length along all its position axes."""
    missing = set(ARRAY_NAMES) - set(arrays)
    if missing:
        raise ValueError(f"trace arrays missing: {sorted(missing)}")
    lengths = {arrays[a.name].shape[axis] for a in TRACE_ARRAYS for axis in a.position_axes}
    if len(lengths) != 1:
        raise ValueError(f"trace arrays disagree on the number of positions: {sorted(lengths)}")
