"""A tiny checkpoint written as a GGUF file, the way llama.cpp's converter writes one.

    write_gguf(folder_with_safetensors, path.gguf) -> path

Offline stand-in for the GGUF files people download: float32 tensors (so the numbers must come
back exactly), llama.cpp's tensor names (`gguf.get_tensor_name_map`), its permutation of the
query/key rows of Llama attention (which transformers undoes on load), the config as
`<arch>.*` metadata and the byte-level BPE as `tokenizer.ggml.*`. Llama and Qwen2 layouts
(GGUF has no sliding-window setting for Qwen2: write one without).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

_ARCH = {"llama": "LLAMA", "qwen2": "QWEN2"}


def _permute(weights: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's reordering of q/k rows (convert_hf_to_gguf.py `LlamaModel.permute`)."""
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def write_gguf(folder: Path, path: Path) -> Path:
    import gguf

    config = json.loads((folder / "config.json").read_text())
    model_type = config["model_type"]
    arch = getattr(gguf.MODEL_ARCH, _ARCH[model_type])
    name = gguf.MODEL_ARCH_NAMES[arch]
    n_layers, n_heads = config["num_hidden_layers"], config["num_attention_heads"]
    n_kv = config.get("num_key_value_heads") or n_heads
    writer = gguf.GGUFWriter(str(path), name)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(n_heads)
    writer.add_head_count_kv(n_kv)
    writer.add_rope_freq_base(float(config.get("rope_theta") or config.get("rope_parameters", {}).get("rope_theta", 1e4)))
    writer.add_layer_norm_rms_eps(float(config["rms_norm_eps"]))
    writer.add_vocab_size(config["vocab_size"])
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    tokenizer = json.loads((folder / "tokenizer.json").read_text())
    vocab = tokenizer["model"]["vocab"]
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda item: item[1])]
    special = {t["content"] for t in tokenizer.get("added_tokens", []) if t.get("special")}
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in tokens])
    merges = tokenizer["model"]["merges"]
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    writer.add_bos_token_id(config["bos_token_id"])
    writer.add_eos_token_id(config["eos_token_id"])
    writer.add_add_bos_token(True)

    names = gguf.get_tensor_name_map(arch, n_layers)
    state = load_file(str(folder / "model.safetensors"))
    for hf_name, tensor in state.items():
        base, _, suffix = hf_name.rpartition(".")
        gguf_name = names.get_name(base)
        if gguf_name is None:
            raise KeyError(f"no GGUF name for {hf_name}")
        data = tensor.to(torch.float32).numpy()
        if model_type == "llama" and hf_name.endswith("q_proj.weight"):  # llama.cpp permutes Llama's only
            data = _permute(data, n_heads)
        elif model_type == "llama" and hf_name.endswith("k_proj.weight"):
            data = _permute(data, n_kv)
        writer.add_tensor(f"{gguf_name}.{suffix}", np.ascontiguousarray(data))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
