"""Architecture adapters, one per file; `adapter_for` picks one from a config's model_type."""

from model_core.engine.adapters.base import ArchitectureAdapter
from model_core.engine.adapters.gpt2 import GPT2
from model_core.engine.adapters.llama import LLAMA
from model_core.errors import UnsupportedModelError

ADAPTERS: tuple[ArchitectureAdapter, ...] = (GPT2, LLAMA)


def supported_model_types() -> list[str]:
    return sorted(t for a in ADAPTERS for t in a.model_types)


def adapter_for(model_type: str) -> ArchitectureAdapter:
    for adapter in ADAPTERS:
        if model_type in adapter.model_types:
            return adapter
    raise UnsupportedModelError(
        f"Logitscope does not support the {model_type!r} architecture yet; "
        f"supported: {', '.join(supported_model_types())}."
    )


__all__ = ["ADAPTERS", "ArchitectureAdapter", "adapter_for", "supported_model_types"]
