"""What every subcommand shares: the prompt and model options, loading with progress, JSON of
a model, and the exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from model_core.types.memory_sizes import parse_max_memory
from model_core.types.model_info import DEVICE_CHOICES, DTYPE_CHOICES, ModelInfo

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class UsageError(ValueError):
    """Bad options: exit code 2 and one line on stderr."""


def add_prompt_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="?", help="the prompt ('-' reads standard input); or use --chat")
    parser.add_argument("--chat", metavar="TEXT",
                        help="send TEXT as a user turn through the model's chat template instead of raw text")
    parser.add_argument("--system", metavar="TEXT",
                        help="with --chat: the system prompt (replaces the template's default; '' for none)")
    add_model_options(parser)
    parser.add_argument("--allow-special", action="store_true",
                        help="let text such as <|endoftext|> become control tokens (default: plain text)")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="builtin",
                        help="'builtin' (default, offline), a GPT-2 name such as gpt2, a hub id, a folder, "
                             "or a .gguf file")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument("--dtype", default="float32", choices=DTYPE_CHOICES,
                        help="number type of the weights (default float32; the half types halve the memory)")
    parser.add_argument("--max-memory", metavar="BUDGETS",
                        help="most memory each device may hold, e.g. cpu=2GiB or 0=10GiB,cpu=30GiB; "
                             "with --offload-folder the rest waits on disk")
    parser.add_argument("--offload-folder", metavar="DIR",
                        help="where layers that do not fit in memory wait (slow, but a big model opens)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def add_knob_options(parser: argparse.ArgumentParser) -> None:
    """The decoding knobs besides temperature, top-k and top-p (model_core/analysis/sampling.py)."""
    parser.add_argument("--repetition-penalty", type=float, default=1.0,
                        help="divide the logit of every token already in the text (1 = off; transformers' meaning)")
    parser.add_argument("--frequency-penalty", type=float, default=0.0,
                        help="subtract this times how often a token already occurs, in [-2, 2] (0 = off)")
    parser.add_argument("--presence-penalty", type=float, default=0.0,
                        help="subtract this once from every token that already occurs, in [-2, 2] (0 = off)")
    parser.add_argument("--min-p", type=float, default=0.0,
                        help="drop tokens below min-p times the top token's probability (0 = off)")
    parser.add_argument("--stop", action="append", default=[], metavar="TEXT",
                        help="stop once TEXT appears in the generated text (repeatable)")
    parser.add_argument("--logit-bias", action="append", default=[], metavar="ID=BIAS",
                        help="add BIAS to token ID's logit, in [-100, 100]; -100 bans it (repeatable)")


def knob_settings(args: argparse.Namespace, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                  seed: int = 0):
    """The SamplingSettings the options describe; UsageError (exit 2) naming the bad one."""
    from model_core.analysis.sampling import SamplingSettings, bias_table, parse_bias_entry

    try:
        bias = bias_table(parse_bias_entry(entry) for entry in args.logit_bias)
        return SamplingSettings(
            temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, min_p=args.min_p,
            repetition_penalty=args.repetition_penalty, frequency_penalty=args.frequency_penalty,
            presence_penalty=args.presence_penalty, logit_bias=bias, stop=tuple(args.stop),
        ).validated()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def check_bias_ids(settings, vocab_size: int) -> None:
    """Every biased token id must be in the model's vocabulary (known once it has loaded)."""
    for token_id, _ in settings.logit_bias:
        if not 0 <= token_id < vocab_size:
            raise UsageError(f"--logit-bias: token id {token_id} is not in this model's vocabulary "
                             f"(0 to {vocab_size - 1}).")


def read_prompt(text: str) -> str:
    """The prompt argument ('-' reads standard input); UsageError when empty."""
    text = sys.stdin.read() if text == "-" else text
    if not text or not text.strip():
        raise UsageError("the prompt is empty; give some text to trace.")
    return text


def read_input(args: argparse.Namespace):
    """(raw text, None) or ("", conversation) from the prompt argument or --chat/--system."""
    from model_core.types.chat import SYSTEM, USER, Message

    if args.chat is None:
        if args.system is not None:
            raise UsageError("--system needs --chat (a system prompt belongs to a conversation).")
        if args.text is None:
            raise UsageError("give a prompt, or a message with --chat.")
        return read_prompt(args.text), None
    if args.text is not None:
        raise UsageError("give either a prompt or --chat, not both.")
    message = sys.stdin.read() if args.chat == "-" else args.chat
    if not message.strip():
        raise UsageError("the --chat message is empty; type a question or a request.")
    system = () if args.system is None else (Message(SYSTEM, args.system),)
    return "", (*system, Message(USER, message))


def quiet_libraries() -> None:
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


def load(args: argparse.Namespace):
    """The model the options name, with loading progress on a terminal's stderr."""
    from model_core.engine.loading import load_model
    from model_core.progress import Progress

    budgets = check_memory_options(args)
    quiet_libraries()
    lm = load_model(args.model, device=args.device, progress=Progress(_progress_to_stderr), dtype=args.dtype,
                    max_memory=budgets, offload_folder=args.offload_folder)
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr)
    return lm


def check_memory_options(args: argparse.Namespace) -> dict | None:
    """The --max-memory budgets; UsageError (exit 2) when they cannot be read."""
    try:
        return parse_max_memory(args.max_memory)
    except ValueError as exc:
        raise UsageError(f"--max-memory: {exc}") from exc


def check_model_options(args: argparse.Namespace) -> None:
    """Refuse model options that cannot work before a subcommand imports torch (seconds): a memory
    budget that cannot be read, a folder that does not exist or holds no model, an unknown name."""
    from model_core.engine.model_spec import check_before_loading

    check_memory_options(args)
    check_before_loading(args.model)


def model_json(info: ModelInfo) -> dict:
    result = {
        "name": info.name, "architecture": info.architecture, "model_type": info.model_type,
        "tested": info.tested, "layers": info.n_layers, "heads": info.n_heads,
        "kv_heads": info.n_kv_heads, "d_model": info.d_model, "vocab_size": info.vocab_size,
        "parameters": info.n_params, "context_length": info.context_length, "device": info.device,
        "dtype": info.dtype, "block_layout": info.block_layout,
        "placement": [{"device": p.device, "parts": p.parts, "bytes": p.nbytes} for p in info.placement],
    }
    if info.is_moe:
        result.update(experts=info.n_experts, experts_per_token=info.experts_per_token,
                      moe_layers=list(info.moe_layers), active_parameters=info.n_active_params)
    return result


def token_text(tokenizer, token_id: int) -> str:
    return tokenizer.decode([int(token_id)], skip_special_tokens=False)
