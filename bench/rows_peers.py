"""Peer rows: ours against TransformerLens's `run_with_cache` (TransformerBridge) on the same
GPT-2-small checkpoint, in the same run. TransformerLens is an optional extra
(`pip install -e .[peers]`); without it the row says so and how to get it.

Both sides return everything they capture on the CPU: ours the numpy Trace (residual stream,
attention, Q/K/V, surprisal, the next-token distribution), TransformerLens its ActivationCache of
every hook (about 500 tensors). `ratio` = ours / TransformerLens (lower is better).
"""

from __future__ import annotations

import importlib.util
import os
import sys

import torch

from bench.models import gpt2_small_folder, load_baseline, load_ours, prompt_ids
from bench.timing import interleaved, row

PEER_TARGET = 0.6
PEER = "transformer_lens"


def peer_rows(quick: bool) -> list[dict]:
    name = "peer: trace vs TransformerLens run_with_cache, gpt2-small"
    if importlib.util.find_spec(PEER) is None:
        return [row(name, None, None, PEER_TARGET,
                    note="skipped: transformer_lens is not installed (pip install -e '.[peers]')")]
    try:
        from transformer_lens.model_bridge import TransformerBridge  # noqa: F401 - does it import at all?
    except Exception as exc:  # noqa: BLE001 - a peer that does not import is a line, not a crash
        return [row(name, None, None, PEER_TARGET, note=f"skipped: transformer_lens does not import ({exc})")]

    threads = torch.get_num_threads()
    # As the app runs (desktop/core/requests/tracing.py): one core left to the GUI. With every core
    # taken on a busy 2-core machine, both sides' many small ops wait on each other's threads.
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    try:
        return _measure(quick)
    finally:
        torch.set_num_threads(threads)


def _measure(quick: bool) -> list[dict]:
    from transformer_lens.model_bridge import TransformerBridge

    from model_core.engine.tracing import trace_ids

    folder = gpt2_small_folder()
    lm = load_ours(folder)
    base = load_baseline(folder)  # for the floor: the blocks every side must run
    bridge = TransformerBridge.boot_transformers(str(folder), device="cpu", dtype=torch.float32)
    version = _version(PEER)
    rows = []
    for n in (12, 64) if quick else (12, 64, 1024):
        ids = prompt_ids(n, lm.info.vocab_size)
        input_ids = torch.tensor([ids])

        def ours(ids=ids):
            trace_ids(lm, ids, lens=False)

        def peer(input_ids=input_ids):
            with torch.inference_mode():
                bridge.run_with_cache(input_ids)

        o, p = interleaved(ours, peer, 3 if n >= 1024 or quick else 5)
        rows.append(row(f"peer: trace vs TransformerLens {version} run_with_cache, {n} tokens", o, p, PEER_TARGET,
                        note=(f"TransformerBridge on the same gpt2-small checkpoint, {torch.get_num_threads()} "
                              "torch thread(s) as in the app") if n == 12 else None))
        print(f"  … {rows[-1]['name']}: {o:.1f} ms vs {p:.1f} ms", file=sys.stderr, flush=True)

        def floor(input_ids=input_ids):
            with torch.inference_mode():
                base.base_model(input_ids=input_ids, output_attentions=True, output_hidden_states=True)

        f, p2 = interleaved(floor, peer, 3 if n >= 1024 or quick else 5)
        rows.append(row(f"  floor: transformers' own body without the unembedding vs TransformerLens, {n} tokens",
                        f, p2, None, note="the best ours could reach on these threads" if n == 12 else None))
    return rows


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist.replace("_", "-"))
    except PackageNotFoundError:
        return "?"
