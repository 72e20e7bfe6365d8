"""Timing helpers: medians of interleaved repeats, so ours and the baseline share the same noise."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable


def ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def interleaved(ours: Callable[[], object], baseline: Callable[[], object] | None, repeats: int,
                warmup: int = 1) -> tuple[float, float | None]:
    """Median ms of `ours` and `baseline`, run alternately (order flipped every repeat)."""
    for _ in range(warmup):
        ours()
        if baseline is not None:
            baseline()
    a: list[float] = []
    b: list[float] = []
    for i in range(repeats):
        gc.collect()
        pair = [(ours, a), (baseline, b)] if i % 2 == 0 else [(baseline, b), (ours, a)]
        for fn, out in pair:
            if fn is not None:
                out.append(ms(fn))
    return statistics.median(a), (statistics.median(b) if b else None)


def row(name: str, ours_ms: float | None, baseline_ms: float | None = None, target: float | None = None,
        **extra) -> dict:
    """One result row. `ratio` = ours / baseline (lower is better); `target` is the ratio to stay under,
    or, for rows without a baseline, the absolute value (ms) to stay under."""
    ratio = None
    if ours_ms is not None and baseline_ms:
        ratio = round(ours_ms / baseline_ms, 3)
    r = {
        "name": name,
        "ours_ms": None if ours_ms is None else round(ours_ms, 2),
        "baseline_ms": None if baseline_ms is None else round(baseline_ms, 2),
        "ratio": ratio,
        "target": target,
    }
    r.update(extra)
    return r
