"""Readable text for tokens that are byte strings.

A BPE token is a run of bytes, not a run of characters: an emoji or a CJK
character is often split across two or three tokens, and whitespace or control
characters are invisible (or destructive) when drawn raw. The UI needs a label
it can always draw, and a tooltip that explains what the bytes are. Everything
here is pure and total: any byte strings in, strings out, no exceptions.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["byte_offsets", "char_label", "piece_labels", "piece_notes"]

# Whitespace that matters in tokenization gets a visible stand-in rather than an escape,
# because it is so common (almost every GPT-2 token starts with a space).
_VISIBLE = {
    " ": "␣",
    "\n": "↵",
    "\t": "⇥",
    "\r": "␍",
    "\x00": "␀",
    "\x7f": "␡",
    "\u00a0": "⍽",
}

# Names for control characters, which unicodedata.name() does not know.
_CONTROL_NAMES = {
    0x00: "NULL",
    0x07: "BELL",
    0x08: "BACKSPACE",
    0x09: "CHARACTER TABULATION",
    0x0A: "LINE FEED",
    0x0B: "LINE TABULATION",
    0x0C: "FORM FEED",
    0x0D: "CARRIAGE RETURN",
    0x1B: "ESCAPE",
    0x7F: "DELETE",
    0x85: "NEXT LINE",
}

# Categories whose characters draw as nothing, reorder text, or cannot be drawn: escaped in labels.
_ESCAPED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp", "Zs"}
_MAX_NOTE_CHARS = 8


def _escape(cp: int) -> str:
    if cp <= 0xFF:
        return f"\\x{cp:02x}"
    if cp <= 0xFFFF:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def char_label(ch: str) -> str:
    """One character as something drawable: visible whitespace, control pictures, or an escape."""
    if ch in _VISIBLE:
        return _VISIBLE[ch]
    cp = ord(ch)
    if cp < 0x20:
        return chr(0x2400 + cp)  # Control Pictures block: U+2407 '␇' for BEL, etc.
    if ch == "\ufffd" or unicodedata.category(ch) in _ESCAPED_CATEGORIES:
        # U+FFFD is escaped too, so that a drawn '�' always means "the UI lost bytes", never "the text had one".
        return _escape(cp)
    return ch


def _text_label(text: str) -> str:
    label = "".join(char_label(ch) for ch in text)
    if label and unicodedata.category(label[0]).startswith("M"):
        # A combining mark that starts a token has no base to sit on; give it the dotted circle.
        label = "◌" + label
    return label


def _utf8_len(lead: int) -> int:
    """Sequence length announced by a UTF-8 lead byte, or 0 if it cannot start a character."""
    if lead < 0x80:
        return 1
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


@dataclass(frozen=True)
class _Unit:
    """A span of the byte stream: one decoded character, or one byte that is not part of any."""

    start: int
    end: int
    char: str | None


def _units(data: bytes) -> list[_Unit]:
    """Split bytes into characters and stray bytes, strictly (no replacement characters)."""
    units: list[_Unit] = []
    i, n = 0, len(data)
    while i < n:
        length = _utf8_len(data[i])
        if length and i + length <= n:
            try:
                ch = data[i : i + length].decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                units.append(_Unit(i, i + length, ch))
                i += length
                continue
        units.append(_Unit(i, i + 1, None))
        i += 1
    return units


def _piece_label(piece: bytes) -> str:
    """Whole characters as text; bytes that do not form a character (alone) as hex in ‹ ›."""
    try:  # most tokens: whole characters only
        return _text_label(piece.decode("utf-8"))
    except UnicodeDecodeError:
        return _label_from_units(piece)


def _label_from_units(piece: bytes) -> str:
    out: list[str] = []
    stray: list[str] = []
    text: list[str] = []

    def flush_text() -> None:
        if text:
            out.append(_text_label("".join(text)))
            text.clear()

    def flush_stray() -> None:
        if stray:
            out.append("‹" + " ".join(stray) + "›")
            stray.clear()

    for unit in _units(piece):
        if unit.char is None:
            flush_text()
            stray.append(f"{piece[unit.start]:02X}")
        else:
            flush_stray()
            text.append(unit.char)
    flush_text()
    flush_stray()
    return "".join(out)


def piece_labels(pieces: Sequence[bytes]) -> list[str]:
    """A drawable label per token.

    Valid UTF-8 is shown as text with whitespace made visible (space '␣', newline '↵',
    tab '⇥', CR '␍', NUL '␀', other C0 controls as control pictures, other invisible or
    format characters as backslash escapes); bytes that are not a whole character within
    the piece are shown in hex, e.g. b"\\xf0\\x9f" -> '‹F0 9F›'. An empty piece is ''.
    """
    return [_piece_label(bytes(p)) for p in pieces]


def _char_name(ch: str) -> str:
    cp = ord(ch)
    name = unicodedata.name(ch, "") or _CONTROL_NAMES.get(cp, "")
    if not name and unicodedata.category(ch) == "Cc":
        name = "control character"
    return f"U+{cp:04X}" + (f" {name}" if name else "")


def _is_unusual(ch: str) -> bool:
    return ch != " " and (ord(ch) > 0x7E or ord(ch) < 0x20)


def _whole_note(chars: list[str]) -> str:
    unusual: list[str] = []
    for ch in chars:
        if _is_unusual(ch) and ch not in unusual:
            unusual.append(ch)
    lines = [f"'{_text_label(ch)}' {_char_name(ch)}" for ch in unusual[:_MAX_NOTE_CHARS]]
    if len(unusual) > _MAX_NOTE_CHARS:
        lines.append(f"… and {len(unusual) - _MAX_NOTE_CHARS} more")
    return "; ".join(lines)


def piece_notes(pieces: Sequence[bytes]) -> list[str]:
    """A tooltip per token, explaining bytes in terms of the characters they belong to.

    The pieces are read as one byte stream, because a piece that is half a character can
    only be explained by its neighbours: b"\\xf0\\x9f" followed by b"\\x98\\x80" gives
    "bytes 1–2 of 4 of '😀' (U+1F600 GRINNING FACE)" and "bytes 3–4 of 4 of …".
    Pieces made of whole characters list their non-ASCII or control characters
    (plain ASCII pieces get ""). Bytes that are not UTF-8 even in context say so.
    """
    pieces = [bytes(p) for p in pieces]
    try:  # most sequences: every piece is whole characters, so none needs its neighbours
        return [_whole_note(list(p.decode("utf-8"))) for p in pieces]
    except UnicodeDecodeError:  # a piece holds part of a character: read the pieces as one stream
        return _notes_from_stream(pieces)


def _notes_from_stream(pieces: list[bytes]) -> list[str]:
    data = b"".join(pieces)
    units = _units(data)
    notes: list[str] = []
    u = 0  # first unit that may overlap the current piece
    start = 0
    for piece in pieces:
        end = start + len(piece)
        while u < len(units) and units[u].end <= start:
            u += 1
        partial = False
        lines: list[str] = []
        whole_chars: list[str] = []
        k = u
        while k < len(units) and units[k].start < end:
            unit = units[k]
            lo, hi = max(unit.start, start), min(unit.end, end)
            if unit.char is None:
                partial = True
                lines.append(f"byte 0x{data[unit.start]:02X} is not part of any UTF-8 character")
            elif lo == unit.start and hi == unit.end:
                whole_chars.append(unit.char)
            else:
                partial = True
                size = unit.end - unit.start
                first, last = lo - unit.start + 1, hi - unit.start
                which = f"byte {first}" if first == last else f"bytes {first}–{last}"
                lines.append(f"{which} of {size} of '{_text_label(unit.char)}' ({_char_name(unit.char)})")
            k += 1
        if partial:
            if whole_chars:
                whole = _whole_note(whole_chars)
                lines = ([whole] if whole else []) + lines
            notes.append("; ".join(lines))
        else:
            notes.append(_whole_note(whole_chars))
        start = end
    return notes


def byte_offsets(pieces: Sequence[bytes]) -> np.ndarray:
    """[T, 2] int64 start/end byte offsets of each piece in their concatenation.

    Lets the UI map a token to a byte range of the text (and back) without re-tokenizing.
    """
    lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
    ends = np.cumsum(lengths, dtype=np.int64)
    out = np.empty((len(pieces), 2), dtype=np.int64)
    out[:, 1] = ends
    out[:, 0] = ends - lengths
    return out


def pieces_text(pieces: Sequence[bytes]) -> str:
    """The text a run of token pieces spells; a UTF-8 character split across tokens (or cut off
    at the end) becomes U+FFFD rather than an error."""
    return b"".join(pieces).decode("utf-8", errors="replace")
