"""Benchmark models: a GPT-2-small-shaped random checkpoint, saved and loaded like a real one.

The machines are offline, so GPT-2 small is rebuilt with random weights (same shapes:
12 layers, 12 heads, width 768, vocabulary 50257, 1024 positions) and written to a
folder with safetensors; `load_model(folder)` then takes the same path a download does.
The tokenizer is the real GPT-2 BPE, rebuilt from the bundled tiktoken rank file, so the
window's vocabulary labels and token tables cover every id the model can produce.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import torch

GPT2_SMALL = dict(n_layer=12, n_head=12, n_embd=768, vocab_size=50257, n_positions=1024)
ENDOFTEXT = "<|endoftext|>"


def gpt2_tokenizer():
    """The GPT-2 byte-level BPE as a Hugging Face fast tokenizer, built offline from tiktoken ranks."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from model_core.text.hf_bytes import byte_level_encode
    from model_core.text.tokenizer_compare import load_ranks

    ranks = load_ranks("gpt2")
    vocab = {byte_level_encode(token): rank for token, rank in ranks.items()}
    merges = []
    for token, rank in ranks.items():
        if len(token) < 2:
            continue
        local = [(token[:i], token[i:], rank) for i in range(1, len(token))
                 if token[:i] in ranks and token[i:] in ranks]
        local.sort(key=lambda m: (ranks[m[0]], ranks[m[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: m[2])
    merges = [(byte_level_encode(a), byte_level_encode(b)) for a, b, _ in merges]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(ENDOFTEXT, special=True)])  # id 50256
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=ENDOFTEXT, bos_token=ENDOFTEXT)


def save_gpt2_small(folder: Path) -> Path:
    """Write a random GPT-2-small-shaped model plus tokenizer to `folder`."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = gpt2_tokenizer()
    assert len(tokenizer) == GPT2_SMALL["vocab_size"], len(tokenizer)
    config = GPT2Config(**GPT2_SMALL, bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    model = GPT2LMHeadModel(config)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@functools.cache
def gpt2_small_folder() -> Path:
    """One folder per benchmark process (removed at exit with the temp dir)."""
    tmp = tempfile.TemporaryDirectory(prefix="logitscope-bench-")
    _KEEP.append(tmp)
    return save_gpt2_small(Path(tmp.name) / "gpt2-small-random")


_KEEP: list = []

# A Mixtral-shaped mixture of experts, small enough for a laptop: 8 experts, 2 per token, 4 layers
# of width 512 (about 105M parameters, 67M active per token, half of them the GPT-2 vocabulary's embeddings).
MIXTRAL_SMALL = dict(hidden_size=512, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=8,
                     num_key_value_heads=4, num_local_experts=8, num_experts_per_tok=2,
                     max_position_embeddings=1024, vocab_size=50257, sliding_window=None)


def save_mixtral_small(folder: Path) -> Path:
    """Write a random Mixtral-shaped model plus the GPT-2 tokenizer to `folder`."""
    from transformers import MixtralConfig, MixtralForCausalLM

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = gpt2_tokenizer()
    config = MixtralConfig(**MIXTRAL_SMALL, bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    MixtralForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@functools.cache
def mixtral_small_folder() -> Path:
    tmp = tempfile.TemporaryDirectory(prefix="logitscope-bench-moe-")
    _KEEP.append(tmp)
    return save_mixtral_small(Path(tmp.name) / "mixtral-small-random")


def offload_folder() -> Path:
    """A fresh folder for offloaded weights, removed at exit with the temp dir."""
    tmp = tempfile.TemporaryDirectory(prefix="logitscope-bench-offload-")
    _KEEP.append(tmp)
    return Path(tmp.name)


def load_ours(folder: Path | str, device: str = "cpu", **options):
    """`options`: load_model's max_memory / offload_folder / dtype."""
    from model_core.engine.loading import load_model

    return load_model(str(folder), device=device, **options)


def load_baseline(folder: Path | str, device: str = "cpu", max_memory: dict | None = None,
                  offload_folder: Path | None = None):
    """Plain transformers, eager attention (so output_attentions is honoured); with `max_memory`,
    on the same accelerate device map as ours."""
    from transformers import AutoModelForCausalLM

    if max_memory is not None:
        model = AutoModelForCausalLM.from_pretrained(str(folder), attn_implementation="eager", dtype=torch.float32,
                                                     device_map="auto", max_memory=max_memory,
                                                     offload_folder=str(offload_folder))
        return model.eval()
    model = AutoModelForCausalLM.from_pretrained(str(folder), attn_implementation="eager",
                                                 dtype=torch.float32)
    return model.to(device).eval()


def builtin_folder() -> Path:
    """The converted built-in model's folder (already cached), for the plain-transformers baseline."""
    from model_core.engine.loading import resolve_source
    from model_core.progress import silent

    return Path(resolve_source("builtin", silent())[0])


def prompt_ids(n: int, vocab: int, seed: int = 0) -> list[int]:
    """n deterministic token ids (no special tokens) for prompts of exact length."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, min(vocab, 50000), (n,), generator=g).tolist()
