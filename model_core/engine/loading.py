"""Loading a causal LM safely: the built-in model, Hugging Face hub names, a local folder or a GGUF file.

Safety rules that hold on every path: `trust_remote_code=False`, weights only from
safetensors or GGUF, never a pickle. A folder is checked before transformers sees it
(`model_files.py`), so a bad folder gives a sentence, not a stack trace; the model type is
matched to a family before any weight is read (`adapters/resolve.py`), and the memory the
weights need is compared with what is free (`memory.py`), so a load that cannot fit is refused
before it allocates. Big models load through accelerate's device map: `max_memory` budgets per
device and an offload folder for what does not fit, in the dtype the user picks.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from model_core.engine import builtin_model, eager_capture, memory
from model_core.engine.adapters import ModelAdapter
from model_core.engine.adapters.resolve import resolve_family, unsupported
from model_core.engine.capture import ATTN_IMPLEMENTATION
from model_core.engine.devices import describe_device, resolve_device
from model_core.engine.model_files import ModelFiles, locate
from model_core.engine.model_spec import classify
from model_core.errors import Cancelled, ModelLoadError
from model_core.progress import Progress, silent
from model_core.types.chat import ChatTemplateInfo
from model_core.types.memory_sizes import parse_max_memory
from model_core.types.model_info import BUILTIN, DTYPE_CHOICES, ModelInfo

_HUB_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "merges.txt", "vocab.json", "LICENSE*"]


@dataclass
class LoadedModel:
    """A model ready to trace. Owned by one thread (the worker); never shared with the GUI."""

    model: nn.Module
    tokenizer: object  # a transformers fast tokenizer
    adapter: ModelAdapter
    info: ModelInfo
    device: torch.device  # where inputs go (the first part's device when the model is spread out)

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
    kind, spec = classify(spec)
    if kind == "builtin":
        folder = builtin_model.ensure_builtin(progress)
        return folder, builtin_model.DISPLAY_NAME, builtin_model.LICENCE
    if kind == "local":
        path = Path(spec).expanduser()
        return path, path.name, _licence_of(path)
    folder = _hub_snapshot(spec, progress)
    return folder, spec, _licence_of(folder)


def _licence_of(folder: Path) -> str:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    for name in ("LICENSE", "LICENSE.txt", "LICENSE.md"):
        if (folder / name).exists():
            return (folder / name).read_text(encoding="utf-8", errors="replace").splitlines()[0][:80] or "see LICENSE"
    return str(config.get("license", "unknown (see the model's card)"))


def resolve_dtype(name: str | torch.dtype) -> torch.dtype:
    """'float32' / 'bfloat16' / 'float16' (or a torch dtype) as a torch dtype; ModelLoadError otherwise."""
    if isinstance(name, torch.dtype):
        name = str(name).removeprefix("torch.")
    if name not in DTYPE_CHOICES:
        raise ModelLoadError(f"Unknown number type {name!r}; choose one of {', '.join(DTYPE_CHOICES)}.")
    return getattr(torch, name)


def _budgets(max_memory: dict | str | None, device: torch.device, offload_folder: str | None) -> dict | None:
    """accelerate's max_memory for this load: the user's budgets (checked against the device), or,
    with only an offload folder, what is free on the device (and the CPU behind a GPU)."""
    budgets = parse_max_memory(max_memory) if isinstance(max_memory, str) else max_memory
    if budgets is None and offload_folder:
        from accelerate.utils import get_max_memory

        free = get_max_memory()  # {0: bytes, …, "cpu": bytes} of what is free now
        budgets = {k: v for k, v in free.items() if k == "cpu" or (device.type == "cuda" and k == (device.index or 0))}
    if budgets is not None and device.type != "cuda" and any(isinstance(k, int) for k in budgets):
        raise ModelLoadError(f"The memory budget names a GPU but the model is to run on the {device.type.upper()}; "
                             "choose the GPU as the device, or give budgets for cpu only.")
    return budgets


def load_model(
    spec: str = BUILTIN,
    device: str = "auto",
    progress: Progress | None = None,
    allow_pickle: bool = False,
    dtype: str | torch.dtype = "float32",
    max_memory: dict[str | int, int] | str | None = None,
    offload_folder: str | os.PathLike | None = None,
) -> LoadedModel:
    """Load a causal LM ready for tracing; every failure is a ModelLoadError with a readable message.

    `dtype` is the number type of the weights. `max_memory` ({"cpu": bytes, 0: bytes} or
    "cpu=2GiB,0=10GiB") caps what each device may hold; with `offload_folder` whatever does not
    fit waits on disk and is read in when its layer runs (slow, but a big model opens).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    progress = progress or silent()
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype)
    offload_folder = str(offload_folder) if offload_folder else None
    budgets = _budgets(max_memory, torch_device, offload_folder)
    folder, name, licence = resolve_source(spec, progress)
    files = locate(folder, allow_pickle=allow_pickle)
    family = resolve_family(files.model_type, folder=files.folder, config=files.gguf_config)
    weight_bytes = memory.check_fits(name, _weight_stats(files), torch_dtype, torch_device, budgets, offload_folder)
    progress.report(f"Loading {name}…", -1.0)
    source = {"gguf_file": files.gguf_file} if files.gguf_file else {}
    # Mismatched shapes are loaded (left random) and reported, so the refusal can name them.
    kwargs = dict(trust_remote_code=False, dtype=torch_dtype, output_loading_info=True, ignore_mismatched_sizes=True,
                  attn_implementation="eager" if family.eager else ATTN_IMPLEMENTATION, **source)
    if not files.gguf_file:
        kwargs["use_safetensors"] = not files.pickle
    spread = budgets is not None
    if spread:
        kwargs.update(device_map="auto", max_memory=budgets, offload_folder=offload_folder)
    try:
        tokenizer = AutoTokenizer.from_pretrained(files.folder, trust_remote_code=False, **source)
        model, loading_info = AutoModelForCausalLM.from_pretrained(files.folder, **kwargs)
    except Cancelled:
        raise
    except KeyError as exc:  # GPT-J-like modules look their attention class up by implementation name
        if not family.tested and ATTN_IMPLEMENTATION in str(exc):
            raise unsupported(files.model_type, "its attention does not go through transformers' attention "
                                                "interface, so the weights it uses cannot be recorded") from exc
        raise ModelLoadError(_load_failure(name, exc)) from exc
    except Exception as exc:
        raise ModelLoadError(_load_failure(name, exc)) from exc
    _check_weights_match(name, loading_info)
    model.eval().requires_grad_(False)
    progress.check()
    if not spread and torch_device.type != "cpu":
        try:
            model.to(torch_device)
        except torch.OutOfMemoryError as exc:
            raise ModelLoadError(_does_not_fit(name, model, torch_device)) from exc
    adapter = ModelAdapter(model, family)
    if family.eager:
        eager_capture.install(adapter)
    run_device = memory.execution_device(model, torch_device)
    info = _describe(model, adapter, name, spec, licence, torch_device, weight_bytes)
    lm = LoadedModel(model=model, tokenizer=tokenizer, adapter=adapter, info=info, device=run_device)
    if not family.tested:
        from model_core.engine.self_check import check_against_eager

        check_against_eager(lm)
    progress.report(f"Loaded {name}.", 1.0)
    return lm


def _weight_stats(files: ModelFiles) -> memory.WeightStats:
    """Parameters in the weight files; for pickle weights (no readable header) from the config on meta."""
    if files.weights:
        return memory.weight_stats(list(files.weights))
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(files.folder, trust_remote_code=False)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=False)
    return memory.WeightStats(sum(p.numel() for p in model.parameters()), 0)


def _load_failure(name: str, exc: BaseException) -> str:
    text = _first_line(exc)
    if "size mismatch" in text or "mismatch" in text.lower() and "shape" in text.lower():
        return f"The weights of {name} do not match its config.json: {text}"
    return f"{name} could not be loaded: {text}"


def _check_weights_match(name: str, loading_info: dict) -> None:
    """Refuse weights that do not fit the config: missing tensors would silently stay random."""
    missing = sorted(loading_info.get("missing_keys") or ())
    mismatched = sorted(loading_info.get("mismatched_keys") or ())
    if mismatched:
        first = mismatched[0]
        what = first if isinstance(first, str) else f"{first[0]} (file {tuple(first[1])}, config {tuple(first[2])})"
        raise ModelLoadError(f"The weights of {name} do not match its config.json: {len(mismatched)} tensors "
                             f"have other shapes than the config says, e.g. {what}.")
    if missing:
        raise ModelLoadError(f"The weights of {name} do not match its config.json: {len(missing)} tensors the "
                             f"config calls for are not in the weight files ({', '.join(missing[:3])}"
                             f"{', …' if len(missing) > 3 else ''}).")


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


def _describe(model: nn.Module, adapter: ModelAdapter, name: str, source: str, licence: str,
              device: torch.device, weight_bytes: int) -> ModelInfo:
    cfg = model.config
    family = adapter.family
    n_params = sum(p.numel() for p in model.parameters())  # tied weights are counted once by parameters()
    placement = memory.placement(model, adapter.part_of, adapter.dtype, device)
    where = placement[0].device if len(placement) == 1 else "spread: " + ", ".join(p.device for p in placement)
    notes = list(family.notes)
    if adapter.embedding_scale is not None:
        notes.append(f"the embedding module multiplies by {adapter.embedding_scale:.4g}")
    return ModelInfo(
        name=name,
        source=source,
        architecture=family.name,
        model_type=cfg.model_type,
        n_layers=adapter.n_layers,
        n_heads=adapter.n_heads,
        n_kv_heads=adapter.n_kv_heads,
        d_model=adapter.d_model,
        d_head=adapter.d_head,
        d_mlp=adapter.d_mlp,
        vocab_size=cfg.vocab_size,
        n_params=n_params,
        context_length=_context_length(cfg),
        device=describe_device(device) if len(placement) == 1 else where,
        dtype=str(adapter.dtype).removeprefix("torch."),
        tied_embeddings=adapter.tied,
        licence=licence,
        block_layout=adapter.block_layout,
        n_experts=adapter.n_experts,
        experts_per_token=adapter.experts_per_token,
        moe_layers=adapter.moe_layers,
        shared_experts=adapter.shared_experts,
        n_active_params=n_params - adapter.skipped_per_token,
        placement=placement,
        weight_bytes=weight_bytes,
        tested=family.tested,
        notes=tuple(notes),
    )


def _context_length(cfg) -> int:
    """The longest sequence the model reads (BLOOM's ALiBi has no limit in its config: 0 = none stated)."""
    for attr in ("max_position_embeddings", "n_positions", "seq_length"):
        value = getattr(cfg, attr, None)
        if value:
            return int(value)
    return 0
