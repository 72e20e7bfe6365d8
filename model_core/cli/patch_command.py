"""`logitscope patch CLEAN CORRUPT`: activation patching from the clean prompt into the corrupted one —
how much of the clean answer each (layer, position) of the residual stream and each head's output
brings back. The prompts must tokenise to the same count (the message says where they differ)."""

from __future__ import annotations

import argparse
import json
import sys

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

NAME = "patch"
HELP = "activation patching: which states carry the clean prompt's answer into a corrupted one"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clean", help="the clean prompt, e.g. 'The capital of France is'")
    parser.add_argument("corrupt", help="the corrupted prompt of as many tokens, e.g. 'The capital of Italy is'")
    add_model_options(parser)
    parser.add_argument("--answer", metavar="TEXT",
                        help="the answer to measure (one token, e.g. ' Paris'; default the clean top prediction)")
    parser.add_argument("--no-heads", action="store_true", help="patch only the residual stream, not each head")
    parser.add_argument("--batch", type=int, default=16, help="patches per forward pass (default 16)")


def _progress(message: str, fraction: float) -> None:
    if sys.stderr.isatty():
        print(f"\r{message}\033[K", end="", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    clean_text, corrupt_text = read_prompt(args.clean), read_prompt(args.corrupt)
    if args.batch < 1:
        raise UsageError("--batch must be at least 1.")
    from model_core.engine.interventions.patching import activation_patching, token_difference
    from model_core.engine.tracing import encode, token_table
    from model_core.errors import PromptError
    from model_core.progress import Progress

    lm = load(args)
    clean, corrupt = encode(lm, clean_text), encode(lm, corrupt_text)
    answer = None
    if args.answer is not None:
        answer_ids = lm.tokenizer(args.answer, add_special_tokens=False)["input_ids"]
        if len(answer_ids) != 1:
            raise UsageError(f"--answer {args.answer!r} is {len(answer_ids)} tokens; give one token "
                             "(with its leading space, e.g. ' Paris').")
        answer = int(answer_ids[0])
    difference = token_difference(lm, clean, corrupt)
    if not difference.same_length:
        raise PromptError(difference.message)
    result = activation_patching(lm, clean, corrupt, answer, heads=not args.no_heads,
                                 progress=Progress(_progress), batch=args.batch)
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr)
    labels = list(token_table(lm, clean).labels)
    corrupt_labels = list(token_table(lm, corrupt).labels)
    if args.json:
        print(json.dumps({
            "model": model_json(lm.info), "clean_tokens": labels, "corrupt_tokens": corrupt_labels,
            "differ_at": list(difference.positions),
            "answer": {"id": result.answer_id, "text": token_text(lm.tokenizer, result.answer_id)},
            "clean_prob": result.clean_prob, "corrupt_prob": result.corrupt_prob,
            "residual_prob": result.residual.tolist(), "residual_restored": result.residual_restored.tolist(),
            "heads_prob": None if args.no_heads else result.heads.tolist(),
            "heads_restored": None if args.no_heads else result.heads_restored.tolist(),
        }, ensure_ascii=False))
        return EXIT_OK
    answer_text = token_text(lm.tokenizer, result.answer_id)
    print(lm.info.summary())
    print(difference.message)
    print(f"answer {answer_text!r}: {result.clean_prob * 100:.2f}% after the clean prompt, "
          f"{result.corrupt_prob * 100:.2f}% after the corrupted one")
    print("restored share of the clean answer, residual stream entering each layer (rows) × position:")
    width = max(6, *(len(label) for label in labels))
    print(" " * 7 + "".join(f"{label[:width]:>{width + 1}}" for label in labels))
    restored = result.residual_restored
    for r in range(restored.shape[0]):
        name = f"out {r - 1:2d}" if r == restored.shape[0] - 1 else f"in {r:3d}"
        print(f"{name:>7}" + "".join(f"{v:>{width + 1}.2f}" for v in restored[r]))
    if not args.no_heads:
        heads = result.heads_restored
        order = np.argsort(heads, axis=None)[::-1][:5]
        tops = ", ".join(f"{i // heads.shape[1]}.{i % heads.shape[1]} {heads.flat[i]:.2f}" for i in order)
        print(f"heads restoring the most: {tops}")
    return EXIT_OK
