"""A family's trace against plain transformers: the numbers the per-family tests assert on.

`compare(lm, folder, text)` loads the same checkpoint with transformers' eager attention
(`output_attentions`, `output_hidden_states`) and returns the largest differences between what
Logitscope shows and what transformers computes. Nothing here uses the adapter's findings to
build the reference: blocks are found by their count, sub-layers by the names transformers gives
them (the tables below), so a wrong discovery shows up as a difference.

    python -m tests.model_core.family_checks          # the table for every spec (README, issue notes)
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import AutoModelForCausalLM

from model_core.engine.tracing import run_trace
from model_core.types.model_info import PARALLEL, POST_LN

TEXT = "The capital of Germany is Berlin. The capital of France is"
TOLERANCE = 2e-3  # probabilities, attention, residual stream (relative to its scale), lens

# The module whose INPUT is the stream after attention in a sequential block (the pre-MLP norm,
# or the MLP itself where there is none), by transformers' names.
_PRE_MLP = {"gpt2": "ln_2", "gpt2@scaled": "ln_2", "gpt_bigcode": "ln_2", "opt": "final_layer_norm",
            "gemma2": "pre_feedforward_layernorm", "gemma3_text": "pre_feedforward_layernorm", "olmo2": "mlp"}
_ATTENTION = {"gptj": "attn", "gpt_neox": "attention", "falcon": "self_attention", "falcon@nda": "self_attention"}


def reference_blocks(model) -> torch.nn.ModuleList:
    n = model.config.num_hidden_layers
    lists = [(name, m) for name, m in model.named_modules()
             if isinstance(m, torch.nn.ModuleList) and len(m) == n and "expert" not in name]
    return min(lists, key=lambda item: len(item[0]))[1]


def _rows(t: torch.Tensor) -> torch.Tensor:
    """[T, n] of a batch-1 [1, T, n] tensor or a flattened [T, n] one (OPT flattens inside its blocks)."""
    return t.reshape(-1, t.shape[-1]).detach().clone()


def _hook_inputs(modules, store):
    return [m.register_forward_pre_hook(lambda _m, args, i=i: store.__setitem__(i, _rows(args[0])))
            for i, m in enumerate(modules)]


def _hook_outputs(modules, store):
    def hook(i):
        return lambda _m, _a, out: store.__setitem__(i, _rows(out[0] if isinstance(out, tuple) else out))

    return [m.register_forward_hook(hook(i)) for i, m in enumerate(modules)]


def reference(folder, ids: list[int], spec: str, layout: str):
    """Plain transformers on `ids`, plus the stream after attention (sequential blocks) or the MLP
    outputs (parallel blocks) from hooks on the modules transformers names."""
    model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32).eval()
    blocks = reference_blocks(model)
    mids: dict[int, torch.Tensor] = {}
    mlp_out: dict[int, torch.Tensor] = {}
    attn_out: dict[int, torch.Tensor] = {}
    handles = []
    if layout == PARALLEL:
        handles += _hook_outputs([b.mlp for b in blocks], mlp_out)
        handles += _hook_outputs([getattr(b, _ATTENTION.get(spec, "self_attn")) for b in blocks], attn_out)
    elif layout != POST_LN:
        name = _PRE_MLP.get(spec, "post_attention_layernorm")
        handles += _hook_inputs([getattr(b, name) for b in blocks], mids)
    with torch.no_grad():
        out = model(torch.tensor([ids]), output_attentions=True, output_hidden_states=True, use_cache=False)
    for h in handles:
        h.remove()
    return model, out, mids, mlp_out, attn_out


def compare(lm, folder, spec: str, text: str = TEXT) -> dict[str, float]:
    """Largest absolute differences, Logitscope vs transformers (residual: relative to its largest value)."""
    trace = run_trace(lm, text)
    ids = trace.tokens.ids.tolist()
    layout = lm.info.block_layout
    model, out, mids, mlp_out, attn_out = reference(folder, ids, spec, layout)
    n = lm.info.n_layers
    probs = torch.softmax(out.logits[0, -1].float(), -1).numpy()
    attention = np.stack([a[0].numpy() for a in out.attentions])
    hidden = [h[0].numpy() for h in out.hidden_states]
    scale = max(float(np.abs(h).max()) for h in hidden)
    with torch.no_grad():  # hidden_states[-1] is the final-normed (and, for OPT-350m, projected) stream
        final = lm.adapter.final(torch.from_numpy(trace.residual[-1])).numpy()
    diffs = {
        "probs": float(np.abs(trace.next_probs - probs).max()),
        "attention": float(np.abs(trace.attention.astype(np.float32) - attention).max()),
        "residual": max(float(np.abs(trace.residual[:n] - np.stack(hidden[:n])).max()),
                        float(np.abs(final - hidden[-1]).max())) / scale,
        "lens": float(np.abs(np.exp(trace.lens_logprobs[-1]) - probs).max()),
        "logits": float(np.abs(trace.next_logits - out.logits[0, -1].numpy()).max()),
    }
    if layout == PARALLEL:  # attn_out is attention's own output, and with the MLP's it makes the block's update
        diffs["attn_out"] = max(
            float(np.abs(trace.attn_out[i] - attn_out[i].numpy()).max()) for i in range(n)) / scale
        change = trace.residual[1:] - trace.residual[:-1]
        diffs["attn_out"] = max(diffs["attn_out"], float(np.abs(
            trace.attn_out + np.stack([mlp_out[i].numpy() for i in range(n)]) - change).max()) / scale)
    elif layout == POST_LN:
        diffs["attn_out"] = 0.0 if np.isnan(trace.attn_out).all() else float("inf")
    else:  # residual + attn_out is the stream the MLP's side of the block reads
        diffs["attn_out"] = float(np.abs(trace.mid_residual - np.stack([mids[i].numpy() for i in range(n)])).max()) / scale
    diffs["n_tokens"] = len(ids)
    return diffs


def main() -> None:
    import tempfile
    import warnings
    from pathlib import Path

    from transformers.utils import logging

    from model_core.engine.loading import load_model
    from tests.model_families import EXTRAS, FAMILIES, save_tiny

    warnings.filterwarnings("ignore")
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    print("| spec | family | probabilities | attention | residual (rel.) | lens | attn_out (rel.) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for spec in FAMILIES + EXTRAS:
            folder = save_tiny(spec, Path(tmp) / spec.replace("@", "-"))
            lm = load_model(str(folder), device="cpu")
            d = compare(lm, folder, spec)
            print(f"| {spec} | {lm.info.architecture} | {d['probs']:.1e} | {d['attention']:.1e} | "
                  f"{d['residual']:.1e} | {d['lens']:.1e} | {d['attn_out']:.1e} |")


if __name__ == "__main__":
    main()
