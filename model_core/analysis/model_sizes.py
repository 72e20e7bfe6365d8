"""What a model of a given shape costs: a "build a model" calculator, from the shape alone.

A learner can see what 12 layers of width 768 cost, what the key/value cache costs per
token, and what training on D tokens costs (≈ 6·N·D floating-point operations). The
numbers match what `engine/probes/anatomy.py` counts on real weights.
"""

from __future__ import annotations

from dataclasses import dataclass

from model_core.types.model_info import size_text

GPT2_STYLE, LLAMA_STYLE = "gpt2", "llama"


@dataclass(frozen=True)
class BuildEstimate:
    """What a model of a given shape costs."""

    params: int
    breakdown: dict  # part key -> parameters (all copies)
    fp32_bytes: int
    fp16_bytes: int
    kv_bytes_per_token_fp16: int  # the key/value cache per token of context
    training_tokens: int
    training_flops: float  # ≈ 6 · active params · tokens
    active_params: int = 0  # parameters one token uses: all of them, less the experts it skips

    @property
    def active_share(self) -> float:
        return self.active_params / self.params if self.params else 1.0


def build_model(n_layers: int, d_model: int, n_heads: int, vocab_size: int, context: int,
                style: str = GPT2_STYLE, d_mlp: int | None = None, n_kv_heads: int | None = None,
                tied: bool = True, training_tokens: int = 0, n_experts: int = 0,
                experts_per_token: int = 0) -> BuildEstimate:
    """Parameter count of a GPT-2-style or Llama-style model from its shape alone.

    GPT-2: LayerNorm (weight + bias), fused QKV and output projections with biases, a 4·d
    MLP with biases, learned positions. Llama: RMSNorm (weight only), bias-free Q/K/V/O with
    grouped key/value heads, a gated MLP (gate, up, down), rotary positions (no parameters).

    With `n_experts` > 0 every block's MLP is a mixture of experts (Mixtral's layout): `n_experts`
    copies of the MLP (each `d_mlp` wide) and a bias-free router (d × E); a token runs through
    `experts_per_token` of them, so `active_params` leaves out the other experts' weights.
    """
    if min(n_layers, d_model, n_heads, vocab_size, context) <= 0 or d_model % n_heads:
        raise ValueError("layers, width, heads, vocabulary and context must be positive; width divisible by heads")
    d, v, n = d_model, vocab_size, n_layers
    head = d // n_heads
    kv = n_kv_heads or n_heads
    if style == GPT2_STYLE:
        m = d_mlp or 4 * d
        kv = n_heads
        norm = 2 * d
        attention = d * 3 * d + 3 * d + d * d + d
        mlp = d * m + m + m * d + d
        positions = context * d
    elif style == LLAMA_STYLE:
        m = d_mlp or int(8 * d / 3)
        if n_heads % kv:
            raise ValueError("query heads must be a multiple of key/value heads")
        norm = d
        attention = d * n_heads * head + 2 * d * kv * head + n_heads * head * d
        mlp = 3 * d * m
        positions = 0
    else:
        raise ValueError(f"unknown style {style!r}")
    skipped = 0  # per block: the experts a token does not use
    if n_experts:
        if not 1 <= experts_per_token <= n_experts:
            raise ValueError("experts per token must be between 1 and the number of experts")
        skipped = (n_experts - experts_per_token) * mlp
        mlp = n_experts * mlp + d * n_experts
    breakdown = {
        "embedding": v * d,
        "positions": positions,
        "norm1": n * norm,
        "attention": n * attention,
        "norm2": n * norm,
        "mlp": n * mlp,
        "final_norm": norm,
        "unembedding": 0 if tied else v * d,
    }
    params = sum(breakdown.values())
    active = params - n * skipped
    return BuildEstimate(
        params=params,
        breakdown=breakdown,
        fp32_bytes=4 * params,
        fp16_bytes=2 * params,
        kv_bytes_per_token_fp16=2 * n * kv * head * 2,
        training_tokens=training_tokens,
        training_flops=6.0 * active * training_tokens,  # compute follows what each token uses
        active_params=active,
    )


def human_count(n: float) -> str:
    """1234 -> '1.2 K', 124439808 -> '124.4 M'."""
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f}"


def human_bytes(n: float) -> str:
    """An estimate in the units the rest of the app writes sizes in (`size_text`, powers of 1000), so
    that the Anatomy panel's fp32 memory of the loaded model reads as the Model panel's weights do
    (it said 513.1 MB, in powers of 1024, beside 538.1 MB)."""
    return size_text(round(n))
