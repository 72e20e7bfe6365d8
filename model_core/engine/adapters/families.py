"""The families of causal LMs the test suite checks, and what each needs beyond discovery.

Where a model keeps its blocks, norms, attention, MLP, router, embeddings and unembedding is
found from the model itself (`discovery.py`). What cannot be found that way is said here, per
family, in a few fields:

- `capture`: how attention is recorded. Most families send every attention call through
  transformers' `AttentionInterface`, so one registered function sees what every head used
  (`capture.py`). GPT-J, Falcon and BLOOM compute attention inside their own modules; they are
  loaded with eager attention and recorded by hooks on those modules (`eager_capture.py`).
- `parallel`: the block runs attention and the MLP on the same input (GPT-J, Pythia, Phi,
  Falcon-7B, Cohere, StableLM with `use_parallel_residual`), so the "mid-block" stream is not a
  state the model computes. True, or the config flags that switch it on.
- `post_ln`: the config flag whose False value means norms come after the residual add (OPT-350m).
- `kv_heads`: the number of key/value heads when the config does not say it plainly (Falcon).

Everything else that differs between families is read from the config by the adapter, the same
way for every family that has it: Granite's `residual_multiplier`, the final-logit transforms
(`final_logit_softcapping`, `logits_scaling`, `logit_scale`), post-norm blocks (a
`post_feedforward_layernorm` in every block), and attention's own extras (`softcap`, sinks),
which arrive as keyword arguments of the attention call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

INTERFACE, GPTJ_HOOKS, FALCON_HOOKS, BLOOM_HOOKS = "interface", "gptj", "falcon", "bloom"


@dataclass(frozen=True)
class Family:
    """One family of causal LMs: its name for people, its transformers model types, and the maths
    discovery cannot see."""

    name: str
    model_types: tuple[str, ...]
    capture: str = INTERFACE
    parallel: bool | tuple[str, ...] = False
    post_ln: str | None = None
    kv_heads: Callable[[object], int] | None = None
    notes: tuple[str, ...] = ()
    tested: bool = True

    @property
    def eager(self) -> bool:
        """Loaded with transformers' eager attention (its modules do not use the interface)."""
        return self.capture != INTERFACE

    def is_parallel(self, config) -> bool:
        if isinstance(self.parallel, bool):
            return self.parallel
        return any(bool(getattr(config, flag, False)) for flag in self.parallel)

    def is_post_ln(self, config) -> bool:
        return self.post_ln is not None and not getattr(config, self.post_ln, True)

    def n_kv_heads(self, config) -> int:
        if self.kv_heads is not None:
            return self.kv_heads(config)
        return getattr(config, "num_key_value_heads", None) or config.num_attention_heads


def _falcon_kv_heads(config) -> int:
    # num_kv_heads is set (4 by default) even for multi-query checkpoints, whose real count is 1.
    if config.new_decoder_architecture:
        return config.num_kv_heads
    return 1 if config.multi_query else config.num_attention_heads


def _bigcode_kv_heads(config) -> int:
    return 1 if config.multi_query else config.num_attention_heads


_SOFTCAP_LOGITS = "final-logit softcapping tanh(z/c)·c, applied in the logit lens too"
_SLIDING = "sliding-window layers (the window is in the mask, so the captured weights show it)"
_PARTIAL_ROTARY = "rotary positions on part of each head"
_EAGER = "attention computed inside its own modules: loaded with eager attention and recorded by hooks"

FAMILIES: tuple[Family, ...] = (
    Family("GPT-2", ("gpt2",), notes=("learned positions; fused c_attn",)),
    Family("GPT-BigCode", ("gpt_bigcode",), kv_heads=_bigcode_kv_heads,
           notes=("multi-query attention (one key/value head)",)),
    Family("GPT-J", ("gptj",), capture=GPTJ_HOOKS, parallel=True,
           notes=(_EAGER, "parallel attention + MLP", "interleaved rotary on the first rotary_dim dimensions")),
    Family("GPT-NeoX (Pythia)", ("gpt_neox",), parallel=("use_parallel_residual",),
           notes=(_PARTIAL_ROTARY, "parallel attention + MLP with two norms (use_parallel_residual)")),
    Family("OPT", ("opt",), post_ln="do_layer_norm_before",
           notes=("learned positions (offset 2); pre-scaled queries",
                  "OPT-350m: post-LN blocks and project_in/project_out, applied in the logit lens")),
    Family("Falcon", ("falcon",), capture=FALCON_HOOKS, parallel=("parallel_attn", "new_decoder_architecture"),
           kv_heads=_falcon_kv_heads,
           notes=(_EAGER, "multi-query / grouped key-value heads",
                  "ALiBi checkpoints (falcon-rw): transformers' eager attention adds ALiBi twice; shown as computed")),
    Family("BLOOM", ("bloom",), capture=BLOOM_HOOKS,
           notes=(_EAGER, "ALiBi position biases", "embedding LayerNorm",
                  "attention and MLP modules add the residual themselves (their update is output − residual)")),
    Family("Llama", ("llama",)),
    Family("Mistral", ("mistral",), notes=(_SLIDING,)),
    Family("Qwen2", ("qwen2",), notes=(_SLIDING + " from max_window_layers on",)),
    Family("Qwen3", ("qwen3",), notes=("per-head query/key norms",)),
    Family("Gemma", ("gemma",), notes=("embedding scaled by √d inside the embedding module", "RMSNorm with (1 + w)")),
    Family("Gemma 2", ("gemma2",),
           notes=("attention-logit softcapping (the captured weights are the softcapped ones)", _SLIDING,
                  "post-norms: attention's update is the post-attention norm's output", _SOFTCAP_LOGITS,
                  "embedding scaled by √d")),
    Family("Gemma 3 (text)", ("gemma3_text",),
           notes=(_SLIDING, "post-norms: attention's update is the post-attention norm's output", _SOFTCAP_LOGITS,
                  "embedding scaled by √d")),
    Family("Phi", ("phi",), parallel=True, notes=(_PARTIAL_ROTARY, "parallel attention + MLP with one norm")),
    Family("Phi-3", ("phi3",), notes=("fused gate/up projection", _SLIDING + " when configured")),
    Family("StableLM", ("stablelm",), parallel=("use_parallel_residual",),
           notes=(_PARTIAL_ROTARY, "optional per-head query/key LayerNorm")),
    Family("Granite", ("granite",),
           notes=("updates scaled by residual_multiplier; embeddings by embedding_multiplier",
                  "logits divided by logits_scaling, in the logit lens too")),
    Family("StarCoder2", ("starcoder2",), notes=(_SLIDING,)),
    Family("OLMo", ("olmo",), notes=("queries/keys/values clipped (clip_qkv) before attention",)),
    Family("OLMo 2", ("olmo2",),
           notes=("post-norms only: attention's update is the post-attention norm's output",)),
    Family("Cohere (Command R)", ("cohere",), parallel=True,
           notes=("parallel attention + MLP", "logits multiplied by logit_scale, in the logit lens too")),
    Family("Cohere 2", ("cohere2",), parallel=True,
           notes=("parallel attention + MLP", _SLIDING, "logits multiplied by logit_scale")),
    Family("Mixtral", ("mixtral",), notes=("mixture of experts: softmax, top-k, renormalised", _SLIDING)),
    Family("Qwen2-MoE", ("qwen2_moe",),
           notes=("mixture of experts: softmax, top-k, renormalised only with norm_topk_prob",
                  "a shared expert on every token with its own sigmoid gate")),
    Family("Qwen3-MoE", ("qwen3_moe",), notes=("mixture of experts: softmax, top-k, norm_topk_prob",)),
    Family("OLMoE", ("olmoe",), notes=("mixture of experts: softmax, top-k, norm_topk_prob",)),
    Family("Granite-MoE", ("granitemoe",),
           notes=("mixture of experts: top-k of the logits, softmax over the chosen",
                  "updates scaled by residual_multiplier; logits divided by logits_scaling")),
    Family("GPT-OSS", ("gpt_oss",),
           notes=("attention sinks: one extra logit per head, so a row sums to less than 1", _SLIDING,
                  "mixture of experts: top-k of the logits, softmax over the chosen")),
)


def family_for(model_type: str) -> Family | None:
    """The tested family of a transformers model type, or None."""
    for family in FAMILIES:
        if model_type in family.model_types:
            return family
    return None


def untested_family(model_type: str) -> Family:
    """A family opened through discovery alone (checked against eager attention when it loads)."""
    return Family(model_type, (model_type,), tested=False,
                  notes=("not one of the tested families: opened through discovery, checked against "
                         "transformers' eager attention on load",))


def supported_names() -> list[str]:
    return [family.name for family in FAMILIES]
