"""Temperature, top-k and top-p on hand-made logits with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from model_core.analysis.sampling import (
    SamplingSettings,
    draw,
    draw_many,
    rng_for,
    shape_distribution,
    softmax,
)

LOGITS = np.log(np.array([0.5, 0.25, 0.15, 0.07, 0.03], dtype=np.float32))


def test_temperature_one_is_softmax_and_nothing_filtered():
    d = shape_distribution(LOGITS, SamplingSettings())
    np.testing.assert_allclose(d.scaled, [0.5, 0.25, 0.15, 0.07, 0.03], atol=1e-6)
    assert d.kept.all()
    np.testing.assert_allclose(d.shaped, d.scaled, atol=1e-6)


def test_temperature_sharpens_and_flattens():
    cold = shape_distribution(LOGITS, SamplingSettings(temperature=0.5)).scaled
    hot = shape_distribution(LOGITS, SamplingSettings(temperature=2.0)).scaled
    assert cold[0] > 0.5 > hot[0]
    expected = np.array([0.5, 0.25, 0.15, 0.07, 0.03]) ** 2
    np.testing.assert_allclose(cold, expected / expected.sum(), atol=1e-6)


def test_greedy_keeps_only_the_argmax():
    d = shape_distribution(LOGITS, SamplingSettings(temperature=0))
    assert d.kept.tolist() == [True, False, False, False, False]
    assert draw(d, rng_for(0, 0)) == 0


def test_top_k_greys_the_rest_and_renormalises():
    d = shape_distribution(LOGITS, SamplingSettings(top_k=2))
    assert d.kept.tolist() == [True, True, False, False, False]
    np.testing.assert_allclose(d.shaped[:2], [2 / 3, 1 / 3], atol=1e-6)
    assert d.shaped[2:].sum() == 0


@pytest.mark.parametrize(("top_p", "n_kept"), [(0.5, 1), (0.6, 2), (0.75, 2), (0.9, 3), (0.95, 4), (1.0, 5)])
def test_top_p_keeps_the_smallest_nucleus(top_p, n_kept):
    d = shape_distribution(LOGITS, SamplingSettings(top_p=top_p))
    assert int(d.kept.sum()) == n_kept
    assert d.kept[:n_kept].all()


def test_seeded_draws_repeat_and_follow_probabilities():
    d = shape_distribution(LOGITS, SamplingSettings())
    assert [draw(d, rng_for(42, s)) for s in range(20)] == [draw(d, rng_for(42, s)) for s in range(20)]
    counts = draw_many(d, 20000, rng_for(1, 0))
    assert counts.sum() == 20000
    np.testing.assert_allclose(counts / 20000, d.shaped, atol=0.02)


@pytest.mark.parametrize("bad", [SamplingSettings(temperature=-1), SamplingSettings(top_p=0), SamplingSettings(top_k=-2)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        shape_distribution(LOGITS, bad)


def _kept_by_full_sort(logits: np.ndarray, st: SamplingSettings) -> np.ndarray:
    """The textbook filter, as transformers' warpers define it, by one stable descending sort of the
    whole vocabulary: top-k keeps everything at least as likely as the k-th token (ties stay), then
    top-p keeps the smallest prefix of top-k's survivors whose renormalised mass reaches p."""
    logits = np.asarray(logits, dtype=np.float32)
    scaled = softmax(logits if st.temperature == 0 else logits / st.temperature)
    order = np.argsort(-scaled, kind="stable")
    kept = np.zeros(len(logits), dtype=bool)
    if st.temperature == 0:
        kept[order[0]] = True
        return kept
    n = len(logits)
    if 0 < st.top_k < len(logits):
        n = int((scaled >= scaled[order[st.top_k - 1]]).sum())
    if st.top_p < 1.0:
        mass = scaled[order[:n]].astype(np.float64)
        cumulative = np.cumsum(mass) / mass.sum()
        n = min(n, int(np.searchsorted(cumulative, st.top_p - 1e-6, side="left")) + 1)
    kept[order[:n]] = True
    return kept


def test_partial_sort_keeps_exactly_what_a_full_sort_keeps():
    """Only the leading tokens are sorted; ties, flat and peaked distributions keep the same set."""
    rng = np.random.default_rng(0)
    for trial in range(600):
        vocab = int(rng.choice([5, 300, 5000, 50257]))
        logits = rng.normal(size=vocab) * rng.choice([0.1, 1.0, 5.0, 20.0])
        if trial % 3 == 1:
            logits = np.round(logits)  # many ties
        elif trial % 3 == 2:
            logits[:] = 0.0  # flat: top-p must look far down
        st = SamplingSettings(float(rng.choice([0.0, 0.5, 1.0, 2.0])), int(rng.choice([0, 1, 3, 40, 1000, vocab + 5])),
                              float(rng.choice([1.0, 0.99, 0.9, 0.5, 0.1])))
        np.testing.assert_array_equal(shape_distribution(logits, st).kept, _kept_by_full_sort(logits, st),
                                      err_msg=f"trial {trial}: {st}, vocab {vocab}")
