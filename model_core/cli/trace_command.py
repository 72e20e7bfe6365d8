"""`logitscope trace PROMPT` (or `--chat MESSAGE`): the tokens and the next-token distribution (and
the lens, a dump). With decoding knobs, each listed token also gets its probability after them and
the reasons a knob changed or removed it."""

from __future__ import annotations

import argparse
import json

import numpy as np

from model_core.analysis.experts import router_choices
from model_core.cli.common import (
    EXIT_OK,
    UsageError,
    add_knob_options,
    add_prompt_options,
    check_bias_ids,
    knob_settings,
    load,
    model_json,
    read_input,
    token_text,
)
from model_core.cli.intervention_options import (
    add_intervention_options,
    apply_interventions,
    interventions_from,
    interventions_json,
)
from model_core.output_files import check_output_path

NAME = "trace"
HELP = "tokens and the next-token distribution of a prompt"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_prompt_options(parser)
    parser.add_argument("--top-k", type=int, default=10, help="how many next tokens to list (default 10)")
    parser.add_argument("--dump", metavar="FILE.npz", help="write the full trace arrays to an .npz file")
    parser.add_argument("--lens", action="store_true", help="add the logit lens at the last position")
    add_knob_options(parser)
    add_intervention_options(parser)


def run(args: argparse.Namespace) -> int:
    text, conversation = read_input(args)
    if args.top_k < 0:
        raise UsageError("--top-k must be ≥ 0.")
    settings = knob_settings(args)
    intervened = len(interventions_from(args)) > 0 or args.steer_towards is not None  # bad options: exit 2 now
    if args.dump:
        check_output_path(args.dump)  # before the model loads: a bad path is said at once
    from model_core.analysis.sampling import SamplingSettings, shape_distribution
    from model_core.engine.lens import with_lens
    from model_core.engine.stepper import Stepper
    from model_core.engine.tracing import run_trace
    from model_core.types.trace_files import save_trace_npz

    lm = load(args)
    check_bias_ids(settings, lm.info.vocab_size)

    def make_trace():
        if conversation is not None:
            return with_lens(lm, Stepper(lm, lens=False).start_chat(conversation, args.allow_special))
        return run_trace(lm, text, allow_special=args.allow_special)

    before = make_trace().next_probs if intervened else None  # the model as trained, for "before → after"
    interventions = apply_interventions(lm, args) if intervened else None
    trace = make_trace()
    probs = trace.next_probs
    knobs = settings != SamplingSettings()
    dist = shape_distribution(trace.next_logits, settings, trace.tokens.ids) if knobs else None
    k = max(1, min(args.top_k, len(probs)))
    top = dist.rows(k) if dist is not None else np.argsort(-probs)[:k]
    tokenizer = lm.tokenizer
    next_tokens = []
    for i in top:
        row = {"id": int(i), "text": token_text(tokenizer, i), "prob": float(probs[i]),
               "logit": float(trace.next_logits[i])}
        if before is not None:
            row["prob_before"] = float(before[i])
        if dist is not None:
            row.update(sampling_prob=float(dist.shaped[i]), kept=bool(dist.kept[i]), why=dist.reasons(int(i)))
        next_tokens.append(row)
    table = trace.tokens
    tokens = [{"id": int(i), "text": label, "control": True} if special else {"id": int(i), "text": t}
              for i, t, label, special in zip(table.ids, table.texts, table.labels, table.special, strict=True)]
    if args.dump:
        save_trace_npz(trace, args.dump)
    choices = router_choices(trace.router_ids, trace.router_weights, trace.n_tokens - 1) if trace.is_moe else []
    if args.json:
        result = {"model": model_json(lm.info), "tokens": tokens, "next_token": next_tokens}
        if interventions is not None:
            result["interventions"] = interventions_json(interventions)
        if trace.is_moe:  # which experts the last token went through, per MoE layer
            result["router"] = [{"layer": c.layer, "experts": list(c.experts), "weights": list(c.weights)}
                                for c in choices]
        if knobs:
            result["settings"] = {**vars(settings), "logit_bias": [list(e) for e in settings.logit_bias],
                                  "stop": list(settings.stop)}
        if args.lens:
            result["logit_lens"] = [
                [{"id": int(i), "text": token_text(tokenizer, i), "prob": float(p)} for i, p in zip(ids, ps, strict=True)]
                for ids, ps in zip(trace.lens_ids, trace.lens_probs, strict=True)
            ]
        print(json.dumps(result, ensure_ascii=False))
        return EXIT_OK
    print(f"{lm.info.summary()}")
    print(f"{trace.n_tokens} tokens: " + " | ".join(trace.tokens.labels))
    if interventions is not None:
        print("interventions: " + "; ".join(item.label() for item in interventions))
    print("next token:")
    for row in next_tokens:
        line = f"  {row['prob'] * 100:6.2f}%  {row['text']!r}  (id {row['id']}, logit {row['logit']:.2f})"
        if before is not None:
            line += f"  was {row['prob_before'] * 100:.2f}%"
        if dist is not None:
            line += f"  → {row['sampling_prob'] * 100:6.2f}% after the knobs"
            if row["why"]:
                line += f" ({'; '.join(row['why'])})"
        print(line)
    if choices:
        print("experts of the last token:")
        for c in choices:
            print(f"  layer {c.layer:2d}: " + ", ".join(f"#{e} {w:.2f}" for e, w in zip(c.experts, c.weights, strict=True)))
    if lm.info.offloaded:
        print(f"placement: {lm.info.placement_text()}")
    if args.lens:
        print("logit lens (top token per layer at the last position):")
        for layer, (ids, ps) in enumerate(zip(trace.lens_ids, trace.lens_probs, strict=True)):
            print(f"  layer {layer:2d}: {token_text(tokenizer, ids[0])!r} {ps[0] * 100:.1f}%")
    return EXIT_OK
