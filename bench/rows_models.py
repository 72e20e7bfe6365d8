"""Rows 8 and 9: a trace of a mixture-of-experts model, and of a model whose blocks wait on disk,
each against plain transformers on the same configuration.

- MoE: a Mixtral-shaped model (bench/models.py); the baseline is transformers' eager forward
  with output_attentions, output_hidden_states and output_router_logits, i.e. the same facts
  the trace records (ours also turns the router logits into choices and gate weights).
- Offloaded: GPT-2 small with a CPU budget that holds about half of it; the rest is read from
  the offload folder as each layer runs. Both sides load with the same device map, so the
  ratio shows what tracing adds on top of the disk reads both pay.
"""

from __future__ import annotations

import sys

import torch

from bench.models import (
    gpt2_small_folder,
    load_baseline,
    load_ours,
    mixtral_small_folder,
    offload_folder,
    prompt_ids,
)
from bench.timing import interleaved, row

MOE_TARGET = 1.0  # the experts dominate both sides; the trace (routers recorded too) must not cost more
OFFLOAD_TARGET = 1.1  # disk reads dominate both sides: tracing may add little on top
OFFLOAD_BUDGET = {"cpu": 250 * 2**20}  # about half of GPT-2 small's 500 MB in float32


def _trace_vs_forward(label: str, lm, base, lengths, target: float, repeats: int, **forward_flags) -> list[dict]:
    from model_core.engine.tracing import trace_ids

    rows = []
    for n in lengths:
        ids = prompt_ids(n, lm.info.vocab_size)
        input_ids = torch.tensor([ids])

        def ours(ids=ids):
            trace_ids(lm, ids, lens=False)

        def baseline(input_ids=input_ids):
            with torch.inference_mode():
                base(input_ids=input_ids, output_attentions=True, output_hidden_states=True, **forward_flags)

        o, b = interleaved(ours, baseline, repeats)
        rows.append(row(f"trace {label}, {n} tokens", o, b, target))
        print(f"  … {rows[-1]['name']}: {o:.1f} ms vs {b:.1f} ms", file=sys.stderr, flush=True)
    return rows


def moe_rows(quick: bool) -> list[dict]:
    folder = mixtral_small_folder()
    lm, base = load_ours(folder), load_baseline(folder)
    label = f"MoE (Mixtral-shaped, {lm.info.n_experts} experts, {lm.info.experts_per_token} per token)"
    rows = _trace_vs_forward(label, lm, base, [12, 64] if quick else [12, 64, 256], MOE_TARGET,
                             3 if quick else 5, output_router_logits=True)
    rows[0]["note"] = (f"{lm.info.n_params / 1e6:.0f}M parameters, {lm.info.n_active_params / 1e6:.0f}M active per "
                       "token; baseline also returns router logits")
    return rows


def offload_rows(quick: bool) -> list[dict]:
    folder = gpt2_small_folder()
    lm = load_ours(folder, max_memory=OFFLOAD_BUDGET, offload_folder=offload_folder())
    base = load_baseline(folder, max_memory=OFFLOAD_BUDGET, offload_folder=offload_folder())
    rows = _trace_vs_forward("gpt2-small, half offloaded to disk", lm, base, [12] if quick else [12, 64],
                             OFFLOAD_TARGET, 3 if quick else 5)
    rows[0]["note"] = f"placement: {lm.info.placement_text()}; both sides on the same device map"
    return rows


def model_rows(quick: bool) -> list[dict]:
    return moe_rows(quick) + offload_rows(quick)
