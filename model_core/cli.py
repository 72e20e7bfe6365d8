"""The headless command line: `logitscope trace ...` and `logitscope generate ...`.

No Qt is imported on this path, so it runs on servers and in notebooks' shells.
Bad input exits non-zero with one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

import numpy as np

from model_core.devices import DEVICE_CHOICES
from model_core.errors import LogitscopeError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", help="the prompt ('-' reads standard input)")
    parser.add_argument("--model", default="builtin",
                        help="'builtin' (default, offline), a GPT-2 name such as gpt2, a hub id, or a folder")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--allow-special", action="store_true",
                        help="let text such as <|endoftext|> become control tokens (default: plain text)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logitscope", description="Look inside a causal language model.")
    sub = parser.add_subparsers(dest="command", required=True)
    trace = sub.add_parser("trace", help="tokens and the next-token distribution of a prompt")
    _common(trace)
    trace.add_argument("--top-k", type=int, default=10, help="how many next tokens to list (default 10)")
    trace.add_argument("--dump", metavar="FILE.npz", help="write the full trace arrays to an .npz file")
    trace.add_argument("--lens", action="store_true", help="add the logit lens at the last position")
    gen = sub.add_parser("generate", help="continue a prompt token by token")
    _common(gen)
    gen.add_argument("--max-new-tokens", type=int, default=20)
    gen.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    gen.add_argument("--top-k", type=int, default=0, help="0 = off")
    gen.add_argument("--top-p", type=float, default=1.0, help="1 = off")
    gen.add_argument("--seed", type=int, default=0)
    return parser


def _quiet_libraries() -> None:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def _progress_to_stderr(message: str, fraction: float) -> None:
    if sys.stderr.isatty():
        print(f"\r{message}\033[K", end="", file=sys.stderr, flush=True)


def _model_json(info) -> dict:
    return {
        "name": info.name, "architecture": info.architecture, "layers": info.n_layers, "heads": info.n_heads,
        "kv_heads": info.n_kv_heads, "d_model": info.d_model, "vocab_size": info.vocab_size,
        "parameters": info.n_params, "context_length": info.context_length, "device": info.device,
    }


def _token_text(tokenizer, token_id: int) -> str:
    return tokenizer.decode([int(token_id)], skip_special_tokens=False)


def run(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text or not text.strip():
        print("logitscope: error: the prompt is empty; give some text to trace.", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "generate" and args.max_new_tokens < 1:
        print("logitscope: error: --max-new-tokens must be at least 1.", file=sys.stderr)
        return EXIT_USAGE
    if args.top_k < 0:
        print("logitscope: error: --top-k must be ≥ 0.", file=sys.stderr)
        return EXIT_USAGE
    _quiet_libraries()
    try:
        from model_core.loading import load_model
        from model_core.progress import Progress

        lm = load_model(args.model, device=args.device, progress=Progress(_progress_to_stderr))
        if sys.stderr.isatty():
            print("\r\033[K", end="", file=sys.stderr)
        if args.command == "trace":
            return _trace(lm, text, args)
        return _generate(lm, text, args)
    except LogitscopeError as exc:
        print(f"logitscope: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ValueError as exc:
        print(f"logitscope: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("logitscope: interrupted", file=sys.stderr)
        return 130


def _trace(lm, text: str, args) -> int:
    from model_core.trace import run_trace

    trace = run_trace(lm, text, allow_special=args.allow_special)
    probs = trace.next_probs
    k = max(1, min(args.top_k, len(probs)))
    top = np.argsort(-probs)[:k]
    tokenizer = lm.tokenizer
    next_tokens = [
        {"id": int(i), "text": _token_text(tokenizer, i), "prob": float(probs[i]), "logit": float(trace.next_logits[i])}
        for i in top
    ]
    tokens = [{"id": int(i), "text": t} for i, t in zip(trace.tokens.ids, trace.tokens.texts, strict=True)]
    if args.dump:
        _dump(trace, args.dump)
    if args.json:
        result = {"model": _model_json(lm.info), "tokens": tokens, "next_token": next_tokens}
        if args.lens:
            result["logit_lens"] = [
                [{"id": int(i), "text": _token_text(tokenizer, i), "prob": float(p)} for i, p in zip(ids, ps, strict=True)]
                for ids, ps in zip(trace.lens_ids, trace.lens_probs, strict=True)
            ]
        print(json.dumps(result, ensure_ascii=False))
        return EXIT_OK
    print(f"{lm.info.summary()}")
    print(f"{trace.n_tokens} tokens: " + " | ".join(trace.tokens.labels))
    print("next token:")
    for row in next_tokens:
        print(f"  {row['prob'] * 100:6.2f}%  {row['text']!r}  (id {row['id']}, logit {row['logit']:.2f})")
    if args.lens:
        print("logit lens (top token per layer at the last position):")
        for layer, (ids, ps) in enumerate(zip(trace.lens_ids, trace.lens_probs, strict=True)):
            print(f"  layer {layer:2d}: {_token_text(tokenizer, ids[0])!r} {ps[0] * 100:.1f}%")
    return EXIT_OK


def _dump(trace, path: str) -> None:
    try:
        lens = {"lens_ids": trace.lens_ids, "lens_probs": trace.lens_probs} if trace.has_lens else {}
        np.savez_compressed(
            path, token_ids=trace.tokens.ids, attention=trace.attention, residual=trace.residual,
            queries=trace.queries, keys=trace.keys, values=trace.values, next_logits=trace.next_logits,
            kv_head_of=trace.kv_head_of, token_text=np.array(trace.tokens.texts, dtype=object).astype(str),
            **lens,
        )
    except OSError as exc:
        raise LogitscopeError(f"could not write {path}: {exc.strerror or exc}") from exc


def _generate(lm, text: str, args) -> int:
    from model_core.sampling import SamplingSettings
    from model_core.stepper import STOP_MESSAGES, generate_text

    settings = SamplingSettings(args.temperature, args.top_k, args.top_p, args.seed).validated()
    trace, reason = generate_text(lm, text, args.max_new_tokens, settings, allow_special=args.allow_special)
    new_ids = trace.tokens.ids[trace.n_prompt:]
    new_text = b"".join(trace.tokens.pieces[trace.n_prompt:]).decode("utf-8", errors="replace")
    if args.json:
        print(json.dumps({
            "model": _model_json(lm.info), "prompt": text, "generated": new_text,
            "tokens": [{"id": int(i), "text": _token_text(lm.tokenizer, i)} for i in new_ids],
            "stop_reason": reason, "settings": vars(settings),
        }, ensure_ascii=False))
    else:
        print(text + new_text)
        print(f"[{STOP_MESSAGES[reason]}]", file=sys.stderr)
    return EXIT_OK
