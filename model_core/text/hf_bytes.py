"""The exact bytes behind a Hugging Face tokenizer's tokens.

Byte-level BPE (GPT-2, Llama 3, Qwen) spells bytes as printable stand-in characters
('Ġworld'); SentencePiece-style vocabularies use '▁' and <0xNN> byte tokens. The trace
labels every model token from these bytes, and the tokenizer comparison reuses them.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


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
