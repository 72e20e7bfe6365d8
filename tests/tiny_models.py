"""Tiny random GPT-2 and Llama checkpoints saved to disk, loaded like real ones (and a Llama
with a chat template of its own, unlike the built-in model's, for the chat view).

Our machines are offline, so GPT-2 code paths are tested on small random
configs written to a folder and read back through `load_model`, the same code
path a downloaded checkpoint takes.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CORPUS = [
    "The capital of Germany is Berlin. The capital of France is Paris.",
    "The trophy didn't fit in the suitcase because it was too big.",
    "The animal didn't cross the street because it was too tired.",
    "ubiquitous strawberry 12 + 34 = 46. Hello world!",
] * 20


def byte_level_tokenizer(bos: bool = False) -> PreTrainedTokenizerFast:
    """A small byte-level BPE (the GPT-2 scheme) trained on a few sentences."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    if bos:
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|endoftext|>",
        bos_token="<s>",
    )


def save_tiny_gpt2(folder: Path, n_positions: int = 128) -> Path:
    torch.manual_seed(0)
    tokenizer = byte_level_tokenizer()
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=n_positions, n_embd=48, n_layer=3, n_head=4,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def save_tiny_llama(folder: Path) -> Path:
    torch.manual_seed(1)
    tokenizer = byte_level_tokenizer(bos=True)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=48, intermediate_size=96, num_hidden_layers=3,
        num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=128,
        bos_token_id=1, eos_token_id=0, tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # random init is near-uniform; sharpen so top tokens differ clearly
        for p in model.parameters():
            p.mul_(3.0)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def save_tiny_gpt2_with_nan(folder: Path) -> Path:
    """Tiny GPT-2 whose second block's MLP weights hold NaN, as a broken fine-tune might."""
    save_tiny_gpt2(folder)
    model = GPT2LMHeadModel.from_pretrained(folder)
    with torch.no_grad():
        model.transformer.h[1].mlp.c_fc.weight[0, :5] = float("nan")
    model.save_pretrained(folder, safe_serialization=True)
    return folder


# Not the built-in model's template: a BOS first, a different default system prompt, turns trimmed.
TINY_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% if messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are Tiny, a test assistant.<|im_end|>\n' }}"
    "{% endif %}"
    "{% for m in messages %}"
    "{{ '<|im_start|>' + m['role'] + '\n' + (m['content'] | trim) + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TINY_DEFAULT_SYSTEM = "You are Tiny, a test assistant."


def save_tiny_chat_llama(folder: Path) -> Path:
    """A tiny Llama whose tokenizer has ChatML control tokens and a chat template; its generation
    config ends at <|im_end|> (end of turn) and <|endoftext|> (end of text)."""
    torch.manual_seed(2)
    tokenizer = byte_level_tokenizer(bos=True)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tokenizer.chat_template = TINY_CHAT_TEMPLATE
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=48, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        bos_token_id=1, eos_token_id=[im_end, 0], tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
