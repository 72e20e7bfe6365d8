"""A GGUF's quantised blocks under transformers' tensor names, and their expansion to float32.

Why: the packaged app used to carry the built-in model as converted float32 safetensors (517 MB
of a 1.6 GB bundle). It now carries the GGUF's own Q4_1 / Q8_0 blocks (97 MB), byte for byte,
in a safetensors file keyed by the names transformers gives the weights (and with query/key rows
already in transformers' order), so the first start expands them with the `gguf` package's numpy
dequantisers in about 2 s instead of reading the GGUF again (its vocabulary alone takes 4 s to
parse) or converting it through transformers (about 20 s). The expansion is bit-identical to
transformers' own GGUF conversion: both call `gguf.quants.dequantize` on the same blocks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

TYPES_KEY = "ggml_types"  # safetensors metadata: {tensor name: GGML type name}
SOURCE_KEY = "gguf_sha256"  # the digest of the GGUF the blocks came from


def pack(gguf_path: Path, config_dir: Path, target: Path, gguf_sha256: str) -> None:
    """Write `gguf_path`'s blocks, renamed and row-ordered for the model in `config_dir`, to `target`.

    The mapping and the row order come from transformers' GGUF loader (its name map and its tensor
    processor for the architecture), applied to row indices rather than to dequantised weights:
    the blocks run along each row, so reordering rows of blocks is exact.
    """
    import torch
    from gguf import GGUFReader
    from safetensors.numpy import save_file
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.modeling_gguf_pytorch_utils import (
        TENSOR_PROCESSORS,
        TensorProcessor,
        get_gguf_hf_weights_map,
    )

    config = AutoConfig.from_pretrained(config_dir)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    processor = TENSOR_PROCESSORS.get(config.model_type, TensorProcessor)(config=config.to_dict())
    names = get_gguf_hf_weights_map(model, processor)
    blocks: dict[str, np.ndarray] = {}
    types: dict[str, str] = {}
    for tensor in GGUFReader(gguf_path).tensors:
        order = processor.process(weights=np.arange(tensor.data.shape[0]), name=tensor.name).weights
        if tensor.name not in names:
            raise ValueError(f"{gguf_path.name}: no transformers weight for the GGUF tensor {tensor.name}")
        name = names[tensor.name]
        blocks[name] = np.ascontiguousarray(tensor.data[order])
        types[name] = tensor.tensor_type.name
    expected = {n for n in model.state_dict() if not (config.tie_word_embeddings and n == "lm_head.weight")}
    if set(blocks) != expected:
        raise ValueError(f"{gguf_path.name} does not cover the model: missing {sorted(expected - set(blocks))[:3]}")
    save_file(blocks, str(target), metadata={TYPES_KEY: json.dumps(types), SOURCE_KEY: gguf_sha256})


def expand(packed: Path, target: Path, check: Callable[[], None] = lambda: None) -> None:
    """Dequantise the blocks in `packed` to float32 and write them to `target` as safetensors.

    `check` is called between tensors (cancel).
    """
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize
    from safetensors import safe_open
    from safetensors.numpy import save_file

    weights: dict[str, np.ndarray] = {}
    with safe_open(str(packed), framework="numpy") as f:
        types = json.loads(f.metadata()[TYPES_KEY])
        for name in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
            check()
            weights[name] = dequantize(f.get_tensor(name), GGMLQuantizationType[types[name]]).astype(
                np.float32, copy=False)
    check()
    save_file(weights, str(target), metadata={"format": "pt"})
