"""Where a trace's time goes: torch profiler (CPU) over one 256-token trace of GPT-2 small.

    .venv/bin/python bench/profile_trace.py [--tokens 256] [--rows 15]

Prints the top ops by self CPU time, then a coarse split of `trace_ids` into stages
(forward with capture, lens unembedding + log_softmax, numpy copies, token table).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--rows", type=int, default=15)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    from bench.models import gpt2_small_folder, load_ours, prompt_ids
    from model_core.engine.tracing import trace_ids

    lm = load_ours(gpt2_small_folder())
    ids = prompt_ids(args.tokens, lm.info.vocab_size)
    trace_ids(lm, ids, lens=False)  # warm-up
    with profile(activities=[ProfilerActivity.CPU], record_shapes=False) as prof:
        with record_function("trace_ids"):
            trace = trace_ids(lm, ids, lens=False)  # the first display; the lens follows on demand
    print(f"torch profiler, one trace_ids(lens=False) of {args.tokens} tokens, GPT-2 small shape, "
          f"{torch.get_num_threads()} threads; trace.nbytes = {trace.nbytes / 2**20:.1f} MB")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))
    stages(lm, ids)
    return 0


def stages(lm, ids: list[int], repeats: int = 3) -> None:
    """Median ms of each stage of trace_ids, re-done by hand with the same calls."""
    import statistics

    import torch

    from model_core.engine.capture import block_outputs, recording
    from model_core.engine.forward import forward_capture
    from model_core.engine.tracing import build_trace

    adapter = lm.adapter
    blocks = adapter.blocks
    n_layers = len(blocks)
    x = torch.tensor([ids])
    times: dict[str, list[float]] = {}

    def tick(name: str, start: float) -> float:
        now = time.perf_counter()
        times.setdefault(name, []).append((now - start) * 1000)
        return now

    for _ in range(repeats):
        t = time.perf_counter()
        with torch.inference_mode(), recording() as record, block_outputs(blocks) as stream:
            adapter.base(input_ids=x, use_cache=False)
            t = tick("body forward with capture hooks", t)
            residual = torch.stack(stream)
            lens = torch.log_softmax(adapter.unembed(residual[:, -1]), -1)
            t = tick("lens: final norm + unembedding (L+1 rows) + log_softmax", t)
            residual.float().cpu().numpy()
            torch.stack([record.weights[i] for i in range(n_layers)]).to(torch.float16).cpu().numpy()
            t = tick("stack + copy residual, attention->fp16", t)
            for bag in (record.queries, record.keys, record.values):
                torch.stack([bag[i] for i in range(n_layers)]).float().cpu().numpy()
            lens.cpu().numpy()
            t = tick("stack + copy q, k, v, lens", t)
        with torch.inference_mode():
            t = time.perf_counter()
            lm.model(input_ids=x, use_cache=False)
            tick("(reference) plain model forward, our attention, all logits", t)
        capture = forward_capture(lm, ids)
        t = time.perf_counter()
        build_trace(lm, ids, capture, len(ids))
        tick("build_trace: token table + lens top-k", t)
    print("stages of trace_ids (median ms):")
    for name, values in times.items():
        print(f"  {statistics.median(values):9.1f}  {name}")


if __name__ == "__main__":
    sys.exit(main())
