"""Token labels, tooltips and offsets for byte-string tokens."""

from __future__ import annotations

import itertools
import re
import unicodedata

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from model_core.text.token_text import byte_offsets, char_label, piece_labels, piece_notes

# Characters that make tokenization interesting: multi-byte, joiners, combining, RTL, controls.
_SPICY = [
    "😀",
    "👨\u200d👩\u200d👧",
    "🇫🇷",
    "中",
    "文",
    "é",
    "e\u0301",
    "\u200d",
    "\u200b",
    "\u202e",
    "ש",
    "ا",
    "\x00",
    "\x07",
    "\x1b",
    "\x7f",
    "\x85",
    "\n",
    "\r\n",
    "\t",
    " ",
    "\u00a0",
    "\u2028",
    "\ufeff",
    "\ufffd",
    "\U000e0041",
    "\ue000",
]
TEXT = st.lists(st.one_of(st.characters(exclude_categories=("Cs",)), st.sampled_from(_SPICY)), max_size=40).map("".join)
_BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


@st.composite
def split_text(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """Some text's UTF-8 bytes, cut at arbitrary byte positions (not only character boundaries)."""
    data = draw(TEXT).encode("utf-8")
    cuts = sorted(draw(st.sets(st.integers(0, len(data)), max_size=12)) | {0, len(data)})
    pieces = [data[a:b] for a, b in itertools.pairwise(cuts)]
    if draw(st.booleans()):
        pieces.insert(draw(st.integers(0, len(pieces))), b"")
    return data, pieces


def test_visible_whitespace_and_controls() -> None:
    pieces = [b" ", b"\n", b"\t", b"\r", b"\x00", b"\x07", b"\x7f", b" the", b"a\r\nb"]
    assert piece_labels(pieces) == ["␣", "↵", "⇥", "␍", "␀", "␇", "␡", "␣the", "a␍↵b"]


def test_whole_characters_decode() -> None:
    assert piece_labels(["héllo".encode(), "中文".encode(), "😀".encode(), b""]) == [
        "héllo",
        "中文",
        "😀",
        "",
    ]


def test_invisible_characters_are_escaped() -> None:
    assert piece_labels(["\u200d".encode(), "\x85".encode(), "\ufffd".encode(), "\u202e".encode()]) == [
        "\\u200d",
        "\\x85",
        "\\ufffd",
        "\\u202e",
    ]
    assert char_label("\u2028") == "\\u2028"


def test_partial_characters_show_hex() -> None:
    emoji = "😀".encode()  # F0 9F 98 80
    assert piece_labels([emoji[:2], emoji[2:]]) == ["‹F0 9F›", "‹98 80›"]
    assert piece_labels([b" " + emoji[:3]]) == ["␣‹F0 9F 98›"]
    assert piece_labels([b"\xff\xfe"]) == ["‹FF FE›"]


def test_leading_combining_mark_gets_a_base() -> None:
    assert piece_labels(["\u0301x".encode()]) == ["◌\u0301x"]


def test_notes_for_a_split_emoji() -> None:
    emoji = "😀".encode()
    notes = piece_notes([b"a", emoji[:2], emoji[2:]])
    assert notes == [
        "",
        "bytes 1–2 of 4 of '😀' (U+1F600 GRINNING FACE)",
        "bytes 3–4 of 4 of '😀' (U+1F600 GRINNING FACE)",
    ]


def test_notes_for_a_char_split_three_ways_and_mixed_pieces() -> None:
    cjk = "中".encode()  # E4 B8 AD
    notes = piece_notes([b" " + cjk[:1], cjk[1:2], cjk[2:] + "é".encode()])
    assert notes[0] == "byte 1 of 3 of '中' (U+4E2D CJK UNIFIED IDEOGRAPH-4E2D)"
    assert notes[1] == "byte 2 of 3 of '中' (U+4E2D CJK UNIFIED IDEOGRAPH-4E2D)"
    assert notes[2] == (
        "'é' U+00E9 LATIN SMALL LETTER E WITH ACUTE; byte 3 of 3 of '中' (U+4E2D CJK UNIFIED IDEOGRAPH-4E2D)"
    )


def test_notes_for_whole_pieces() -> None:
    notes = piece_notes([b"hello", b" world", b"\n", "é".encode(), b"\xff"])
    assert notes[:2] == ["", ""]
    assert notes[2] == "'↵' U+000A LINE FEED"
    assert notes[3] == "'é' U+00E9 LATIN SMALL LETTER E WITH ACUTE"
    assert notes[4] == "byte 0xFF is not part of any UTF-8 character"


def test_byte_offsets() -> None:
    offsets = byte_offsets([b"ab", b"", "😀".encode(), b"c"])
    assert offsets.dtype == np.int64
    assert offsets.tolist() == [[0, 2], [2, 2], [2, 6], [6, 7]]
    assert byte_offsets([]).shape == (0, 2)


@settings(max_examples=300, deadline=None)
@given(split_text())
def test_labels_are_always_drawable(case: tuple[bytes, list[bytes]]) -> None:
    _, pieces = case
    labels = piece_labels(pieces)
    assert len(labels) == len(pieces)
    for label in labels:
        assert "\ufffd" not in label
        assert not any(unicodedata.category(ch) in _BAD_CATEGORIES for ch in label), label
        text_part = re.sub(r"‹[0-9A-F]{2}( [0-9A-F]{2})*›", "", label)  # hex groups use plain spaces
        assert not any(ch.isspace() for ch in text_part), label


@settings(max_examples=300, deadline=None)
@given(split_text())
def test_notes_explain_every_split_character(case: tuple[bytes, list[bytes]]) -> None:
    data, pieces = case
    notes = piece_notes(pieces)
    assert len(notes) == len(pieces) and all(isinstance(n, str) for n in notes)
    offsets = byte_offsets(pieces)
    # Every multi-byte character that a cut goes through is named in the notes of the pieces it spans.
    pos = 0
    for ch in data.decode("utf-8"):
        end = pos + len(ch.encode("utf-8"))
        inside = [i for i, (a, b) in enumerate(offsets) if a < end and b > pos]
        if len(inside) > 1:
            for i in inside:
                assert f"U+{ord(ch):04X}" in notes[i], (ch, pieces[i], notes[i])
        pos = end


@settings(max_examples=300, deadline=None)
@given(split_text())
def test_offsets_cover_the_bytes_exactly(case: tuple[bytes, list[bytes]]) -> None:
    data, pieces = case
    offsets = byte_offsets(pieces)
    assert offsets.shape == (len(pieces), 2)
    if pieces:
        assert offsets[0, 0] == 0 and offsets[-1, 1] == len(data)
    assert (offsets[1:, 0] == offsets[:-1, 1]).all()
    assert [data[a:b] for a, b in offsets] == pieces


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_plain_printable_text_labels_as_itself(text: str) -> None:
    printable = "".join(
        ch for ch in text if not ch.isspace() and unicodedata.category(ch)[0] not in "CMZ" and ch != "\ufffd"
    )
    assert piece_labels([printable.encode()]) == [printable]


@settings(max_examples=300, deadline=None)
@given(split_text())
def test_the_whole_character_shortcut_gives_what_the_byte_stream_reading_gives(case: tuple[bytes, list[bytes]]) -> None:
    """Labels and notes skip the byte-by-byte reading when the pieces decode on their own; that
    shortcut must change no label and no note, split characters or not."""
    from model_core.text.token_text import _label_from_units, _notes_from_stream

    _, pieces = case
    assert piece_labels(pieces) == [_label_from_units(p) for p in pieces]
    assert piece_notes(pieces) == _notes_from_stream(pieces)
