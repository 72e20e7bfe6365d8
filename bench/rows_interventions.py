"""Interventions (#15) on the built-in model, 12 tokens: a trace with one head ablated against the plain
trace (the hooks' cost), and the ablation scan and the patching grid batched against the same forward
passes run one at a time (what batching saves). Absolute seconds are printed beside the ratios."""

from __future__ import annotations

import sys

from bench.models import load_ours
from bench.timing import interleaved, row

PROMPT = "The capital of Germany is Berlin. The capital of France is"  # 12 tokens on the built-in model
CORRUPT = "The capital of Germany is Berlin. The capital of Italy is"


def intervention_rows(quick: bool) -> list[dict]:
    from model_core.engine.interventions.applied import clear_interventions, set_interventions
    from model_core.engine.interventions.patching import activation_patching
    from model_core.engine.interventions.scan import ablation_scan
    from model_core.engine.tracing import encode, trace_ids
    from model_core.types.interventions import Ablation, InterventionSet

    lm = load_ours("builtin")
    ids, corrupt = encode(lm, PROMPT), encode(lm, CORRUPT)
    rows = []

    def ablated():
        set_interventions(lm, InterventionSet((Ablation("head", 23, 4),)))
        try:
            trace_ids(lm, ids, lens=False)
        finally:
            clear_interventions(lm)

    o, b = interleaved(ablated, lambda: trace_ids(lm, ids, lens=False), 3 if quick else 7)
    rows.append(row(f"trace with one head ablated vs plain trace, built-in, {len(ids)} tokens", o, b, 1.1))
    print(f"  … {rows[-1]['name']}: {o:.0f} ms vs {b:.0f} ms", file=sys.stderr, flush=True)

    o, b = interleaved(lambda: ablation_scan(lm, ids), lambda: ablation_scan(lm, ids, batch=1), 1, warmup=0)
    rows.append(row(f"ablation scan (every head, attention, MLP) batched vs one pass each, {len(ids)} tokens",
                    o, b, 0.5, note=f"{o / 1000:.1f} s vs {b / 1000:.1f} s"))
    print(f"  … {rows[-1]['name']}: {o / 1000:.1f} s vs {b / 1000:.1f} s", file=sys.stderr, flush=True)

    o, b = interleaved(lambda: activation_patching(lm, ids, corrupt, heads=False),
                       lambda: activation_patching(lm, ids, corrupt, heads=False, batch=1), 1, warmup=0)
    rows.append(row(f"patching grid (layer × position) batched vs one pass each, {len(ids)} tokens",
                    o, b, 0.5, note=f"{o / 1000:.1f} s vs {b / 1000:.1f} s"))
    print(f"  … {rows[-1]['name']}: {o / 1000:.1f} s vs {b / 1000:.1f} s", file=sys.stderr, flush=True)
    return rows


if __name__ == "__main__":  # python -m bench.rows_interventions: these rows alone
    for r in intervention_rows(quick="--quick" in sys.argv):
        print(r)
