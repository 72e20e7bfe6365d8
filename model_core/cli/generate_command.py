"""`logitscope generate PROMPT`: continue a prompt token by token, greedy or sampled."""

from __future__ import annotations

import argparse
import json
import sys

from model_core.cli.common import (
    EXIT_OK,
    UsageError,
    add_prompt_options,
    load,
    model_json,
    read_prompt,
    token_text,
)

NAME = "generate"
HELP = "continue a prompt token by token"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_prompt_options(parser)
    parser.add_argument("--max-new-tokens", type=int, default=20)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    parser.add_argument("--top-k", type=int, default=0, help="0 = off")
    parser.add_argument("--top-p", type=float, default=1.0, help="1 = off")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    text = read_prompt(args.text)
    if args.max_new_tokens < 1:
        raise UsageError("--max-new-tokens must be at least 1.")
    if args.top_k < 0:
        raise UsageError("--top-k must be ≥ 0.")
    from model_core.analysis.sampling import SamplingSettings
    from model_core.engine.stepper import generate_text
    from model_core.types.stop_reasons import STOP_MESSAGES

    settings = SamplingSettings(args.temperature, args.top_k, args.top_p, args.seed).validated()
    lm = load(args)
    trace, reason = generate_text(lm, text, args.max_new_tokens, settings, allow_special=args.allow_special)
    new_ids = trace.tokens.ids[trace.n_prompt:]
    new_text = trace.generated_text
    if args.json:
        print(json.dumps({
            "model": model_json(lm.info), "prompt": text, "generated": new_text,
            "tokens": [{"id": int(i), "text": token_text(lm.tokenizer, i)} for i in new_ids],
            "stop_reason": reason, "settings": vars(settings),
        }, ensure_ascii=False))
    else:
        print(text + new_text)
        print(f"[{STOP_MESSAGES[reason]}]", file=sys.stderr)
    return EXIT_OK
