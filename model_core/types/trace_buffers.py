"""Room to grow: a generation step writes its one new position instead of copying the whole trace.

Concatenating every array each step copies the [L, H, T, T] attention and the rest: about
0.8 GB per step at 1024 tokens of the built-in model. These buffers keep spare positions
(doubling, up to the trace limit); a trace is a view of the first T positions and a step
writes only the new rows. Earlier traces stay valid, because a position is written once.
After an undo the stepper calls `forget`: the positions past the cut would be rewritten
while a longer trace from before the undo may still be on screen, so the next step copies
into new buffers instead.

Which arrays there are and which of their axes count positions comes from `TRACE_ARRAYS`.
An array with two position axes (attention: query x key) gets its new rows written
against every key up to the new length.
"""

from __future__ import annotations

import numpy as np

from model_core.types.trace import TRACE_ARRAYS, TraceArray

MIN_CAPACITY = 64


def _index(spec: TraceArray, ndim: int, start: int, stop: int) -> tuple[slice, ...]:
    """Positions [start, stop) on the first position axis, [0, stop) on any further one."""
    index = [slice(None)] * ndim
    first, *rest = spec.position_axes
    index[first] = slice(start, stop)
    for axis in rest:
        index[axis] = slice(0, stop)
    return tuple(index)


class TraceBuffers:
    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}
        self.capacity = 0
        self.length = -1  # positions written; -1 = holds nothing a trace could extend

    def forget(self) -> None:
        self._arrays, self.capacity, self.length = {}, 0, -1

    def extend(self, old: dict[str, np.ndarray], new: dict[str, np.ndarray], limit: int) -> dict[str, np.ndarray]:
        """Arrays of `old` (T positions) followed by `new` (n positions), as views."""
        t, n = old["residual"].shape[1], new["residual"].shape[1]
        if self.length != t or t + n > self.capacity:
            self._allocate(old, max(t + n, min(max(MIN_CAPACITY, 2 * (t + n)), limit)))
        for spec in TRACE_ARRAYS:
            buffer = self._arrays[spec.name]
            buffer[_index(spec, buffer.ndim, t, t + n)] = new[spec.name]
        self.length = t + n
        return self._views(t + n)

    def _allocate(self, old: dict[str, np.ndarray], capacity: int) -> None:
        """Fresh zeroed buffers (the OS hands out zero pages lazily) holding a copy of `old`."""
        t = old["residual"].shape[1]
        arrays = {}
        for spec in TRACE_ARRAYS:
            shape = list(old[spec.name].shape)
            for axis in spec.position_axes:
                shape[axis] = capacity
            buffer = np.zeros(shape, dtype=old[spec.name].dtype)
            buffer[_index(spec, buffer.ndim, 0, t)] = old[spec.name]
            arrays[spec.name] = buffer
        self._arrays, self.capacity = arrays, capacity

    def _views(self, t: int) -> dict[str, np.ndarray]:
        return {spec.name: spec.cut(self._arrays[spec.name], t) for spec in TRACE_ARRAYS}
