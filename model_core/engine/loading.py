"""Loading a causal LM safely: the built-in model, Hugging Face hub names, or a local folder.

Safety rules that hold on every path: `trust_remote_code=False`, weights only from
safetensors (or the built-in GGUF), never a pickle. A folder is checked before
transformers sees it, so a bad folder gives a sentence, not a stack trace.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from model_core.engine import builtin_model
from model_core.engine.adapters import ArchitectureAdapter, adapter_for
from model_core.engine.capture import ATTN_IMPLEMENTATION
from model_core.engine.devices import describe_device, resolve_device
from model_core.errors import Cancelled, ModelLoadError, UnsupportedModelError
from model_core.progress import Progress, silent
from model_core.types.chat import ChatTemplateInfo
from model_core.types.model_info import BUILTIN, GPT2_FAMILY, ModelInfo

_HUB_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "merges.txt", "vocab.json", "LICENSE*"]


@dataclass
class LoadedModel:
    """A model ready to trace. Owned by one thread (the worker); never shared with the GUI."""

    model: nn.Module
    tokenizer: object  # a transformers fast tokenizer
    adapter: ArchitectureAdapter
    info: ModelInfo
    device: torch.device

    @property
    def eos_ids(self) -> frozenset[int]:
        ids = self.model.generation_config.eos_token_id if self.model.generation_config else None
        if ids is None:
            ids = self.tokenizer.eos_token_id
        if ids is None:
            return frozenset()
        return frozenset([ids] if isinstance(ids, int) else ids)

    @functools.cached_property
    def chat_template(self) -> ChatTemplateInfo:
        """The chat template's facts: whether there is one, its default system prompt, its end-of-turn token."""
        from model_core.engine.chat_template import template_info

        return template_info(self.tokenizer)

    @property
    def end_of_turn_ids(self) -> frozenset[int]:
        return frozenset(self.chat_template.end_of_turn_ids)

    @property
    def stop_ids(self) -> frozenset[int]:
        """Tokens that end generation: the generation config's end-of-sequence ids, the tokenizer's
        end-of-text token and the chat template's end-of-turn token."""
        ids = set(self.eos_ids) | set(self.end_of_turn_ids)
        if isinstance(self.tokenizer.eos_token_id, int):
            ids.add(self.tokenizer.eos_token_id)
        return frozenset(ids)


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
    model_type = config.get("model_type")
    if not model_type:
        raise ModelLoadError(f"{config_file} does not say which architecture it is (no model_type).")
    adapter_for(model_type)  # raises UnsupportedModelError with the list of supported ones
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


def _hub_snapshot(repo_id: str, progress: Progress) -> Path:
    """The hub copy from the local cache, else a download with progress; a clear message when offline."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, allow_patterns=_HUB_FILES, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        pass
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ModelLoadError(_offline_message(repo_id, "HF_HUB_OFFLINE=1 is set"))
    progress.report(f"Downloading {repo_id} from the Hugging Face hub…", -1.0)
    try:
        return Path(snapshot_download(repo_id, allow_patterns=_HUB_FILES, tqdm_class=_progress_tqdm(progress)))
    except Cancelled:
        raise
    except Exception as exc:  # network errors come in many classes; all mean the same to a user
        raise ModelLoadError(_offline_message(repo_id, type(exc).__name__)) from exc


def _offline_message(repo_id: str, reason: str) -> str:
    return (
        f"{repo_id} is not in the Hugging Face cache and could not be downloaded ({reason}). "
        f"Connect to the internet once to fetch it, or download it elsewhere (huggingface-cli download {repo_id}) "
        "and choose File ▸ Open model folder…"
    )


def _progress_tqdm(progress: Progress):
    """A tqdm class that forwards byte progress to our Progress and honours cancel."""
    from tqdm.auto import tqdm

    class _Bridge(tqdm):
        def update(self, n: float | None = 1) -> bool | None:
            progress.check()
            result = super().update(n)
            if self.total:
                progress.report(f"Downloading: {self.n / 1e6:.0f} / {self.total / 1e6:.0f} MB", self.n / self.total)
            return result

    return _Bridge


def resolve_source(spec: str, progress: Progress) -> tuple[Path, str, str]:
    """Map a user's model choice to (folder, display name, licence)."""
    spec = (spec or BUILTIN).strip()
    if spec.lower() == BUILTIN:
        folder = builtin_model.ensure_builtin(progress)
        return folder, builtin_model.DISPLAY_NAME, builtin_model.LICENCE
    path = Path(spec).expanduser()
    if path.exists() or spec.startswith((".", "/", "~")) or os.sep in spec and not _looks_like_repo_id(spec):
        return path, path.name, _licence_of(path)
    if _looks_like_repo_id(spec):
        folder = _hub_snapshot(spec, progress)
        return folder, spec, _licence_of(folder)
    raise ModelLoadError(
        f"Unknown model {spec!r}: use 'builtin', a GPT-2 name ({', '.join(GPT2_FAMILY)}), "
        "a Hugging Face id like 'org/name', or a path to a local folder."
    )


def _looks_like_repo_id(spec: str) -> bool:
    parts = spec.split("/")
    return 1 <= len(parts) <= 2 and all(p and all(c.isalnum() or c in "-_." for c in p) for p in parts)


def _licence_of(folder: Path) -> str:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    for name in ("LICENSE", "LICENSE.txt", "LICENSE.md"):
        if (folder / name).exists():
            return (folder / name).read_text(encoding="utf-8", errors="replace").splitlines()[0][:80] or "see LICENSE"
    return str(config.get("license", "unknown (see the model's card)"))


def load_model(
    spec: str = BUILTIN,
    device: str = "auto",
    progress: Progress | None = None,
    allow_pickle: bool = False,
) -> LoadedModel:
    """Load a causal LM ready for tracing; every failure is a ModelLoadError with a readable message."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    progress = progress or silent()
    torch_device = resolve_device(device)
    folder, name, licence = resolve_source(spec, progress)
    config = check_folder(folder, allow_pickle=allow_pickle)
    adapter = adapter_for(config["model_type"])
    progress.report(f"Loading {name}…", -1.0)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(
            folder,
            trust_remote_code=False,
            use_safetensors=not allow_pickle,
            dtype=torch.float32,
            attn_implementation=ATTN_IMPLEMENTATION,
        )
    except Cancelled:
        raise
    except Exception as exc:
        raise ModelLoadError(f"{name} could not be loaded: {_first_line(exc)}") from exc
    model.eval().requires_grad_(False)
    progress.check()
    if torch_device.type != "cpu":
        try:
            model.to(torch_device)
        except torch.OutOfMemoryError as exc:
            raise ModelLoadError(_does_not_fit(name, model, torch_device)) from exc
    info = _describe(model, adapter, name, spec, licence, torch_device)
    progress.report(f"Loaded {name}.", 1.0)
    return LoadedModel(model=model, tokenizer=tokenizer, adapter=adapter, info=info, device=torch_device)


def _does_not_fit(name: str, model: nn.Module, device: torch.device) -> str:
    """Why the model is not on the GPU, which GPU, how big it is, and what to do instead."""
    try:
        gpu = describe_device(device)
    except Exception:  # the driver may be in a bad state right after an out-of-memory error
        gpu = str(device)
    size = sum(p.numel() * p.element_size() for p in model.parameters())
    amount = f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{max(size / 1e6, 1):.0f} MB"
    return (
        f"{name} does not fit in the memory of the GPU ({gpu}): its weights alone take {amount}. "
        "Choose the CPU as the device (the Model panel's device list, or --device cpu), "
        "close other programs that use the GPU, or pick a smaller model."
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _describe(model: nn.Module, adapter: ArchitectureAdapter, name: str, source: str, licence: str,
              device: torch.device) -> ModelInfo:
    cfg = model.config
    n_heads = cfg.num_attention_heads
    d_model = cfg.hidden_size
    d_head = getattr(cfg, "head_dim", None) or d_model // n_heads
    n_params = sum(p.numel() for p in model.parameters())  # tied weights are counted once by parameters()
    return ModelInfo(
        name=name,
        source=source,
        architecture=adapter.name,
        model_type=cfg.model_type,
        n_layers=cfg.num_hidden_layers,
        n_heads=n_heads,
        n_kv_heads=getattr(cfg, "num_key_value_heads", None) or n_heads,
        d_model=d_model,
        d_head=d_head,
        d_mlp=getattr(cfg, "intermediate_size", None) or getattr(cfg, "n_inner", None) or 4 * d_model,
        vocab_size=cfg.vocab_size,
        n_params=n_params,
        context_length=getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", 0),
        device=describe_device(device),
        dtype=str(next(model.parameters()).dtype).removeprefix("torch."),
        tied_embeddings=adapter.tied(model),
        licence=licence,
    )
