"""Room to grow: a generation step writes its one new position instead of copying the whole trace.

Concatenating every array each step copies the [L, H, T, T] attention and the rest: about
0.8 GB per step at 1024 tokens of the built-in model. These buffers keep spare positions
(doubling, up to the trace limit); a trace is a view of the first T positions and a step
writes only the new rows. Earlier traces stay valid, because a position is written once.
After an undo the stepper calls `forget`: the positions past the cut would be rewritten
while a longer trace from before the undo may still be on screen, so the next step copies
into new buffers instead.
"""

from __future__ import annotations

import numpy as np

MIN_CAPACITY = 64
# name -> the axis that counts positions
POSITION_AXIS = {"residual": 1, "attn_out": 1, "queries": 2, "keys": 2, "values": 2}


class TraceBuffers:
    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}
        self._attention: np.ndarray | None = None  # [L, H, C, C]
        self.capacity = 0
        self.length = -1  # positions written; -1 = holds nothing a trace could extend

    def forget(self) -> None:
        self._arrays, self._attention, self.capacity, self.length = {}, None, 0, -1

    def extend(self, old: dict[str, np.ndarray], new: dict[str, np.ndarray], limit: int) -> dict[str, np.ndarray]:
        """Arrays of `old` (T positions, incl. "attention") followed by `new` (n positions), as views."""
        t, n = old["residual"].shape[1], new["residual"].shape[1]
        if self.length != t or t + n > self.capacity:
            self._allocate(old, max(t + n, min(max(MIN_CAPACITY, 2 * (t + n)), limit)))
        for name, axis in POSITION_AXIS.items():
            index = [slice(None)] * self._arrays[name].ndim
            index[axis] = slice(t, t + n)
            self._arrays[name][tuple(index)] = new[name]
        self._attention[:, :, t : t + n, : t + n] = new["attention"]
        self.length = t + n
        return self._views(t + n)

    def _allocate(self, old: dict[str, np.ndarray], capacity: int) -> None:
        """Fresh zeroed buffers (the OS hands out zero pages lazily) holding a copy of `old`."""
        t = old["residual"].shape[1]
        arrays = {}
        for name, axis in POSITION_AXIS.items():
            shape = list(old[name].shape)
            shape[axis] = capacity
            arrays[name] = np.zeros(shape, dtype=old[name].dtype)
            index = [slice(None)] * len(shape)
            index[axis] = slice(0, t)
            arrays[name][tuple(index)] = old[name]
        attention = old["attention"]
        self._attention = np.zeros(attention.shape[:2] + (capacity, capacity), dtype=attention.dtype)
        self._attention[:, :, :t, :t] = attention
        self._arrays, self.capacity = arrays, capacity

    def _views(self, t: int) -> dict[str, np.ndarray]:
        views = {}
        for name, axis in POSITION_AXIS.items():
            index = [slice(None)] * self._arrays[name].ndim
            index[axis] = slice(0, t)
            views[name] = self._arrays[name][tuple(index)]
        views["attention"] = self._attention[:, :, :t, :t]
        return views
