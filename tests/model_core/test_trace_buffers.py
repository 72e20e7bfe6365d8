"""The stepper's growing buffers: a step writes one position, and no trace ever handed out changes."""

from __future__ import annotations

import numpy as np

from model_core.types.trace import TRACE_ARRAYS
from model_core.types.trace_buffers import TraceBuffers

L, H, KV, D, DH = 2, 4, 2, 6, 3
K, E, S = 2, 4, 1  # a mixture of experts: the router arrays grow like the rest
ALONG_TOKENS = ("residual", "attn_out", "router_ids", "router_weights", "router_probs", "shared_expert_gate")


def arrays(t: int, start: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random arrays for positions [start, start + t), attention rows over keys [0, start + t)."""
    return {
        "residual": rng.normal(size=(L + 1, t, D)).astype(np.float32),
        "attn_out": rng.normal(size=(L, t, D)).astype(np.float32),
        "queries": rng.normal(size=(L, H, t, DH)).astype(np.float32),
        "keys": rng.normal(size=(L, KV, t, DH)).astype(np.float32),
        "values": rng.normal(size=(L, KV, t, DH)).astype(np.float32),
        "attention": np.tril(rng.random(size=(L, H, t, start + t)), k=start).astype(np.float16),
        "router_ids": rng.integers(-1, E, size=(L, t, K)).astype(np.int16),
        "router_weights": rng.random(size=(L, t, K)).astype(np.float32),
        "router_probs": rng.random(size=(L, t, E)).astype(np.float32),
        "shared_expert_gate": rng.random(size=(L, t, S)).astype(np.float32),
    }


def concatenated(old: dict, new: dict) -> dict:
    """What a plain concatenation gives (the reference)."""
    t, n = old["residual"].shape[1], new["residual"].shape[1]
    out = {name: np.concatenate([old[name], new[name]], axis=1 if name in ALONG_TOKENS else 2)
           for name in (*ALONG_TOKENS, "queries", "keys", "values")}
    attention = np.zeros((L, H, t + n, t + n), dtype=np.float16)
    attention[:, :, :t, :t] = old["attention"]
    attention[:, :, t:, :] = new["attention"]
    out["attention"] = attention
    return out


def snapshot(views: dict) -> dict:
    return {name: np.array(a, copy=True) for name, a in views.items()}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_steps_equal_concatenation_and_earlier_views_never_change():
    rng = np.random.default_rng(0)
    buffers = TraceBuffers()
    current = arrays(5, 0, rng)
    handed_out = []  # (views, copy at the time)
    for _ in range(80):  # crosses the first capacity (64) and a reallocation
        new = arrays(1, current["residual"].shape[1], rng)
        expected = concatenated(current, new)
        current = buffers.extend(current, new, limit=1024)
        assert_same(current, expected)
        handed_out.append((current, snapshot(current)))
    assert buffers.capacity >= 85
    for views, copy in handed_out:
        assert_same(views, copy)


def test_after_forget_the_longer_trace_is_not_overwritten():
    rng = np.random.default_rng(1)
    buffers = TraceBuffers()
    trace = arrays(6, 0, rng)
    for _ in range(3):
        trace = buffers.extend(trace, arrays(1, trace["residual"].shape[1], rng), limit=1024)
    longer, longer_copy = trace, snapshot(trace)
    # Undo two positions (the stepper slices the trace and forgets the buffers), then step differently.
    cut = {spec.name: spec.cut(longer[spec.name], 7) for spec in TRACE_ARRAYS}
    buffers.forget()
    buffers.extend(cut, arrays(1, 7, rng), limit=1024)
    assert_same(longer, longer_copy)


def test_capacity_stops_at_the_limit_and_a_one_off_takes_what_it_needs():
    rng = np.random.default_rng(2)
    buffers = TraceBuffers()
    buffers.extend(arrays(40, 0, rng), arrays(2, 40, rng), limit=50)
    assert buffers.capacity == 50
    one_off = TraceBuffers()
    one_off.extend(arrays(3, 0, rng), arrays(1, 3, rng), limit=0)
    assert one_off.capacity == 4
