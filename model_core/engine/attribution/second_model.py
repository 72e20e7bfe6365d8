"""A second model beside the loaded one, for the side-by-side comparison: loaded only when its
weights fit in the memory left (`load_model` checks before allocating anything and says so), and kept
only when it reads text with the same tokenizer, so both runs see the same token ids."""

from __future__ import annotations

from model_core.engine.loading import LoadedModel, load_model
from model_core.errors import LogitscopeError
from model_core.progress import Progress


def check_same_tokenizer(first: LoadedModel, second: LoadedModel) -> None:
    """LogitscopeError naming both models when their vocabularies (token text → id) differ."""
    a, b = first.tokenizer.get_vocab(), second.tokenizer.get_vocab()
    if a == b:
        return
    only = len(set(a.items()) ^ set(b.items()))
    raise LogitscopeError(
        f"{second.info.name} does not share {first.info.name}'s tokenizer ({len(b):,} vs {len(a):,} tokens, "
        f"{only:,} entries differ), so the same text would be other token ids: pick a model of the same "
        "family and tokenizer.")


def load_second(first: LoadedModel, spec: str, progress: Progress | None = None) -> LoadedModel:
    """The model `spec` on the first one's device and number type, or a LogitscopeError that says why
    not (it does not fit beside the first, or its tokenizer differs)."""
    device = str(first.device)
    dtype = str(first.adapter.dtype).removeprefix("torch.")
    second = load_model(spec, device=device, progress=progress, dtype=dtype)
    check_same_tokenizer(first, second)
    return second
