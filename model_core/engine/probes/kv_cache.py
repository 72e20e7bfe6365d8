"""Why generation keeps a key/value cache: time it, live, on the loaded model.

Greedy generation of N new tokens two ways:

- with the cache: one forward over the prompt, then one forward over ONE new token per
  step, reading every earlier key and value from `past_key_values`;
- without: every step runs the whole sequence again (prompt + everything generated).

Both produce the same tokens; the second processes T + (T+1) + … tokens instead of
T + (N − 1). The cache costs memory: per token, a key and a value vector for every layer
and key/value head: 2 × layers × kv_heads × head_dim × bytes per number.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

from model_core.engine.loading import LoadedModel
from model_core.progress import Progress, silent
from model_core.types.probes import KvBench, KvMemory  # noqa: F401  (also imported from here; defined torch-free)


def kv_memory(lm: LoadedModel) -> KvMemory:
    """The cache's size per token and for the full context, from the model's shape and dtype."""
    info = lm.info
    dtype = next(lm.model.parameters()).dtype
    return KvMemory(info.n_layers, info.n_kv_heads, info.d_head, torch.finfo(dtype).bits // 8, info.context_length)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def benchmark_kv_cache(lm: LoadedModel, prompt_ids: Sequence[int], n_new: int,
                       progress: Progress | None = None) -> KvBench:
    """Generate `n_new` greedy tokens with and without the cache, timing every step."""
    progress = progress or silent()
    prompt = [int(i) for i in prompt_ids]
    if not prompt:
        raise ValueError("the prompt has no tokens")
    context = lm.info.context_length or (len(prompt) + n_new)
    n_new = max(1, min(int(n_new), context - len(prompt)))
    model, device = lm.model, lm.device
    cached_times, recompute_times = np.zeros(n_new), np.zeros(n_new)
    cached_ids: list[int] = []
    recompute_ids: list[int] = []
    with torch.inference_mode():
        # Warm-up so the first timed step does not pay for one-off allocations.
        model(input_ids=torch.tensor([prompt], device=device), use_cache=False)
        past = None
        step_input = prompt
        sequence = list(prompt)

        def timed(ids: list[int], **kwargs) -> tuple[object, float]:
            _sync(device)
            start = time.perf_counter()
            out = model(input_ids=torch.tensor([ids], device=device), **kwargs)
            out.logits[0, -1].argmax().item()  # the step is done when its token is known
            _sync(device)
            return out, time.perf_counter() - start

        # The two ways run step by step in turn (order flipped every step), so a busy machine
        # slows both alike instead of whichever happened to run second.
        for step in range(n_new):
            progress.report(f"Token {step + 1} / {n_new}, with the cache and recomputing everything", step / n_new)
            for way in ((0, 1) if step % 2 == 0 else (1, 0)):
                if way == 0:
                    out, cached_times[step] = timed(step_input, past_key_values=past, use_cache=True)
                    past = out.past_key_values
                    cached_ids.append(int(out.logits[0, -1].argmax()))
                    step_input = [cached_ids[-1]]
                else:
                    out, recompute_times[step] = timed(sequence, use_cache=False)
                    recompute_ids.append(int(out.logits[0, -1].argmax()))
                    sequence.append(recompute_ids[-1])
        del past
    progress.report("KV-cache timing finished.", 1.0)
    t = len(prompt)
    return KvBench(
        n_prompt=t,
        n_new=n_new,
        cached_times=cached_times,
        recompute_times=recompute_times,
        cached_tokens=np.array([t] + [1] * (n_new - 1), dtype=np.int64),
        recompute_tokens=t + np.arange(n_new, dtype=np.int64),
        same_tokens=cached_ids == recompute_ids,
        new_ids=tuple(cached_ids),
        memory=kv_memory(lm),
    )
