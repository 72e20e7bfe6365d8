"""Where Logitscope keeps converted models: a per-user cache folder, overridable."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cache_root() -> Path:
    """The per-user cache folder (LOGITSCOPE_CACHE_DIR overrides it, e.g. in tests)."""
    override = os.environ.get("LOGITSCOPE_CACHE_DIR")
    root = Path(override) if override else Path(platformdirs.user_cache_dir("logitscope", appauthor=False))
    root.mkdir(parents=True, exist_ok=True)
    return root
