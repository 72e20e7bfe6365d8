"""Attribution of one token on the built-in model, 12-token prompt: each method against one plain
transformers forward + backward of the same model (the gradient of the target's logit with respect to
the input embeddings), measured side by side."""

from __future__ import annotations

import sys

import torch

from bench.models import builtin_folder, load_baseline, load_ours, prompt_ids
from bench.timing import interleaved, row

N_TOKENS = 12
IG_STEPS = 32
TARGETS = {"grad-x-input": 3.0, "integrated-gradients": 16.0, "rollout": 2.0, "flow": 3.0}


def attribution_rows(quick: bool) -> list[dict]:
    from model_core.engine.attribution.attribute import attribute

    folder = builtin_folder()
    lm = load_ours(folder, "cpu")
    base = load_baseline(folder, "cpu")
    ids = prompt_ids(N_TOKENS, lm.info.vocab_size)
    target = 7042  # ' Paris' in SmolLM2's vocabulary; any id does
    base.requires_grad_(False)  # like ours: only the input embeddings need a gradient
    input_ids = torch.tensor([ids])

    def baseline():  # one forward + backward: d logit / d input embeddings
        embeds = base.get_input_embeddings()(input_ids).detach().requires_grad_(True)
        base(inputs_embeds=embeds).logits[0, -1, target].backward()

    repeats = 3 if quick else 5
    rows = []
    for method in ("grad-x-input", "integrated-gradients", "rollout", "flow"):
        def ours(method=method):
            attribute(lm, ids, target, method, steps=IG_STEPS)

        o, b = interleaved(ours, baseline, repeats)
        what = f"{method} ({IG_STEPS} steps, batches of 8)" if method == "integrated-gradients" else method
        rows.append(row(f"attribution: {what}, built-in model, {N_TOKENS} tokens", o, b, TARGETS[method],
                        note="baseline: one plain forward + backward" if method == "grad-x-input" else None))
        print(f"  … {rows[-1]['name']}: {o:.1f} ms vs {b:.1f} ms", file=sys.stderr, flush=True)
    return rows


if __name__ == "__main__":
    for r in attribution_rows(quick="--quick" in sys.argv):
        print(r)
