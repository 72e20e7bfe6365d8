"""The "Sentence" presets: teaching sentences shipped in assets/presets."""

from __future__ import annotations

import json
from importlib import resources


def load_sentences() -> list[tuple[str, str]]:
    """[(name, text)] in the order the presets file gives them."""
    data = json.loads(resources.files("assets").joinpath("presets/sentences.json").read_text(encoding="utf-8"))
    return [(item["name"], item["text"]) for item in data["sentences"]]


DEFAULT_PROMPT = "The capital of Germany is Berlin. The capital of France is"
