"""Offline tiktoken encodings and exact byte pieces for Hugging Face tokenizers."""

from __future__ import annotations

import functools
import json
import socket
import urllib.request
from typing import Any

import pytest
import tiktoken
import tiktoken.load
import tiktoken_ext.openai_public as openai_public
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from model_core.text import tokenizer_compare as tc
from model_core.text.hf_bytes import hf_token_bytes
from model_core.text.tokenizer_compare import (
    ENCODINGS,
    TokenizedText,
    compare,
    get_encoding,
    load_ranks,
    tokenize_hf,
    tokenize_tiktoken,
)

_SPICY = [
    "😀",
    "👨\u200d👩\u200d👧",
    "🇫🇷",
    "中文",
    "日本語",
    "e\u0301",
    "\u200d",
    "\u202e",
    "שלום",
    "مرحبا",
    "\x00",
    "\x07",
    "\n",
    "\r\n",
    "\t",
    "  ",
    " ",
    "<|endoftext|>",
    "<s>",
    "'s",
    "123456",
]
# Lone surrogates (category Cs) are not text a prompt box or a UTF-8 file can hold; tokenizers refuse them.
TEXT = st.lists(st.one_of(st.characters(exclude_categories=("Cs",)), st.sampled_from(_SPICY)), max_size=30).map("".join)

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello world! Hello there, general Kenobi.",
    "strawberry straw berry raspberry blueberry",
    "naïve café résumé 😀 中文 2024",
]


@functools.cache
def byte_level_tokenizer() -> PreTrainedTokenizerFast:
    """A tiny GPT-2-style byte-level BPE, trained here so tests need no downloads."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|endoftext|>"],
        show_progress=False,
    )
    tok.train_from_iterator(SENTENCES * 5, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")


@functools.cache
def sentencepiece_tokenizer(prepend_scheme: str = "first") -> PreTrainedTokenizerFast:
    """A tiny Llama-style BPE: '▁' for spaces, '<0xNN>' byte fallback tokens in the model vocab."""
    trained = Tokenizer(models.BPE())
    trained.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    trained.train_from_iterator(SENTENCES * 5, trainers.BpeTrainer(vocab_size=200, show_progress=False))
    model = json.loads(trained.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2} | {f"<0x{i:02X}>": 3 + i for i in range(256)}
    for token in sorted(model["vocab"], key=model["vocab"].get):
        vocab.setdefault(token, len(vocab))
    merges = [tuple(m) for m in model["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, byte_fallback=True, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=prepend_scheme)
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    tok.add_special_tokens(["<unk>", "<s>", "</s>"])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


@pytest.fixture(scope="module")
def byte_level() -> PreTrainedTokenizerFast:
    return byte_level_tokenizer()


@pytest.fixture(scope="module")
def spm() -> PreTrainedTokenizerFast:
    return sentencepiece_tokenizer()


def _ids(tokenizer: Any, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]


# --- tiktoken ---------------------------------------------------------------------------------


def test_rank_counts_and_vocab_sizes() -> None:
    assert [len(load_ranks(n)) for n in ENCODINGS] == [50256, 100256, 199998]
    assert [get_encoding(n).n_vocab for n in ENCODINGS] == [50257, 100277, 200019]
    for name in ENCODINGS:
        ranks = load_ranks(name)
        assert all(bytes([b]) in ranks for b in range(256))
    gpt2 = get_encoding("gpt2")
    assert gpt2.eot_token == 50256
    assert gpt2.encode("<|endoftext|>", allowed_special="all") == [50256]
    assert get_encoding("cl100k_base").eot_token == 100257
    assert get_encoding("o200k_base").eot_token == 199999


@pytest.mark.parametrize(
    ("name", "text", "ids"),
    [
        ("gpt2", "Hello world", [15496, 995]),
        ("gpt2", "hello world", [31373, 995]),
        ("cl100k_base", "hello world", [15339, 1917]),
        ("cl100k_base", "tiktoken is great!", [83, 1609, 5963, 374, 2294, 0]),
        ("o200k_base", "hello world", [24912, 2375]),
    ],
)
def test_known_encodings(name: str, text: str, ids: list[int]) -> None:
    assert get_encoding(name).encode(text) == ids
    assert tokenize_tiktoken(name, text).ids == ids


def test_get_encoding_is_cached_and_rejects_unknown_names() -> None:
    assert get_encoding("gpt2") is get_encoding("gpt2")
    with pytest.raises(ValueError, match="unknown encoding"):
        get_encoding("p50k_base")


def test_patterns_and_special_tokens_match_tiktoken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our copies of the split regexes and special tokens equal tiktoken's own (without its downloads)."""
    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", lambda *a, **k: {})
    monkeypatch.setattr(openai_public, "data_gym_to_mergeable_bpe_ranks", lambda *a, **k: {})
    for name in ENCODINGS:
        reference = openai_public.ENCODING_CONSTRUCTORS[name]()
        enc = get_encoding(name)
        assert enc._pat_str == reference["pat_str"], name
        assert enc._special_tokens == reference["special_tokens"], name


def test_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access")

    for target, attr in [
        (tiktoken.load, "read_file"),
        (tiktoken.load, "read_file_cached"),
        (tiktoken.load, "load_tiktoken_bpe"),
        (urllib.request, "urlopen"),
        (socket, "create_connection"),
        (socket.socket, "connect"),
    ]:
        monkeypatch.setattr(target, attr, no_network)
    tc.get_encoding.cache_clear()
    tc.load_ranks.cache_clear()
    try:
        results = compare("hello world")
        assert [r.ids for r in results] == [[31373, 995], [15339, 1917], [24912, 2375]]
    finally:
        tc.get_encoding.cache_clear()
        tc.load_ranks.cache_clear()


def test_special_token_text_stays_plain_text() -> None:
    text = "a<|endoftext|>b<|endofprompt|>"
    for name in ENCODINGS:
        result = tokenize_tiktoken(name, text)
        assert not set(result.ids) & set(get_encoding(name)._special_tokens.values())
        assert b"".join(result.pieces) == text.encode()


def test_tokenized_text_fields() -> None:
    result = tokenize_tiktoken("gpt2", "héllo 😀")
    assert isinstance(result, TokenizedText)
    assert result.name == "gpt2"
    assert result.n_tokens == len(result.ids) == len(result.pieces) == len(result.labels) == len(result.notes)
    assert result.n_bytes == len("héllo 😀".encode())
    assert result.n_chars == 7
    # GPT-2 splits the emoji: the labels show bytes and the notes name the character.
    assert any("U+1F600" in note for note in result.notes)
    with pytest.raises(AttributeError):
        result.name = "x"  # type: ignore[misc]


def test_lone_surrogates_do_not_crash() -> None:
    result = tokenize_tiktoken("cl100k_base", "a\ud800b")
    assert b"".join(result.pieces) == "a\ufffdb".encode()


@settings(max_examples=60, deadline=None)
@given(TEXT)
def test_tiktoken_pieces_spell_the_text(text: str) -> None:
    for name in ENCODINGS:
        result = tokenize_tiktoken(name, text)
        assert b"".join(result.pieces) == text.encode()
        assert result.ids == get_encoding(name).encode_ordinary(text)


# --- Hugging Face -----------------------------------------------------------------------------


def test_byte_level_pieces(byte_level: PreTrainedTokenizerFast) -> None:
    ids = _ids(byte_level, "Hello world 😀")
    tokens = byte_level.convert_ids_to_tokens(ids)
    pieces = hf_token_bytes(byte_level, ids)
    assert b"".join(pieces) == "Hello world 😀".encode()
    assert pieces[tokens.index("Ġworld")] == b" world"
    # The per-token decode loses half-characters; the pieces must not.
    assert all(b"\xef\xbf\xbd" not in p for p in pieces)


def test_special_tokens_typed_as_text_are_split(byte_level: PreTrainedTokenizerFast) -> None:
    eos = byte_level.convert_tokens_to_ids("<|endoftext|>")
    result = tokenize_hf(byte_level, "x<|endoftext|>", "tiny")
    assert eos not in result.ids
    assert b"".join(result.pieces) == b"x<|endoftext|>"
    # A real special token id still maps to its text.
    assert hf_token_bytes(byte_level, [eos]) == [b"<|endoftext|>"]


def test_sentencepiece_byte_fallback_and_spaces(spm: PreTrainedTokenizerFast) -> None:
    text = "hello ж world"  # 'ж' never occurs in training: two <0xNN> tokens
    ids = _ids(spm, text)
    tokens = spm.convert_ids_to_tokens(ids)
    assert "<0xD0>" in tokens and "<0xB6>" in tokens
    pieces = hf_token_bytes(spm, ids, text=text)
    assert b"".join(pieces) == text.encode()
    assert pieces[tokens.index("<0xD0>")] == b"\xd0"


def test_sentencepiece_dummy_prefix(spm: PreTrainedTokenizerFast) -> None:
    # "hello" and " hello" encode identically (the prefix space is added only when missing);
    # the text settles which one it was, and without it the common case is assumed.
    assert _ids(spm, "hello") == _ids(spm, " hello")
    ids = _ids(spm, "hello")
    assert b"".join(hf_token_bytes(spm, ids)) == b"hello"
    assert b"".join(hf_token_bytes(spm, ids, text="hello")) == b"hello"
    assert b"".join(hf_token_bytes(spm, ids, text=" hello")) == b" hello"
    # With a BOS in front, the prefix is still taken off the first ordinary token.
    bos = spm.convert_tokens_to_ids("<s>")
    assert hf_token_bytes(spm, [bos, *ids])[0] == b"<s>"
    assert b"".join(hf_token_bytes(spm, [bos, *ids])[1:]) == b"hello"


def test_compare_puts_the_model_first(byte_level: PreTrainedTokenizerFast) -> None:
    results = compare("Hello world", byte_level, "tiny")
    assert [r.name for r in results] == ["tiny", *ENCODINGS]
    assert all(b"".join(r.pieces) == b"Hello world" for r in results)
    assert [r.name for r in compare("x")] == list(ENCODINGS)


@settings(max_examples=150, deadline=None)
@given(TEXT)
def test_byte_level_pieces_spell_any_text(text: str) -> None:
    tokenizer = byte_level_tokenizer()
    ids = _ids(tokenizer, text)
    pieces = hf_token_bytes(tokenizer, ids)
    assert b"".join(pieces) == text.encode()
    assert len(pieces) == len(ids)


@settings(max_examples=150, deadline=None)
@given(TEXT.filter(lambda t: "▁" not in t))  # a literal '▁' reads as a space in sentencepiece vocabularies
def test_sentencepiece_pieces_spell_any_text(text: str) -> None:
    for tokenizer in map(sentencepiece_tokenizer, ("first", "always", "never")):
        ids = _ids(tokenizer, text)
        pieces = hf_token_bytes(tokenizer, ids, text=text)
        assert b"".join(pieces) == text.encode()
        result = tokenize_hf(tokenizer, text, "spm")
        assert b"".join(result.pieces) == text.encode()
