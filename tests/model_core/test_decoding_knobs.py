"""Every decoding knob against transformers' own logits processors: the same kept set and the
same probabilities (tolerance 2e-6 absolute on float32 probabilities; the processors run in
float32 torch, ours in numpy). Frequency and presence penalties have no transformers processor;
their reference is OpenAI's published formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers.generation.logits_process import (
    LogitsProcessorList,
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    SequenceBiasLogitsProcessor,
    SuppressTokensLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from model_core.analysis.sampling import (
    BANNED,
    MIN_P,
    TOP_K,
    TOP_P,
    SamplingSettings,
    adjust_logits,
    bias_table,
    format_stop_list,
    greedy_token,
    parse_bias_list,
    parse_stop_list,
    shape_distribution,
    stop_sequence_hit,
)

VOCAB = 400


def _case(seed: int):
    rng = np.random.default_rng(seed)
    logits = (rng.normal(size=VOCAB) * rng.choice([1.0, 3.0, 6.0])).astype(np.float32)  # no exact ties
    context = rng.integers(0, VOCAB, size=int(rng.integers(1, 60)))
    return logits, context


def _hf(logits: np.ndarray, context: np.ndarray, s: SamplingSettings) -> tuple[np.ndarray, np.ndarray]:
    """(kept, probabilities) from transformers' processors, in generate's order."""
    processors = LogitsProcessorList()
    finite = {(i,): b for i, b in s.logit_bias if b > -100}
    banned = [i for i, b in s.logit_bias if b <= -100]
    if finite:
        processors.append(SequenceBiasLogitsProcessor(sequence_bias=finite))
    if banned:
        processors.append(SuppressTokensLogitsProcessor(banned))
    if s.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(float(s.repetition_penalty)))
    if s.temperature != 1.0:
        processors.append(TemperatureLogitsWarper(float(s.temperature)))
    if s.top_k:
        processors.append(TopKLogitsWarper(s.top_k))
    if s.top_p < 1.0:
        processors.append(TopPLogitsWarper(float(s.top_p)))
    if s.min_p > 0:
        processors.append(MinPLogitsWarper(float(s.min_p)))
    ids = torch.tensor([context.tolist()])
    scores = processors(ids, torch.tensor(logits)[None].clone())[0]
    kept = torch.isfinite(scores).numpy()
    return kept, torch.softmax(scores, dim=-1).numpy()


SETTINGS = [
    SamplingSettings(repetition_penalty=1.3),
    SamplingSettings(repetition_penalty=0.7, temperature=0.8),
    SamplingSettings(min_p=0.05),
    SamplingSettings(min_p=0.2, temperature=1.5),
    SamplingSettings(top_k=20, top_p=0.7),  # top-p renormalises over top-k's survivors, as transformers does
    SamplingSettings(top_k=40, top_p=0.9, min_p=0.02, temperature=0.7),
    SamplingSettings(logit_bias=bias_table([(3, 5.0), (17, -2.5), (100, 12.0)])),
    SamplingSettings(logit_bias=bias_table([(5, -100.0), (6, -100.0)]), top_p=0.8),
    SamplingSettings(repetition_penalty=1.5, logit_bias=bias_table([(9, 4.0)]), top_k=50, min_p=0.01),
]


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: repr(s)[17:80])
def test_kept_set_and_probabilities_match_transformers(settings):
    for seed in range(40):
        logits, context = _case(seed)
        if settings.logit_bias:  # make sure the biased tokens are in play
            logits[[i for i, _ in settings.logit_bias]] = logits.max()
        d = shape_distribution(logits, settings, context)
        kept, probs = _hf(logits, context, settings)
        np.testing.assert_array_equal(d.kept, kept, err_msg=f"seed {seed}")
        np.testing.assert_allclose(d.shaped, probs, atol=2e-6, err_msg=f"seed {seed}")


def test_repetition_penalty_logits_equal_the_processors():
    logits, context = _case(3)
    ours = adjust_logits(logits, SamplingSettings(repetition_penalty=1.7), context)
    theirs = RepetitionPenaltyLogitsProcessor(1.7)(torch.tensor([context.tolist()]), torch.tensor(logits)[None])
    np.testing.assert_array_equal(ours, theirs[0].numpy())
    seen = np.unique(context)
    assert (ours[seen] < logits[seen]).all()  # every token already in the text got less likely
    unseen = np.setdiff1d(np.arange(VOCAB), seen)
    np.testing.assert_array_equal(ours[unseen], logits[unseen])


def test_frequency_and_presence_follow_openais_formula():
    logits, context = _case(5)
    s = SamplingSettings(frequency_penalty=0.5, presence_penalty=0.3)
    ours = adjust_logits(logits, s, context)
    counts = np.bincount(context, minlength=VOCAB)
    expected = logits - counts * 0.5 - (counts > 0) * 0.3  # mu[j] - c[j] * a_freq - float(c[j] > 0) * a_pres
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    d = shape_distribution(logits, s, context)
    repeated = int(np.argmax(counts))
    assert d.scaled[repeated] < d.base[repeated]
    assert "frequency penalty 0.5" in " ".join(d.reasons(repeated))


def test_reasons_say_which_knob_removed_or_changed_a_token():
    logits = np.log(np.array([0.5, 0.25, 0.15, 0.07, 0.03], dtype=np.float32))
    d = shape_distribution(logits, SamplingSettings(top_k=3, logit_bias=((0, -100.0),)), [1, 1])
    assert d.removed_by[0] == BANNED and not d.kept[0] and d.shaped[0] == 0
    assert d.reasons(0) == ["banned by logit bias -100"]
    assert d.removed_by[4] == TOP_K and "top-k 3" in d.reasons(4)[0]
    assert d.kept[[1, 2, 3]].all()
    assert d.rows(2).tolist() == [0, 1]  # the banned favourite stays in view, in its place
    boosted = shape_distribution(logits, SamplingSettings(logit_bias=((4, 5.0),)))
    assert boosted.rows(2).tolist() == [4, 0, 1]  # a boosted token joins the bars, lifted to where it now is
    d = shape_distribution(logits, SamplingSettings(top_p=0.5))
    assert d.removed_by[1] == TOP_P
    d = shape_distribution(logits, SamplingSettings(min_p=0.2))
    assert d.removed_by[4] == MIN_P and d.kept[[0, 1, 2]].all() and not d.kept[3]


def test_greedy_obeys_bias_and_penalties_like_generate_without_sampling():
    logits, context = _case(7)
    top = int(np.argmax(logits))
    assert greedy_token(logits) == top
    assert greedy_token(logits, SamplingSettings(logit_bias=((top, -100.0),))) != top
    s = SamplingSettings(temperature=0, repetition_penalty=1.2)
    d = shape_distribution(logits, s, context)
    assert d.kept.sum() == 1 and int(np.flatnonzero(d.kept)[0]) == greedy_token(logits, s, context)


@pytest.mark.parametrize("bad", [
    SamplingSettings(repetition_penalty=0.0), SamplingSettings(repetition_penalty=11.0),
    SamplingSettings(frequency_penalty=2.5), SamplingSettings(presence_penalty=-3.0),
    SamplingSettings(min_p=1.5), SamplingSettings(logit_bias=((3, 150.0),)), SamplingSettings(stop=("",)),
])
def test_out_of_range_knobs_are_refused(bad):
    with pytest.raises(ValueError):
        bad.validated()


def test_banning_every_token_is_refused():
    with pytest.raises(ValueError, match="bans every token"):
        shape_distribution(np.zeros(2, np.float32), SamplingSettings(logit_bias=((0, -100.0), (1, -100.0))))


def test_parsing_bias_and_stop_lists():
    assert parse_bias_list("7042=-100, 12=+2.5;12=3") == ((12, 3.0), (7042, -100.0))
    assert parse_bias_list("") == ()
    for bad in ("7042", "x=1", "-1=2", "3=500"):
        with pytest.raises(ValueError):
            parse_bias_list(bad)
    stops = parse_stop_list(r"\n| Paris|a\|b|")
    assert stops == ("\n", " Paris", "a|b")
    assert parse_stop_list(format_stop_list(stops)) == stops


def test_stop_sequence_hits_only_when_the_newest_token_completes_it():
    assert stop_sequence_hit("Paris. Then", len("Paris. The"), (".",)) is None  # it was already there
    assert stop_sequence_hit("Paris.", len("Paris"), (".",)) == "."
    assert stop_sequence_hit("Hello wor", len("Hello w"), ("o w", "or")) == "or"
    assert stop_sequence_hit("stopper", len("st"), ("stop",)) == "stop"  # an overhang, as StopStringCriteria
