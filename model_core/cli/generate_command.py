"""`logitscope generate PROMPT` or `logitscope generate --chat MESSAGE`: continue a prompt, or answer
a message as the assistant (through the model's chat template), token by token, greedy or sampled."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

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

NAME = "generate"
HELP = "continue a prompt (or answer a --chat message) token by token"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_prompt_options(parser)
    parser.add_argument("--max-new-tokens", type=int, default=20, help="the max length of the reply")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    parser.add_argument("--top-k", type=int, default=0, help="0 = off")
    parser.add_argument("--top-p", type=float, default=1.0, help="1 = off")
    parser.add_argument("--seed", type=int, default=0)
    add_knob_options(parser)
    add_intervention_options(parser)


def run(args: argparse.Namespace) -> int:
    text, conversation = read_input(args)
    if args.max_new_tokens < 1:
        raise UsageError("--max-new-tokens must be at least 1.")
    if args.top_k < 0:
        raise UsageError("--top-k must be ≥ 0.")
    settings = knob_settings(args, args.temperature, args.top_k, args.top_p, args.seed)
    intervened = len(interventions_from(args)) > 0 or args.steer_towards is not None  # bad options: exit 2 now
    from model_core.engine.stepper import run_generation
    from model_core.types.chat import conversation_json
    from model_core.types.stop_reasons import stop_message

    lm = load(args)
    check_bias_ids(settings, lm.info.vocab_size)
    interventions = apply_interventions(lm, args) if intervened else None
    progress = None if args.json else GenerationProgress(args.max_new_tokens)
    stepper = run_generation(lm, text, args.max_new_tokens, settings, allow_special=args.allow_special,
                             conversation=conversation, on_token=progress)
    trace, reason, detail = stepper.trace, stepper.stop_reason, stepper.stop_detail
    new_ids = trace.tokens.ids[trace.n_prompt:]
    new_text = trace.generated_text
    if args.json:
        result = {
            "model": model_json(lm.info), "prompt": text, "generated": new_text,
            "tokens": [{"id": int(i), "text": token_text(lm.tokenizer, i), "choice": c}
                       for i, c in zip(new_ids, stepper.choices, strict=True)],
            "stop_reason": reason, "stop_detail": detail,
            "settings": {**vars(settings), "logit_bias": [list(e) for e in settings.logit_bias],
                         "stop": list(settings.stop)},
        }
        if interventions is not None:
            result["interventions"] = interventions_json(interventions)
        if stepper.chat is not None:
            result["chat"] = {"conversation": conversation_json(stepper.chat.conversation),
                              "template_text": stepper.chat.text, "default_system": stepper.chat.default_system}
        print(json.dumps(result, ensure_ascii=False))
    else:
        progress.finish()
        print(new_text if conversation is not None else text + new_text)
        print(f"[{stop_message(reason, detail)} {progress.summary(trace.n_tokens - trace.n_prompt)}]", file=sys.stderr)
    return EXIT_OK


class GenerationProgress:
    """Tokens so far and tokens per second on stderr, at most once a second, for runs longer than
    a second (a terminal gets one line rewritten in place, a log one line each time)."""

    def __init__(self, total: int, every_s: float | None = None) -> None:
        self.total = total
        self.every_s = float(os.environ.get("LOGITSCOPE_PROGRESS_EVERY_S", "1.0")) if every_s is None else every_s
        self.start = time.perf_counter()
        self._last = self.start
        self._tty = sys.stderr.isatty()
        self._open_line = False

    def __call__(self, n_new: int) -> None:
        now = time.perf_counter()
        if now - self._last < self.every_s:
            return
        self._last = now
        line = f"generating: {n_new:,} / {self.total:,} tokens, {n_new / (now - self.start):.1f} tokens/s"
        if self._tty:
            print(f"\r{line}\033[K", end="", file=sys.stderr, flush=True)
            self._open_line = True
        else:
            print(line, file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self._open_line:
            print("\r\033[K", end="", file=sys.stderr, flush=True)

    def summary(self, n_new: int) -> str:
        seconds = time.perf_counter() - self.start
        return f"{n_new:,} tokens in {seconds:.1f} s ({n_new / seconds:.1f} tokens/s)" if seconds > 0 else ""
