"""Choosing where the model runs: CUDA, Apple MPS or CPU."""

from __future__ import annotations

from typing import TYPE_CHECKING

from model_core.errors import ModelLoadError

if TYPE_CHECKING:
    import torch

from model_core.types.model_info import DEVICE_CHOICES


def resolve_device(name: str = "auto") -> torch.device:
    """Turn a user's device choice into a torch device, refusing ones this machine lacks."""
    import torch

    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelLoadError("CUDA was requested but no CUDA GPU is available; use --device cpu or auto.")
        return torch.device(name)
    if name == "mps":
        if not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
            raise ModelLoadError("Apple MPS was requested but is not available here; use --device cpu or auto.")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise ModelLoadError(f"Unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}.")


def describe_device(device: torch.device) -> str:
    """A short human label, e.g. 'CPU (2 threads)' or 'CUDA: NVIDIA H100'."""
    import torch

    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    threads = torch.get_num_threads()
    return f"CPU ({threads} thread{'' if threads == 1 else 's'})"
