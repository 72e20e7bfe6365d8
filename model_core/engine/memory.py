"""How much memory a model's weights take, before loading them, and where they went after.

`weight_stats` reads the headers of the weight files (safetensors: an 8-byte length and a JSON
table of every tensor's dtype and shape; GGUF: its tensor table), so the parameter count is
known without reading a single weight. `check_fits` compares the bytes those parameters take in
the chosen dtype with the memory free on the chosen device, or with the user's `max_memory`
budget, and refuses a load that cannot fit with a sentence saying what would. `placement`
summarises accelerate's device map after the load: which parts live on which device (or disk),
and the bytes of weights each holds.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from model_core.errors import ModelLoadError
from model_core.types.model_info import Placement

# Headroom over the weights alone: activations, the KV cache of a 1024-token trace and the
# allocator's slack. Deliberately small: refusing a load that would fit is worse than a tight fit.
HEADROOM = 1.10

_SAFETENSORS_NUMEL_DTYPES = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL",
                             "F8_E4M3", "F8_E5M2"}


@dataclass(frozen=True)
class WeightStats:
    n_params: int  # numbers stored in the weight files
    file_bytes: int  # their size on disk


def _safetensors_params(path: Path) -> int:
    label = f"{path.parent.name}/{path.name}"
    with open(path, "rb") as handle:
        header = handle.read(8)
        if len(header) < 8:
            raise ModelLoadError(f"{label} is not a safetensors file (it is {path.stat().st_size} bytes long).")
        (length,) = struct.unpack("<Q", header)
        if length > path.stat().st_size:
            raise ModelLoadError(f"{label} is cut short: its header promises more than the file holds; "
                                 "download it again.")
        try:
            table = json.loads(handle.read(length))
        except ValueError as exc:
            raise ModelLoadError(f"{label} has an unreadable safetensors header.") from exc
    return sum(math.prod(info["shape"]) for name, info in table.items()
               if name != "__metadata__" and info.get("dtype") in _SAFETENSORS_NUMEL_DTYPES)


def _gguf_params(path: Path) -> int:
    from gguf import GGUFReader

    return int(sum(int(t.n_elements) for t in GGUFReader(str(path)).tensors))


def weight_stats(files: list[Path]) -> WeightStats:
    """Parameters and bytes on disk of a model's weight files (safetensors shards or one GGUF)."""
    n = sum(_gguf_params(f) if f.suffix == ".gguf" else _safetensors_params(f) for f in files)
    return WeightStats(n_params=n, file_bytes=sum(f.stat().st_size for f in files))


def free_memory(device: torch.device) -> int | None:
    """Bytes free for weights on `device` now (CPU: available RAM; CUDA: free GPU memory); None when
    the driver cannot say (then the load is tried, and an out-of-memory error explained)."""
    try:
        if device.type == "cuda":
            free, _total = torch.cuda.mem_get_info(device)
            return int(free)
        if device.type == "mps":
            return None  # unified memory: the CPU figure would be the same memory counted twice
        from accelerate.utils import get_max_memory

        return int(get_max_memory()["cpu"])
    except (RuntimeError, AssertionError, OSError, KeyError):
        return None


def human(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def check_fits(name: str, stats: WeightStats, dtype: torch.dtype, device: torch.device,
               max_memory: dict[str | int, int] | None, offload_folder: str | None) -> int:
    """The bytes the weights will take in `dtype`; ModelLoadError before any allocation when they cannot fit."""
    per_number = torch.finfo(dtype).bits // 8
    need = stats.n_params * per_number
    if offload_folder:  # whatever does not fit the budget goes to disk
        return need
    if max_memory is not None:
        budget = sum(max_memory.values())
        where = "the memory budget you gave (" + ", ".join(f"{k}={human(v)}" for k, v in max_memory.items()) + ")"
    else:
        budget = free_memory(device)
        if budget is None:
            return need
        where = f"the free memory of the {'GPU' if device.type == 'cuda' else device.type.upper()} ({human(budget)})"
    if need * HEADROOM <= budget:
        return need
    smaller = [f"{label} ({human(stats.n_params * size)})" for label, size in (("bfloat16", 2), ("float16", 2))
               if size < per_number and stats.n_params * size * HEADROOM <= budget]
    instead = f"load it in {smaller[0]}, or " if smaller else ""
    raise ModelLoadError(
        f"{name} needs about {human(need)} for its weights in {str(dtype).removeprefix('torch.')} but that does not "
        f"fit in {where}: {instead}let part of it wait on disk with --max-memory (e.g. cpu=2GiB) and "
        "--offload-folder DIR, or choose a smaller model."
    )


def execution_device(model: nn.Module, fallback: torch.device) -> torch.device:
    """Where inputs go: the device of the first part in accelerate's map (CPU when it is on disk)."""
    device_map = getattr(model, "hf_device_map", None)
    if not device_map:
        return fallback
    first = next(iter(device_map.values()))
    if isinstance(first, int):
        return torch.device("cuda", first)
    return torch.device("cpu" if first in ("cpu", "disk", "meta") else str(first))


def _device_label(value) -> str:
    return f"cuda:{value}" if isinstance(value, int) else str(value)


def _parts_text(labels: list[str]) -> str:
    """['embedding', 'block 0', 'block 1', 'block 3', 'final norm'] -> 'embedding, blocks 0–1, block 3, final norm'."""
    out: list[str] = []
    run: list[int] = []

    def flush() -> None:
        if run:
            out.append(f"block {run[0]}" if len(run) == 1 else f"blocks {run[0]}–{run[-1]}")
            run.clear()

    for label in labels:
        if label.startswith("block "):
            index = int(label.split()[1])
            if run and index != run[-1] + 1:
                flush()
            run.append(index)
        else:
            flush()
            out.append(label)
    flush()
    return ", ".join(out)


def placement(model: nn.Module, part_of, dtype: torch.dtype, device: torch.device) -> tuple[Placement, ...]:
    """Where each part lives and the bytes of weights each device (or the disk) holds.

    `part_of(parameter_name)` names the part ('embedding', 'block 3', …). Without a device map
    every part is on `device`. Tied weights count once.
    """
    device_map = getattr(model, "hf_device_map", None) or {"": str(device)}
    keys = sorted(device_map, key=len, reverse=True)  # longest prefix wins
    per_number = torch.finfo(dtype).bits // 8
    parts: dict[str, list[str]] = {}
    nbytes: dict[str, int] = {}
    for name, parameter in model.named_parameters():
        key = next(k for k in keys if k == "" or name == k or name.startswith(k + "."))
        where = _device_label(device_map[key])
        nbytes[where] = nbytes.get(where, 0) + parameter.numel() * per_number
        label = part_of(name)
        labels = parts.setdefault(where, [])
        if label not in labels:
            labels.append(label)
    order = sorted(parts, key=lambda d: ({"mps": 1, "cpu": 2, "disk": 3}.get(d, 0), d))  # GPUs first, disk last
    return tuple(Placement(d, _parts_text(_ordered(parts[d])), nbytes[d]) for d in order)


def _ordered(labels: list[str]) -> list[str]:
    rank = {"embedding": 0, "final norm": 4, "unembedding": 5}

    def key(label: str) -> tuple[int, int]:
        if label.startswith("block "):
            return 1, int(label.split()[1])
        return rank.get(label, 0 if label != "other" else 3), 0  # body parts (positions) beside the embedding

    return sorted(labels, key=key)
