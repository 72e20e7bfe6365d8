"""Why generation stops, in words (no torch: the generation panel shows these)."""

END_OF_TEXT = "end-of-text"
MAX_LENGTH = "max-length"
CONTEXT_FULL = "context-full"

STOP_MESSAGES = {
    END_OF_TEXT: "Stopped: the model produced its end-of-text token.",
    MAX_LENGTH: "Stopped: reached the maximum number of new tokens.",
    CONTEXT_FULL: "Stopped: the sequence reached the longest length that can be traced.",
}
