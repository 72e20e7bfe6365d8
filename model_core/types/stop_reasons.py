"""Why generation stops, in words (no torch: the generation panel shows these).

The reason strings are also what `logitscope generate --json` reports.
"""

from __future__ import annotations

END_OF_TURN = "end_of_turn"  # the token that closes a chat turn (<|im_end|>, <|eot_id|>)
END_OF_TEXT = "end_of_text"  # the model's end-of-text token (<|endoftext|>)
STOP_SEQUENCE = "stop_sequence"  # a stop text the user gave appeared in the generated text
MAX_LENGTH = "max_length"  # the maximum number of new tokens
CONTEXT_FULL = "context_full"  # the sequence reached the longest length that can be traced
STOP_REASONS = (END_OF_TURN, END_OF_TEXT, STOP_SEQUENCE, MAX_LENGTH, CONTEXT_FULL)

STOP_MESSAGES = {
    END_OF_TURN: "Stopped: end of turn — the model closed the assistant's turn.",
    END_OF_TEXT: "Stopped: end of text — the model produced its end-of-text token.",
    STOP_SEQUENCE: "Stopped: a stop sequence appeared in the generated text.",
    MAX_LENGTH: "Stopped: reached the maximum number of new tokens (max length).",
    CONTEXT_FULL: "Stopped: the sequence reached the longest length that can be traced.",
}


def stop_message(reason: str | None, detail: str = "") -> str:
    """The sentence for a stop reason; `detail` names the token or the stop text that stopped it."""
    if reason is None:
        return ""
    if reason == END_OF_TURN and detail:
        return f"Stopped: end of turn {detail} — the model closed the assistant's turn."
    if reason == END_OF_TEXT and detail:
        return f"Stopped: end of text {detail} — the model produced its end-of-text token."
    if reason == STOP_SEQUENCE and detail:
        return f"Stopped: the stop sequence {detail!r} appeared in the generated text."
    return STOP_MESSAGES.get(reason, f"Stopped: {reason}.")
