"""Answers as bytes for the trip from the model process to the window, sending each trace once.

A message is pickled with protocol 5, its numpy buffers out of band (`Packed.buffers`), so a big
array crosses as one block instead of being copied into the pickle. A generation step would
still resend the whole trace (tens of MB at a few hundred tokens, every token of a Run), so the
per-position arrays of a `Trace` (`TRACE_ARRAYS`) go by reference to the one sent before under
the same name:

- `same`: the very array sent last (a lens answer re-sends the trace it extends);
- `cut`: its first positions (undo);
- `ext`: it grew, and only the new positions cross. The model side knows an array grew because
  the stepper writes each step into the spare room of its buffers (`types/trace_buffers.py`): the
  new array starts at the same address, with the same strides, and each position is written once.

The decoder keeps the last array of each name in buffers with room to grow, written the same
way, so a trace already on screen never changes under it. Encoder and decoder see the messages
in the same order, which is all they need to agree.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass

import numpy as np

from model_core.types.trace import ARRAY_NAMES, Trace

PROTOCOL = 5
MIN_ROOM = 64  # positions a grown array gets room for, at least (then it doubles)


@dataclass
class Packed:
    """One message: the pickle stream and its out-of-band buffers, in order."""

    header: bytes
    buffers: list[memoryview]

    @property
    def nbytes(self) -> int:
        return len(self.header) + sum(b.nbytes for b in self.buffers)


def _address(array: np.ndarray) -> int:
    return array.__array_interface__["data"][0]


def _same_memory(a: np.ndarray, b: np.ndarray) -> bool:
    """`a` starts where `b` does and walks memory the same way (a longer or shorter view of it)."""
    return (a.dtype == b.dtype and a.ndim == b.ndim and a.strides == b.strides
            and _address(a) == _address(b))


def _slab_index(old: tuple[int, ...], new: tuple[int, ...], axis: int) -> tuple[slice, ...]:
    """The part of the grown array that is new along `axis`: axes before it kept to their old
    length, so that the slabs of all grown axes cover the new part exactly once."""
    return tuple(slice(0, old[j]) if j < axis else slice(old[j], new[j]) if j == axis else slice(0, new[j])
                 for j in range(len(new)))


class _Pickler(pickle.Pickler):
    def __init__(self, file, encoder: AnswerEncoder, buffers: list) -> None:
        super().__init__(file, protocol=PROTOCOL, buffer_callback=buffers.append)
        self._encoder = encoder

    def persistent_id(self, obj):  # noqa: ANN001 (pickle's hook)
        return self._encoder._reference(obj)


class AnswerEncoder:
    """The model process's side: remembers the last array sent under each trace-array name."""

    def __init__(self) -> None:
        self._last: dict[str, np.ndarray] = {}
        self._names: dict[int, tuple[str, np.ndarray]] = {}  # id(array) -> name, for the message in hand

    def pack(self, message: object) -> Packed:
        buffers: list = []
        stream = io.BytesIO()
        try:
            _Pickler(stream, self, buffers).dump(message)
        finally:
            self._names.clear()
        return Packed(stream.getvalue(), [b.raw() for b in buffers])

    def _reference(self, obj: object):
        if isinstance(obj, Trace):  # its arrays are pickled next: note which name each one is
            for name in ARRAY_NAMES:
                array = getattr(obj, name)
                self._names[id(array)] = (name, array)
            return None
        if type(obj) is not np.ndarray or id(obj) not in self._names:
            return None
        name = self._names[id(obj)][0]
        last, self._last[name] = self._last.get(name), obj
        if last is not None and _same_memory(obj, last):
            if obj.shape == last.shape:
                return ("same", name)
            if all(n <= o for n, o in zip(obj.shape, last.shape, strict=True)):
                return ("cut", name, obj.shape)
            if all(n >= o for n, o in zip(obj.shape, last.shape, strict=True)):
                grown = [axis for axis, (n, o) in enumerate(zip(obj.shape, last.shape, strict=True)) if n > o]
                slabs = [(axis, np.ascontiguousarray(obj[_slab_index(last.shape, obj.shape, axis)]))
                         for axis in grown]
                return ("ext", name, obj.shape, slabs)
        # The payload must be another array object: this hook sees it too, and must let it pass.
        payload = np.ascontiguousarray(obj)
        return ("full", name, obj.view() if payload is obj else payload)


class _Grown:
    """A decoded array with room to grow: `buffer[:written]` is the newest view handed out."""

    def __init__(self, buffer: np.ndarray, written: tuple[int, ...]) -> None:
        self.buffer, self.written = buffer, written

    def view(self, shape: tuple[int, ...]) -> np.ndarray:
        return self.buffer[tuple(slice(0, n) for n in shape)]


# Modules an answer's classes must not come from: unpickling imports a class's module, and these
# would bring torch into the window (seconds of imports, and the GUI thread must never run it).
ENGINE_MODULES = ("torch", "transformers", "model_core.engine", "accelerate", "safetensors")


def refuse_engine_class(module: str, name: str) -> None:
    if module.split(".")[0] in ENGINE_MODULES or module.startswith(ENGINE_MODULES):
        raise pickle.UnpicklingError(f"{module}.{name} would import the model engine into the window: "
                                     "answers must be made of types from model_core.types (numpy only)")


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, decoder: AnswerDecoder, buffers) -> None:
        super().__init__(file, buffers=buffers)
        self._decoder = decoder

    def persistent_load(self, pid):  # noqa: ANN001 (pickle's hook)
        return self._decoder._resolve(pid)

    def find_class(self, module: str, name: str):  # noqa: ANN201 (pickle's hook)
        refuse_engine_class(module, name)
        return super().find_class(module, name)


class AnswerDecoder:
    """The window's side: rebuilds each array from the one it holds under that name."""

    def __init__(self) -> None:
        self._last: dict[str, np.ndarray] = {}
        self._grown: dict[str, _Grown] = {}

    def unpack(self, header: bytes, buffers: list) -> object:
        return _Unpickler(io.BytesIO(header), self, buffers).load()

    def _resolve(self, pid: tuple) -> np.ndarray:
        kind, name = pid[0], pid[1]
        if kind == "full":
            array = pid[2]
            self._grown.pop(name, None)
        elif kind == "same":
            array = self._last[name]
        elif kind == "cut":
            array = self._last[name][tuple(slice(0, n) for n in pid[2])]
        elif kind == "ext":
            array = self._extend(name, tuple(pid[2]), pid[3])
        else:
            raise pickle.UnpicklingError(f"unknown array reference {kind!r}")
        self._last[name] = array
        return array

    def _extend(self, name: str, shape: tuple[int, ...], slabs: list) -> np.ndarray:
        old = self._last[name]
        grown = self._grown.get(name)
        # Write in place only past the furthest view handed out: after a cut (undo) an older, longer
        # trace may still be on screen, and its positions must not change.
        if (grown is None or grown.written != old.shape or not _same_memory(old, grown.view(old.shape))
                or any(n > c for n, c in zip(shape, grown.buffer.shape, strict=True))):
            room = tuple(max(n, MIN_ROOM, 2 * n) if n > o else n for n, o in zip(shape, old.shape, strict=True))
            buffer = np.zeros(room, dtype=old.dtype)  # zero pages cost nothing until written
            buffer[tuple(slice(0, n) for n in old.shape)] = old
            grown = self._grown[name] = _Grown(buffer, old.shape)
        for axis, slab in slabs:
            grown.buffer[_slab_index(grown.written, shape, axis)] = slab
        grown.written = shape
        return grown.view(shape)


def round_trip(message: object, encoder: AnswerEncoder, decoder: AnswerDecoder) -> object:
    """`message` as the window would get it from the model process (the model thread uses this to
    check that every answer crosses the codec)."""
    packed = encoder.pack(message)
    return decoder.unpack(packed.header, [bytearray(b) for b in packed.buffers])


def pack_plain(message: object) -> Packed:
    """A message with no traces to keep track of (the window's requests and controls)."""
    buffers: list = []
    header = pickle.dumps(message, protocol=PROTOCOL, buffer_callback=buffers.append)
    return Packed(header, [b.raw() for b in buffers])


def unpack_plain(header: bytes, buffers: list) -> object:
    return pickle.loads(header, buffers=buffers)
