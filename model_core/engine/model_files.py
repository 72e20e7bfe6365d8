"""What a model folder (or GGUF file) holds, checked before transformers touches it.

A folder is a config.json, weights and tokenizer files. Weights are safetensors (one file, or
shards listed by `model.safetensors.index.json`), or a GGUF file whose config and tokenizer are
inside it (a path to the .gguf, or a folder holding just one). Pickle weights are refused
unless the caller trusts the folder; code shipped with a model (`auto_map`) is refused always.
A bad folder gives a sentence, not a stack trace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from model_core.errors import ModelLoadError, UnsupportedModelError

SHARD_INDEX = "model.safetensors.index.json"


@dataclass(frozen=True)
class ModelFiles:
    """A checked model source."""

    folder: Path
    config: dict  # config.json, or {"model_type": …} read from a GGUF's metadata
    weights: tuple[Path, ...]  # the safetensors files (every shard) or the one GGUF
    gguf_file: str | None = None  # the GGUF's file name inside `folder`
    pickle: bool = False  # weights are .bin/.pt (only when the caller allowed it)
    gguf_config: object | None = None  # the transformers config a GGUF's metadata describes

    @property
    def model_type(self) -> str:
        return str(self.config["model_type"])


def locate(path: Path, allow_pickle: bool = False) -> ModelFiles:
    """Check a local model source (a folder, or a .gguf file) and say what it holds."""
    if not path.exists():
        raise ModelLoadError(f"The folder {path} does not exist.")
    if path.is_file():
        if path.suffix.lower() == ".gguf":
            return _gguf(path)
        raise ModelLoadError(f"{path} is a file; choose the folder that holds config.json and the weights, "
                             "or a .gguf file.")
    if not (path / "config.json").exists():
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return _gguf(ggufs[0])
        if len(ggufs) > 1:
            raise ModelLoadError(f"{path.name} holds {len(ggufs)} GGUF files ({', '.join(g.name for g in ggufs[:4])}); "
                                 "choose one of them.")
    config = check_folder(path, allow_pickle)
    weights = _safetensors_files(path)
    return ModelFiles(path, config, weights, pickle=not weights)


def check_folder(path: Path, allow_pickle: bool = False) -> dict:
    """Validate a local model folder before transformers touches it; return its config."""
    if not path.exists():
        raise ModelLoadError(f"The folder {path} does not exist.")
    if not path.is_dir():
        raise ModelLoadError(f"{path} is a file; choose the folder that holds config.json and the weights.")
    config_file = path / "config.json"
    if not config_file.exists():
        raise ModelLoadError(f"{path} has no config.json, so it is not a Hugging Face model folder.")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{config_file} cannot be read as JSON: {exc}.") from exc
    if not isinstance(config, dict):
        raise ModelLoadError(f"{config_file} does not hold a model configuration.")
    if config.get("auto_map"):
        raise UnsupportedModelError(
            f"{path.name} needs its own Python code to run (auto_map in config.json). "
            "Logitscope never runs code shipped with a model."
        )
    if not config.get("model_type"):
        raise ModelLoadError(f"{config_file} does not say which architecture it is (no model_type).")
    has_safetensors = any(path.glob("*.safetensors"))
    has_pickle = any(path.glob("*.bin")) or any(path.glob("*.pt")) or any(path.glob("*.pth"))
    if not has_safetensors:
        if has_pickle and not allow_pickle:
            raise UnsupportedModelError(
                f"{path.name} holds only pickle weights (.bin/.pt), which can run arbitrary code when loaded. "
                "Convert them to safetensors, or explicitly trust this folder."
            )
        if not has_pickle:
            raise ModelLoadError(f"{path.name} has no weights (*.safetensors).")
    if not any((path / name).exists() for name in ("tokenizer.json", "tokenizer_config.json", "vocab.json")):
        raise ModelLoadError(f"{path.name} has no tokenizer files (tokenizer.json or vocab.json).")
    return config


def _safetensors_files(path: Path) -> tuple[Path, ...]:
    """Every weight file: the shards an index lists (all must be there), else the *.safetensors."""
    index_file = path / SHARD_INDEX
    if not index_file.exists():
        return tuple(sorted(path.glob("*.safetensors")))
    try:
        weight_map = json.loads(index_file.read_text(encoding="utf-8"))["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{index_file.name} in {path.name} cannot be read as a shard index.") from exc
    shards = sorted(set(weight_map.values()))
    missing = [s for s in shards if not (path / s).exists()]
    if missing:
        raise ModelLoadError(
            f"{path.name} is missing {len(missing)} of its {len(shards)} weight shards "
            f"({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''}); download them again."
        )
    return tuple(path / s for s in shards)


def _gguf(path: Path) -> ModelFiles:
    """A GGUF file: its architecture, read from the metadata (its config and tokenizer are inside)."""
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(path.parent, gguf_file=path.name, trust_remote_code=False)
    except Exception as exc:  # gguf raises many kinds for a damaged file; all mean the same to a user
        text = (str(exc).strip() or type(exc).__name__).splitlines()[0][:200]
        raise ModelLoadError(f"{path.name} cannot be read as a GGUF model: {text}") from exc
    return ModelFiles(path.parent, {"model_type": config.model_type}, (path,), gguf_file=path.name,
                      gguf_config=config)
