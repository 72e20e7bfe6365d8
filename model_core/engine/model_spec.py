"""What kind of source a user's model choice names: the built-in model, a local folder or GGUF file,
or a Hugging Face id. Decided from the text alone, without torch, so the command line can refuse
a folder that does not exist (or an unusable one) at once instead of after seconds of imports."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from model_core.engine.model_files import locate
from model_core.errors import ModelLoadError
from model_core.types.model_info import BUILTIN, GPT2_FAMILY

SourceKind = Literal["builtin", "local", "hub"]


def classify(spec: str | None) -> tuple[SourceKind, str]:
    """(kind, the cleaned choice); ModelLoadError when it is none of the three."""
    spec = (spec or BUILTIN).strip()
    if spec.lower() == BUILTIN:
        return "builtin", spec
    if Path(spec).expanduser().exists() or spec.startswith((".", "/", "~")) or (
            os.sep in spec and not looks_like_repo_id(spec)):
        return "local", spec
    if looks_like_repo_id(spec):
        return "hub", spec
    raise ModelLoadError(
        f"Unknown model {spec!r}: use 'builtin', a GPT-2 name ({', '.join(GPT2_FAMILY)}), "
        "a Hugging Face id like 'org/name', or a path to a local folder."
    )


def check_before_loading(spec: str | None, allow_pickle: bool = False) -> None:
    """Refuse a choice that cannot load, as far as the text and the files on disk tell (no torch)."""
    kind, spec = classify(spec)
    if kind == "local":
        locate(Path(spec).expanduser(), allow_pickle=allow_pickle)


def looks_like_repo_id(spec: str) -> bool:
    parts = spec.split("/")
    return 1 <= len(parts) <= 2 and all(p and all(c.isalnum() or c in "-_." for c in p) for p in parts)
