"""Which family a model type belongs to, or one sentence saying why Logitscope cannot open it.

A tested family opens directly. Another model type opens when transformers builds it as a
causal LM and discovery finds causal attention blocks in it: the model is built on the meta
device (no memory, no weights) and looked at before anything is loaded. After loading, such a
model is checked against transformers' eager attention (`engine/self_check.py`).
"""

from __future__ import annotations

from model_core.engine.adapters import discovery
from model_core.engine.adapters.families import FAMILIES, Family, family_for, untested_family
from model_core.errors import UnsupportedModelError


def supported_text() -> str:
    return ", ".join(f"{f.name} ({'/'.join(f.model_types)})" for f in FAMILIES)


def unsupported(model_type: str, reason: str) -> UnsupportedModelError:
    return UnsupportedModelError(
        f"Logitscope cannot open {model_type!r} models: {reason}; supported: {supported_text()}, "
        "and other decoder-only models whose attention goes through transformers' attention interface."
    )


def resolve_family(model_type: str, folder=None, config=None) -> Family:
    """The family for `model_type`; for an untested one, discovery runs on a meta-device copy built
    from `config` (a transformers config) or from `folder`'s config.json. UnsupportedModelError otherwise."""
    family = family_for(model_type)
    if family is not None:
        return family
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if model_type not in CONFIG_MAPPING_NAMES:
        raise unsupported(model_type, f"transformers {transformers.__version__} does not know this model type")
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise unsupported(model_type, "transformers cannot build it as a causal language model")
    family = untested_family(model_type)
    _check_structure(model_type, family, folder, config)
    return family


def _check_structure(model_type: str, family: Family, folder, config) -> None:
    """Build the model on the meta device and run discovery on it: blocks, causal attention, MLP."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from model_core.engine.adapters.adapter import ModelAdapter

    try:
        if config is None:
            config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config, trust_remote_code=False)
    except Exception as exc:  # a config transformers cannot build: say so in one line
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0][:200]
        raise unsupported(model_type, f"transformers cannot build it from this config ({first})") from exc
    try:
        _blocks_path, blocks = discovery.find_blocks(model, int(model.config.num_hidden_layers))
        for block in blocks:
            for module in discovery.find_attention(block)[1].modules():
                if getattr(module, "is_causal", True) is False:
                    raise unsupported(model_type, "its attention reads the whole text both ways, so it is not a "
                                                  "causal language model")
        adapter = ModelAdapter(model, family)
    except UnsupportedModelError as exc:
        if str(exc).startswith("Logitscope cannot open"):
            raise
        raise unsupported(model_type, str(exc).rstrip(".")) from exc
    if not any(discovery.is_norm(m) for m in adapter.blocks[0].modules()):
        raise unsupported(model_type, "its blocks have no norms Logitscope can find")
