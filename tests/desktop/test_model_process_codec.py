"""The model process's codec: a generation step crosses as its new positions only, and every trace
the window holds comes out equal to the one the stepper made, before and after an undo.

Compared exactly (the codec copies bytes, it computes nothing).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from desktop.core.model_process.codec import AnswerDecoder, AnswerEncoder
from model_core.engine.stepper import Stepper
from model_core.types.trace import ARRAY_NAMES, Trace


def cross(encoder: AnswerEncoder, decoder: AnswerDecoder, message: object) -> tuple[object, int]:
    packed = encoder.pack(message)
    return decoder.unpack(packed.header, [bytearray(b) for b in packed.buffers]), packed.nbytes


def assert_same_trace(got: Trace, want: Trace) -> None:
    for name in ARRAY_NAMES:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    np.testing.assert_array_equal(got.next_logits, want.next_logits)
    assert got.tokens.labels == want.tokens.labels and got.text == want.text


def test_steps_cross_as_their_new_positions_and_every_trace_stays_right(tiny_gpt2) -> None:
    stepper = Stepper(tiny_gpt2, lens=False)
    encoder, decoder = AnswerEncoder(), AnswerDecoder()
    first, full_size = cross(encoder, decoder, ("answered", 1, stepper.start("The cat sat on the mat and")))
    assert_same_trace(first[2], stepper.trace)
    kept: list[tuple[Trace, Trace]] = []  # (what the window got, a copy of what the stepper made)
    sizes = []
    for _ in range(6):
        made = stepper.step()
        got, size = cross(encoder, decoder, ("answered", 2, made))
        sizes.append(size)
        assert_same_trace(got[2], made)
        kept.append((got[2], pickle.loads(pickle.dumps(made))))
    # The first step moves the trace into the stepper's growing buffers, so it crosses whole; every
    # step after it sends a few rows, not the trace (the attention alone is [L, H, T, T]).
    assert max(sizes[1:]) < sizes[0] / 5, (sizes, full_size)
    assert sizes[-1] < 0.2 * sum(getattr(kept[-1][1], name).nbytes for name in ARRAY_NAMES)
    # Undo twice (a cut of the arrays), then step on: new positions over the cut ones. The longer
    # traces received before the undo must not change under the window.
    for _ in range(2):
        got, size = cross(encoder, decoder, ("answered", 3, stepper.undo()))
        assert size < full_size / 2
        assert_same_trace(got[2], stepper.trace)
    for _ in range(3):
        got, _size = cross(encoder, decoder, ("answered", 4, stepper.step()))
        assert_same_trace(got[2], stepper.trace)
    for got, want in kept:
        assert_same_trace(got, want)


def test_a_trace_sent_twice_in_a_row_is_the_same_arrays(tiny_gpt2) -> None:
    """The lens answer re-sends the trace it extends: the window gets its own arrays back, not copies."""
    stepper = Stepper(tiny_gpt2, lens=False)
    encoder, decoder = AnswerEncoder(), AnswerDecoder()
    trace = stepper.start("Hello there")
    first, _ = cross(encoder, decoder, trace)
    with_lens = stepper.add_lens()
    again, size = cross(encoder, decoder, with_lens)
    assert again.residual is first.residual and again.attention is first.attention
    assert again.lens_ids is not None
    alone = AnswerEncoder().pack(with_lens).nbytes  # the same trace to a window that has nothing yet
    assert alone - size > sum(getattr(trace, name).nbytes for name in ARRAY_NAMES) * 0.9


@pytest.mark.parametrize("module", ["model_core.engine.loading", "torch", "transformers"])
def test_an_answer_that_would_import_the_engine_is_refused(module: str) -> None:
    """Unpickling imports a class's module: one from the engine would load torch into the window."""
    stream = b"\x80\x05c" + module.encode() + b"\nSomething\n."
    with pytest.raises(pickle.UnpicklingError, match="model engine"):
        AnswerDecoder().unpack(stream, [])


def test_positions_rewritten_after_a_cut_leave_the_longer_array_the_window_holds_alone() -> None:
    """The stepper starts new buffers after an undo; the decoder must not rely on it. Here one buffer is
    cut back and position 6 written again: the 7-position array received before keeps its old row."""
    buffer = np.zeros((2, 10, 3), np.float32)
    encoder, decoder = AnswerEncoder(), AnswerDecoder()

    def send(n: int) -> np.ndarray:
        trace_like = _TraceWith(buffer[:, :n])
        return cross(encoder, decoder, trace_like)[0].residual

    buffer[:, :5] = 1.0
    send(5)
    buffer[:, 5:7] = 2.0
    seven = send(7)
    send(6)  # undo: a cut
    buffer[:, 6:8] = 3.0  # position 6 again, and 7
    eight = send(8)
    np.testing.assert_array_equal(seven[:, 6], 2.0)
    np.testing.assert_array_equal(eight[:, 6:8], 3.0)
    np.testing.assert_array_equal(eight[:, :6], buffer[:, :6])


class _TraceWith(Trace):
    """A Trace whose residual is the given array (the rest is as small as a trace can be)."""

    def __init__(self, residual: np.ndarray) -> None:  # noqa: D107
        object.__setattr__(self, "residual", residual)
        for name in ARRAY_NAMES[1:]:
            object.__setattr__(self, name, np.zeros(0, np.float32))
