"""KV-cache timing: memory from the formula, the tokens each way takes, cancelling. How much faster the
cache is on the built-in model is a benchmark row (bench/rows_trace.py, `kv_cache_row`), not a test."""

from __future__ import annotations

import pytest

from model_core.engine.probes.kv_cache import benchmark_kv_cache, kv_memory
from model_core.engine.tracing import encode
from model_core.errors import Cancelled
from model_core.progress import Progress


def test_tiny_gpt2_memory_and_tokens(tiny_gpt2):
    ids = encode(tiny_gpt2, "The capital of France is")
    bench = benchmark_kv_cache(tiny_gpt2, ids, 6)
    per_token = 2 * 3 * 4 * 12 * 4  # key+value x layers x kv heads x head width x float32 bytes
    assert bench.memory.per_token == per_token == kv_memory(tiny_gpt2).per_token
    assert bench.memory.full_context == per_token * 128
    assert bench.n_new == 6 and bench.same_tokens
    t = len(ids)
    assert bench.cached_tokens.tolist() == [t, 1, 1, 1, 1, 1]
    assert bench.recompute_tokens.tolist() == [t + i for i in range(6)]
    assert bench.cached_times.shape == bench.recompute_times.shape == (6,)
    assert (bench.cached_times > 0).all()


def test_cancel(tiny_gpt2):
    progress = Progress()
    progress.cancel()
    with pytest.raises(Cancelled):
        benchmark_kv_cache(tiny_gpt2, [1, 2, 3], 4, progress)
