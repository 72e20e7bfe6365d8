"""Two runs side by side: the compared numbers are those of two independent traces."""

from __future__ import annotations

import numpy as np
import pytest

from model_core.analysis.compare import Run, align_tokens, distribution_pairs, lens_pairs, run_probabilities
from model_core.analysis.sampling import SamplingSettings, shape_distribution
from model_core.engine.tracing import run_trace


def test_comparison_equals_two_independent_traces(tiny_llama):
    a = run_trace(tiny_llama, "The capital of France is")
    b = run_trace(tiny_llama, "The capital of Germany is")
    hot = SamplingSettings(temperature=1.7, top_k=20)
    pinned, current = Run(a, SamplingSettings(), "pinned"), Run(b, hot, "current")
    pairs = distribution_pairs(pinned, current, k=5)
    # Each side: its own trace's next-token logits through its own knobs.
    pa = shape_distribution(a.next_logits, SamplingSettings(), a.tokens.ids).shaped
    pb = shape_distribution(b.next_logits, hot, b.tokens.ids).shaped
    np.testing.assert_array_equal(run_probabilities(pinned), pa)
    np.testing.assert_array_equal(pairs.pinned, pa[pairs.ids])
    np.testing.assert_array_equal(pairs.current, pb[pairs.ids])
    np.testing.assert_array_equal(pairs.difference, pb[pairs.ids] - pa[pairs.ids])
    # The union of both top-5s, larger probability first.
    assert set(pairs.ids) == set(np.argsort(-pa)[:5]) | set(np.argsort(-pb)[:5])
    biggest = np.maximum(pairs.pinned, pairs.current)
    assert np.all(np.diff(biggest) <= 0)
    lens = lens_pairs(a, b)
    assert len(lens) == tiny_llama.info.n_layers + 1
    for layer, ia, prob_a, ib, prob_b in lens:
        assert (ia, ib) == (int(a.lens_ids[layer, 0]), int(b.lens_ids[layer, 0]))
        assert prob_a == pytest.approx(float(a.lens_probs[layer, 0]))
        assert prob_b == pytest.approx(float(b.lens_probs[layer, 0]))
    # The top of the last layer's lens is the run's own top next token.
    assert lens[-1][1] == int(np.argmax(a.next_logits)) and lens[-1][3] == int(np.argmax(b.next_logits))


def test_align_tokens_marks_where_tokenisations_differ():
    a = ["The", "␣capital", "␣of", "␣France", "␣is"]
    b = ["The", "␣capital", "␣of", "␣Ger", "many", "␣is"]
    pairs = align_tokens(a, b)
    assert pairs == [(0, 0), (1, 1), (2, 2), (3, 3), (None, 4), (4, 5)]
    assert align_tokens(a, a) == [(i, i) for i in range(5)]
    assert align_tokens([], ["x"]) == [(None, 0)]
