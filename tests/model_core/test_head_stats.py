"""Head summaries on hand-made attention matrices."""

from __future__ import annotations

import numpy as np
import pytest

from model_core.analysis.head_stats import (
    attention_breakdown,
    first_token_score,
    head_stats,
    hide_first_token,
    mean_entropy_bits,
    previous_token_score,
    takeover_layer,
)

PREV = np.array([[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], dtype=np.float32)  # previous-token head
SINK = np.array([[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]], dtype=np.float32)  # all on token 0
UNIFORM = np.tril(np.ones((4, 4), dtype=np.float32))
UNIFORM /= UNIFORM.sum(axis=1, keepdims=True)


def test_previous_token_head():
    assert previous_token_score(PREV) == pytest.approx(1.0)
    assert first_token_score(PREV) == pytest.approx(1 / 3)  # rows 1..3: only row 1 reads token 0
    assert mean_entropy_bits(PREV) == pytest.approx(0.0)


def test_sink_head():
    assert first_token_score(SINK) == pytest.approx(1.0)
    assert previous_token_score(SINK) == pytest.approx(1 / 3)  # row 1's previous token is token 0
    assert mean_entropy_bits(SINK) == pytest.approx(0.0)


def test_uniform_head_entropy():
    # rows 1..3 spread over 2, 3, 4 keys: log2 of each
    assert mean_entropy_bits(UNIFORM) == pytest.approx(np.mean(np.log2([2, 3, 4])))
    assert previous_token_score(UNIFORM) == pytest.approx(np.mean([1 / 2, 1 / 3, 1 / 4]))
    assert first_token_score(UNIFORM) == pytest.approx(np.mean([1 / 2, 1 / 3, 1 / 4]))


def test_head_stats_shapes_follow_layers_and_heads():
    attention = np.stack([np.stack([PREV, SINK, UNIFORM])] * 2)  # [2, 3, 4, 4]
    stats = head_stats(attention)
    assert stats.entropy.shape == stats.previous_token.shape == stats.first_token.shape == (2, 3)
    np.testing.assert_allclose(stats.previous_token[:, 0], 1.0)
    np.testing.assert_allclose(stats.first_token[:, 1], 1.0)


def test_single_token_uses_row_zero():
    one = np.ones((1, 1), dtype=np.float32)
    assert first_token_score(one) == pytest.approx(1.0)
    assert previous_token_score(one) == pytest.approx(0.0)
    assert mean_entropy_bits(one) == pytest.approx(0.0)


def test_hide_first_token_renormalises_rows():
    shown = hide_first_token(UNIFORM)
    np.testing.assert_allclose(shown[:, 0], 0.0)
    np.testing.assert_allclose(shown[1:].sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(shown[0], 0.0)  # row 0 only had token 0: nothing left
    np.testing.assert_allclose(shown[3], [0, 1 / 3, 1 / 3, 1 / 3], atol=1e-6)
    assert np.isfinite(hide_first_token(SINK)).all()


def test_attention_breakdown_is_scaled_softmax():
    rng = np.random.default_rng(0)
    q, keys = rng.normal(size=16), rng.normal(size=(5, 16))
    dots, scaled, weights = attention_breakdown(q, keys)
    np.testing.assert_allclose(dots, keys @ q)
    np.testing.assert_allclose(scaled, keys @ q / 4.0)
    expected = np.exp(scaled) / np.exp(scaled).sum()
    np.testing.assert_allclose(weights, expected)
    _, scaled2, _ = attention_breakdown(q, keys, scale=0.5)
    np.testing.assert_allclose(scaled2, dots * 0.5)


def test_takeover_layer():
    assert takeover_layer(np.array([5, 5, 7, 5, 9, 9, 9])) == 4
    assert takeover_layer(np.array([9, 9, 9])) == 0
    assert takeover_layer(np.array([1, 2, 3])) == 2
