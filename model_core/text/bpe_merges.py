"""How BPE got here: the merge steps that turn one word's bytes into its tokens.

Byte-pair encoding first cuts text into words with a regex, then, inside each
word, repeatedly joins the adjacent pair of parts with the best (lowest) merge
rank until no adjacent pair is a known merge. Replaying that loop step by step
shows why " strawberry" became the tokens it did. Both flavours are here:
tiktoken's (rank = the merged token's id) and Hugging Face's (rank = the
position of the pair in the tokenizer's merge list).
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import regex

from model_core.text.hf_bytes import backend_tokenizer, byte_level_encode, hf_scheme, vocab_token_bytes
from model_core.text.token_text import piece_labels
from model_core.text.tokenizer_compare import pat_str

__all__ = [
    "MAX_WORD_BYTES",
    "MergeStep",
    "bpe_steps_from_hf",
    "bpe_steps_from_ranks",
    "final_parts",
    "hf_initial_parts",
    "merge_table",
    "pretokenize",
]

# The replay keeps every intermediate state (quadratic in word length); words are short,
# but a pasted run of 100k spaces would not be, so refuse rather than stall the UI.
MAX_WORD_BYTES = 1024

# Rank shown for a Hugging Face "ignore_merges" whole-word lookup, which is not a merge.
WHOLE_WORD_RANK = -1


@dataclass(frozen=True)
class MergeStep:
    """The state of one word after one merge.

    ``parts`` is the whole sequence after the merge, ``merged_index`` the index in it of
    the part just formed, ``rank`` the merge's priority (lower merges first), and
    ``pair`` the two parts that were joined (``parts[merged_index] == pair[0] + pair[1]``).
    """

    parts: tuple[bytes, ...]
    merged_index: int
    rank: int
    pair: tuple[bytes, bytes] = (b"", b"")


def _check_length(n_bytes: int) -> None:
    if n_bytes > MAX_WORD_BYTES:
        raise ValueError(f"word of {n_bytes} bytes is too long to replay (limit {MAX_WORD_BYTES})")


def _replay(symbols: list[Any], pair_rank: Any, to_bytes: Any) -> list[MergeStep]:
    """The BPE loop: join the lowest-ranked adjacent pair (leftmost on ties) until none is left.

    ``pair_rank(a, b)`` gives ``(rank, merged_symbol)`` or None. Leftmost-on-ties is what both
    tiktoken and Hugging Face tokenizers do, so the replay reproduces their output exactly.
    """
    parts = list(symbols)
    ranks = [pair_rank(parts[i], parts[i + 1]) for i in range(len(parts) - 1)]
    steps: list[MergeStep] = []
    while True:
        best = -1
        best_rank = None
        for i, r in enumerate(ranks):
            if r is not None and (best_rank is None or r[0] < best_rank):
                best, best_rank = i, r[0]
        if best < 0:
            return steps
        left, right = parts[best], parts[best + 1]
        parts[best : best + 2] = [ranks[best][1]]
        del ranks[best]
        if best > 0:
            ranks[best - 1] = pair_rank(parts[best - 1], parts[best])
        if best < len(parts) - 1:
            ranks[best] = pair_rank(parts[best], parts[best + 1])
        steps.append(
            MergeStep(
                parts=tuple(to_bytes(p) for p in parts),
                merged_index=best,
                rank=best_rank,
                pair=(to_bytes(left), to_bytes(right)),
            )
        )


def bpe_steps_from_ranks(word: bytes, ranks: Mapping[bytes, int]) -> list[MergeStep]:
    """tiktoken-style BPE replay: start from single bytes, merge by the rank of the joined bytes.

    The final parts equal what tiktoken encodes for that word (one pre-tokenized piece).
    """
    word = bytes(word)
    _check_length(len(word))

    def pair_rank(a: bytes, b: bytes) -> tuple[int, bytes] | None:
        joined = a + b
        r = ranks.get(joined)
        return None if r is None else (r, joined)

    return _replay([word[i : i + 1] for i in range(len(word))], pair_rank, lambda p: p)


def final_parts(steps: list[MergeStep], initial: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """The word's tokens after all steps (``initial`` when nothing merged)."""
    return steps[-1].parts if steps else tuple(initial)


# ---------------------------------------------------------------------------------------------
# Hugging Face BPE
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _HFBpe:
    """The parts of a Hugging Face BPE model the replay needs, parsed once per tokenizer."""

    merges: dict[tuple[str, str], int]
    vocab: dict[str, int]
    ignore_merges: bool
    byte_fallback: bool
    unk_token: str | None


_HF_CACHE: OrderedDict[int, tuple[Any, _HFBpe]] = OrderedDict()
_HF_CACHE_SIZE = 4


def _hf_bpe(tokenizer: Any) -> _HFBpe:
    """Merges and vocab from the serialized tokenizer (cached: serializing costs tens of ms)."""
    backend = backend_tokenizer(tokenizer)
    key = id(backend)
    hit = _HF_CACHE.get(key)
    if hit is not None and hit[0] is backend:
        _HF_CACHE.move_to_end(key)
        return hit[1]
    model = json.loads(backend.to_str())["model"]
    if model.get("type") != "BPE":
        raise ValueError(f"not a BPE tokenizer (model type {model.get('type')!r})")
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        raise ValueError("BPE with subword prefixes/suffixes is not supported")
    merges: dict[tuple[str, str], int] = {}
    for rank, merge in enumerate(model["merges"]):
        a, b = merge.split(" ", 1) if isinstance(merge, str) else merge
        merges.setdefault((a, b), rank)
    parsed = _HFBpe(
        merges=merges,
        vocab=model["vocab"],
        ignore_merges=bool(model.get("ignore_merges")),
        byte_fallback=bool(model.get("byte_fallback")),
        unk_token=model.get("unk_token"),
    )
    _HF_CACHE[key] = (backend, parsed)
    while len(_HF_CACHE) > _HF_CACHE_SIZE:
        _HF_CACHE.popitem(last=False)
    return parsed


def _hf_symbols(tokenizer: Any, word: str) -> tuple[list[str], Any]:
    """The word in the tokenizer's alphabet, as BPE's starting symbols, plus a symbol->bytes function."""
    scheme = hf_scheme(tokenizer)
    bpe = _hf_bpe(tokenizer)
    data = word.encode("utf-8")
    _check_length(len(data))

    def to_bytes(symbol: str) -> bytes:
        piece = vocab_token_bytes(symbol, scheme)
        return symbol.encode("utf-8") if piece is None else piece

    if scheme.byte_level:
        chars: str = byte_level_encode(data)
    else:
        chars = word.replace(" ", scheme.replacement) if scheme.replacement is not None else word
    # As in tokenizers' BPE: a character missing from the vocabulary becomes byte-fallback
    # tokens, else the unknown token, else it is dropped (some byte-level vocabularies,
    # SmolLM2's among them, lack a few control bytes, so the model never sees them).
    symbols: list[str] = []
    for ch in chars:
        if ch in bpe.vocab:
            symbols.append(ch)
        elif bpe.byte_fallback and all(f"<0x{b:02X}>" in bpe.vocab for b in ch.encode("utf-8")):
            symbols.extend(f"<0x{b:02X}>" for b in ch.encode("utf-8"))
        elif bpe.unk_token is not None:
            symbols.append(bpe.unk_token)
    return symbols, to_bytes


def hf_initial_parts(tokenizer: Any, word: str) -> tuple[bytes, ...]:
    """The parts a Hugging Face BPE starts from for ``word`` (single bytes for byte-level BPE)."""
    symbols, to_bytes = _hf_symbols(tokenizer, word)
    return tuple(to_bytes(s) for s in symbols)


def bpe_steps_from_hf(tokenizer: Any, word: str) -> list[MergeStep]:
    """Replay a Hugging Face BPE model on one pre-tokenized word given as text (e.g. " hello").

    Works in the tokenizer's own alphabet (GPT-2's byte-to-unicode characters for byte-level
    BPE, '▁' for spaces in sentencepiece-style BPE) and returns parts as bytes. ``rank`` is
    the pair's index in the merge list. With ``ignore_merges`` (Llama-3 style), a word that is
    itself in the vocabulary is looked up whole: one step with rank ``WHOLE_WORD_RANK``.
    """
    bpe = _hf_bpe(tokenizer)
    symbols, to_bytes = _hf_symbols(tokenizer, word)
    whole = "".join(symbols)
    if bpe.ignore_merges and len(symbols) > 1 and whole in bpe.vocab:
        piece = to_bytes(whole)
        return [MergeStep(parts=(piece,), merged_index=0, rank=WHOLE_WORD_RANK, pair=(piece, b""))]

    merges, vocab = bpe.merges, bpe.vocab

    def pair_rank(a: str, b: str) -> tuple[int, str] | None:
        rank = merges.get((a, b))
        if rank is None or a + b not in vocab:
            return None
        return rank, a + b

    return _replay(symbols, pair_rank, to_bytes)


# ---------------------------------------------------------------------------------------------
# Pre-tokenization and display
# ---------------------------------------------------------------------------------------------


@functools.cache
def _pattern(encoding_name: str) -> regex.Pattern[str]:
    return regex.compile(pat_str(encoding_name))


def pretokenize(text: str, encoding_name: str) -> list[tuple[int, str]]:
    """The words a tiktoken encoding runs BPE on, with their start offsets (in characters).

    Uses the encoding's own split regex, so the UI can find "the word under the selected
    token" and replay its merges. The words cover the text exactly, in order.
    """
    return [(m.start(), m.group()) for m in _pattern(encoding_name).finditer(text)]


def merge_table(steps: list[MergeStep]) -> list[str]:
    """One readable line per step, e.g. "s t → st (rank 301)", with visible whitespace and hex bytes."""
    lines: list[str] = []
    for step in steps:
        merged = step.parts[step.merged_index]
        left, right = step.pair
        left_label, right_label, merged_label = piece_labels([left, right, merged])
        if step.rank == WHOLE_WORD_RANK:
            lines.append(f"{merged_label} (whole word in vocabulary)")
        else:
            lines.append(f"{left_label} {right_label} → {merged_label} (rank {step.rank})")
    return lines
