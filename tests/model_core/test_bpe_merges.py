"""Replaying BPE merges: tiktoken ranks and Hugging Face merge lists."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast

from model_core.text.bpe_merges import (
    MAX_WORD_BYTES,
    MergeStep,
    bpe_steps_from_hf,
    bpe_steps_from_ranks,
    final_parts,
    hf_initial_parts,
    merge_table,
    pretokenize,
)
from model_core.text.hf_bytes import byte_level_decode, byte_level_encode
from model_core.text.tokenizer_compare import ENCODINGS, get_encoding, load_ranks
from tests.model_core.test_tokenizer_compare import (
    SENTENCES,
    TEXT,
    byte_level_tokenizer,
    sentencepiece_tokenizer,
)

WORDS = [
    " strawberry",
    "strawberry",
    "ubiquitous",
    " Paris",
    "😀",
    " 😀",
    "👨\u200d👩\u200d👧",
    " 中文",
    "hello",
    "  ",
    "\n\n",
    "123",
    " antidisestablishmentarianism",
    "é",
    "e\u0301",
    "'s",
    " supercalifragilistic",
]


def _bytes_of(word: bytes) -> tuple[bytes, ...]:
    return tuple(word[i : i + 1] for i in range(len(word)))


def _check_steps(word: bytes, steps: list[MergeStep]) -> None:
    """Invariants of any replay: every state spells the word and shrinks by one part."""
    n = len(_bytes_of(word))
    for k, step in enumerate(steps):
        assert b"".join(step.parts) == word
        assert len(step.parts) == n - k - 1
        assert step.parts[step.merged_index] == step.pair[0] + step.pair[1]


# --- tiktoken ranks ---------------------------------------------------------------------------


def test_hand_made_ranks() -> None:
    ranks = {b"a": 0, b"b": 1, b"c": 2, b"ab": 3, b"bc": 4, b"abc": 5}
    steps = bpe_steps_from_ranks(b"abc", ranks)
    assert steps == [
        MergeStep(parts=(b"ab", b"c"), merged_index=0, rank=3, pair=(b"a", b"b")),
        MergeStep(parts=(b"abc",), merged_index=0, rank=5, pair=(b"ab", b"c")),
    ]
    # A lower rank wins wherever it is.
    steps = bpe_steps_from_ranks(b"abc", {b"a": 0, b"b": 1, b"c": 2, b"bc": 3, b"ab": 4})
    assert [s.parts for s in steps] == [(b"a", b"bc")]
    # Ties go to the leftmost pair.
    steps = bpe_steps_from_ranks(b"aaaaa", {b"a": 0, b"aa": 1})
    assert [(s.parts, s.merged_index) for s in steps] == [
        ((b"aa", b"a", b"a", b"a"), 0),
        ((b"aa", b"aa", b"a"), 1),
    ]
    assert bpe_steps_from_ranks(b"", ranks) == []
    assert bpe_steps_from_ranks(b"a", ranks) == []


@pytest.mark.parametrize("name", ENCODINGS)
def test_final_parts_match_tiktoken(name: str) -> None:
    enc, ranks = get_encoding(name), load_ranks(name)
    for word in WORDS:
        data = word.encode()
        steps = bpe_steps_from_ranks(data, ranks)
        _check_steps(data, steps)
        expected = tuple(enc.decode_tokens_bytes(enc.encode_ordinary(word)))
        assert final_parts(steps, _bytes_of(data)) == expected, word
        # tiktoken ranks grow along a word's merges (a token is made after its parts).
        assert [s.rank for s in steps] == sorted(s.rank for s in steps)


def test_strawberry_is_one_token() -> None:
    for name, token_id in [("gpt2", 41236), ("cl100k_base", 73700), ("o200k_base", 101830)]:
        steps = bpe_steps_from_ranks(b" strawberry", load_ranks(name))
        # The last merge forms the whole word, and its rank is the token id.
        assert steps[-1].parts == (b" strawberry",)
        assert steps[-1].rank == token_id == get_encoding(name).encode(" strawberry")[0]
        assert len(steps) == len(b" strawberry") - 1


def test_too_long_words_are_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        bpe_steps_from_ranks(b"a" * (MAX_WORD_BYTES + 1), load_ranks("gpt2"))


# The `regex` module and tiktoken's Rust regex may ship different Unicode versions, so recently
# assigned code points (e.g. CJK extension H, U+31350..) can be letters to one and not the other.
# Stay below plane 3, where both agree; that disagreement is not the merge logic under test.
_STABLE_TEXT = st.text(st.characters(max_codepoint=0x2FFFF, exclude_categories=("Cs",)), max_size=30)


@settings(max_examples=60, deadline=None)
@given(_STABLE_TEXT)
def test_pretokenize_then_replay_equals_tiktoken(text: str) -> None:
    for name in ENCODINGS:
        words = pretokenize(text, name)
        assert "".join(w for _, w in words) == text
        assert all(text[start : start + len(w)] == w for start, w in words)
        parts: list[bytes] = []
        for _, word in words:
            data = word.encode()
            parts.extend(final_parts(bpe_steps_from_ranks(data, load_ranks(name)), _bytes_of(data)))
        enc = get_encoding(name)
        assert parts == enc.decode_tokens_bytes(enc.encode_ordinary(text)), name


def test_pretokenize_known_splits() -> None:
    assert pretokenize("Hello world!", "gpt2") == [(0, "Hello"), (5, " world"), (11, "!")]
    assert pretokenize("  hello", "gpt2") == [(0, " "), (1, " hello")]
    assert pretokenize("I'm 12345", "cl100k_base") == [(0, "I"), (1, "'m"), (3, " "), (4, "123"), (7, "45")]
    assert pretokenize("HelloWorld's", "o200k_base") == [(0, "Hello"), (5, "World's")]
    with pytest.raises(ValueError):
        pretokenize("x", "nope")


def test_merge_table() -> None:
    steps = bpe_steps_from_ranks(b" st", {b" ": 0, b"s": 1, b"t": 2, b"st": 301, b" st": 400})
    assert merge_table(steps) == ["s t → st (rank 301)", "␣ st → ␣st (rank 400)"]
    emoji = "😀".encode()
    # cl100k_base keeps the emoji in two tokens; o200k_base merges it whole.
    assert merge_table(bpe_steps_from_ranks(emoji, load_ranks("cl100k_base")))[-1].startswith(
        "‹F0 9F› ‹98› → ‹F0 9F 98› (rank "
    )
    table = merge_table(bpe_steps_from_ranks(emoji, load_ranks("o200k_base")))
    assert table[0].startswith("‹") and table[-1].split(" → ")[1].startswith("😀 (rank ")


# --- Hugging Face ------------------------------------------------------------------------------


def _hf_expected(tokenizer: PreTrainedTokenizerFast, pretokenized: str) -> tuple[bytes, ...]:
    """The tokenizer's own BPE output for one pre-tokenized word, as bytes."""
    tokens = tokenizer.backend_tokenizer.model.tokenize(pretokenized)
    return tuple(byte_level_decode(t.value) for t in tokens)


def _hf_words(tokenizer: PreTrainedTokenizerFast, text: str) -> list[tuple[str, str]]:
    """(word as text, word as the model sees it) from the tokenizer's own pre-tokenizer."""
    pre = tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str(text)
    return [(text[a:b], w) for w, (a, b) in pre]


def test_hf_final_parts_match_the_tokenizer() -> None:
    tokenizer = byte_level_tokenizer()
    for sentence in [*SENTENCES, *WORDS, "Strawberries are berries; 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ‮!"]:
        for word, pretokenized in _hf_words(tokenizer, sentence):
            steps = bpe_steps_from_hf(tokenizer, word)
            _check_steps(word.encode(), steps)
            assert final_parts(steps, hf_initial_parts(tokenizer, word)) == _hf_expected(
                tokenizer, pretokenized
            )


def test_hf_ranks_are_merge_list_positions() -> None:
    tokenizer = byte_level_tokenizer()
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    a, b = merges[0]
    word = byte_level_decode(a + b).decode()
    steps = bpe_steps_from_hf(tokenizer, word)
    assert [s.rank for s in steps] == [0]
    assert steps[0].pair == (byte_level_decode(a), byte_level_decode(b))


def test_hf_merges_as_strings() -> None:
    """Older tokenizer.json files spell merges "a b"; both spellings replay the same."""
    tokenizer = byte_level_tokenizer()
    data = json.loads(tokenizer.backend_tokenizer.to_str())
    data["model"]["merges"] = [" ".join(m) for m in data["model"]["merges"]]
    legacy = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(data)))
    for word in [" strawberry", " Hello", "😀"]:
        assert bpe_steps_from_hf(legacy, word) == bpe_steps_from_hf(tokenizer, word)


def test_hf_sentencepiece_with_byte_fallback() -> None:
    tokenizer = sentencepiece_tokenizer()
    initial = hf_initial_parts(tokenizer, " berry ж")
    assert initial == (b" ", b"b", b"e", b"r", b"r", b"y", b" ", b"\xd0", b"\xb6")
    steps = bpe_steps_from_hf(tokenizer, " berry ж")
    tokens = tokenizer.backend_tokenizer.model.tokenize("▁berry▁ж")
    expected = tuple(
        bytes([int(t.value[3:5], 16)]) if t.value.startswith("<0x") else t.value.replace("▁", " ").encode()
        for t in tokens
    )
    assert final_parts(steps, initial) == expected


def test_hf_rejects_non_bpe() -> None:
    from tokenizers import models

    tok = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    with pytest.raises(ValueError, match="not a BPE"):
        bpe_steps_from_hf(PreTrainedTokenizerFast(tokenizer_object=tok), "a")


@settings(max_examples=100, deadline=None)
@given(TEXT)
def test_hf_replay_matches_for_any_text(text: str) -> None:
    tokenizer = byte_level_tokenizer()
    for word, pretokenized in _hf_words(tokenizer, text):
        steps = bpe_steps_from_hf(tokenizer, word)
        assert final_parts(steps, hf_initial_parts(tokenizer, word)) == _hf_expected(tokenizer, pretokenized)


def test_hf_bytes_missing_from_the_vocabulary_are_dropped_like_the_tokenizer_does() -> None:
    """Some byte-level vocabularies (SmolLM2's) lack a few control bytes; BPE silently drops them."""
    data = json.loads(byte_level_tokenizer().backend_tokenizer.to_str())
    missing = byte_level_encode(b"\x04")
    data["model"]["vocab"] = {k: v for k, v in data["model"]["vocab"].items() if missing not in k}
    data["model"]["merges"] = [m for m in data["model"]["merges"] if missing not in "".join(m)]
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(data)))
    assert hf_initial_parts(tokenizer, "a\x04b") == (b"a", b"b")
    pretokenized = byte_level_encode(b"a\x04b")
    assert final_parts(bpe_steps_from_hf(tokenizer, "a\x04b"), (b"a", b"b")) == _hf_expected(
        tokenizer, pretokenized
    )
