"""`logitscope attribute PROMPT --target TEXT --method M`: one score per prompt token for the target
token's logit after the last position (gradient × input, integrated gradients, rollout, flow)."""

from __future__ import annotations

import argparse
import json

import numpy as np

from model_core.cli.common import (
    EXIT_OK,
    UsageError,
    add_model_options,
    load,
    model_json,
    read_prompt,
    token_text,
)
from model_core.output_files import check_output_path
from model_core.types.attribution import GRAD_X_INPUT, MAX_STEPS, METHOD_TITLES, METHODS, check_method

NAME = "attribute"
HELP = "which prompt tokens push the next token's logit up or down"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="?", help="the prompt ('-' reads standard input)")
    parser.add_argument("--target", metavar="TEXT",
                        help="the next token to explain, as text that is one token (e.g. ' Paris'); "
                             "default: the model's top prediction")
    parser.add_argument("--target-id", type=int, metavar="ID", help="the next token to explain, by id")
    parser.add_argument("--method", default=GRAD_X_INPUT, metavar="METHOD",
                        help=f"one of {', '.join(METHODS)} (default {GRAD_X_INPUT})")
    parser.add_argument("--steps", type=int, default=32, help="integrated gradients: interpolation steps (default 32)")
    parser.add_argument("--baseline", default="pad-keep-first", choices=("pad-keep-first", "pad", "zero"),
                        help="integrated gradients: start from the pad token's embedding with the first token "
                             "kept, the attention sink (default), the pad token everywhere, or zeros")
    parser.add_argument("--per-layer", action="store_true", help="add the per-layer rows where the method has them")
    parser.add_argument("--dump", metavar="FILE", help="write the scores to FILE.csv or FILE.npz")
    parser.add_argument("--allow-special", action="store_true",
                        help="let text such as <|endoftext|> become control tokens (default: plain text)")
    add_model_options(parser)


def _target_id(lm, args: argparse.Namespace, ids: list[int]) -> int:
    if args.target is not None and args.target_id is not None:
        raise UsageError("give either --target or --target-id, not both.")
    if args.target_id is not None:
        if not 0 <= args.target_id < lm.info.vocab_size:
            raise UsageError(f"--target-id {args.target_id} is not in this model's vocabulary "
                             f"(0 to {lm.info.vocab_size - 1}).")
        return args.target_id
    if args.target is not None:
        found = lm.tokenizer.encode(args.target, add_special_tokens=False)
        if len(found) != 1:
            pieces = " | ".join(repr(token_text(lm.tokenizer, i)) for i in found) or "no tokens"
            raise UsageError(f"--target {args.target!r} is {len(found)} tokens ({pieces}), not one; "
                             "give text that is a single token (a leading space often matters).")
        return int(found[0])
    from model_core.engine.forward import forward_capture

    return int(np.argmax(forward_capture(lm, ids).next_logits))


def run(args: argparse.Namespace) -> int:
    if args.text is None:
        raise UsageError("give a prompt to attribute.")
    text = read_prompt(args.text)
    try:
        method = check_method(args.method)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not 1 <= args.steps <= MAX_STEPS:
        raise UsageError(f"--steps must be at least 1 and at most {MAX_STEPS}.")
    if args.dump:
        check_output_path(args.dump)
    from model_core.engine.attribution.attribute import attribute
    from model_core.engine.tracing import encode
    from model_core.types.attribution_files import save_attribution

    lm = load(args)
    ids = encode(lm, text, args.allow_special)
    target = _target_id(lm, args, ids)
    result = attribute(lm, ids, target, method, steps=args.steps, baseline=args.baseline)
    texts = [token_text(lm.tokenizer, i) for i in ids]
    if args.dump:
        save_attribution(args.dump, result, texts)
    if args.json:
        out = {
            "model": model_json(lm.info), "method": method, "method_title": METHOD_TITLES[method],
            "target": {"id": target, "text": token_text(lm.tokenizer, target), "logit": result.target_logit},
            "attributed": "the target's logit after the last position",
            "tokens": [{"position": t, "id": int(i), "text": s, "score": float(result.scores[t])}
                       for t, (i, s) in enumerate(zip(ids, texts, strict=True))],
        }
        if method == "integrated-gradients":
            out["integrated_gradients"] = {
                "steps": result.steps, "baseline": result.baseline, "baseline_logit": result.baseline_logit,
                "completeness_error": result.completeness_error,
                "relative_completeness_error": result.relative_completeness_error}
        if args.per_layer and result.per_layer.shape[0]:
            out["per_layer"] = result.per_layer.tolist()
        print(json.dumps(out, ensure_ascii=False))
        return EXIT_OK
    print(lm.info.summary())
    print(f"{METHOD_TITLES[method]} for {token_text(lm.tokenizer, target)!r} (id {target}, logit "
          f"{result.target_logit:.3f}) after the last token:")
    scale = max(float(np.abs(result.scores).max()), 1e-12)
    for t, (s, score) in enumerate(zip(texts, result.scores, strict=True)):
        bar = ("+" if score >= 0 else "-") * int(round(abs(score) / scale * 20))
        print(f"  {t:3d} {s!r:>16}  {score:+.5f}  {bar}")
    if method == "integrated-gradients":
        print(f"completeness: scores sum to {result.scores.sum():.4f}; logit − baseline logit = "
              f"{result.target_logit - result.baseline_logit:.4f}; error {result.completeness_error:+.4g} "
              f"({result.relative_completeness_error:.2%}) with {result.steps} steps from the {result.baseline} baseline")
    if method in ("rollout", "flow"):
        print("(attention-based: the same for every target token)")
    return EXIT_OK
