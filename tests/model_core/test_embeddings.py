"""Embedding neighbours and analogies against a direct numpy cosine computation."""

from __future__ import annotations

import numpy as np
import pytest

from model_core.engine.probes.embeddings import analogy, nearest_tokens


def _cosine_top(weight: np.ndarray, vector: np.ndarray, exclude, k, n_real):
    unit = weight / np.linalg.norm(weight, axis=1, keepdims=True)
    sims = unit @ (vector / np.linalg.norm(vector))
    sims[list(exclude)] = -np.inf
    sims[n_real:] = -np.inf
    order = np.argsort(-sims, kind="stable")[:k]
    return order, sims[order]


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_llama"])
def test_nearest_equals_numpy(name, request):
    lm = request.getfixturevalue(name)
    weight = lm.model.get_input_embeddings().weight.detach().numpy().astype(np.float64)
    word, found = nearest_tokens(lm, " capital", k=8)
    assert word.ids == tuple(lm.tokenizer(" capital", add_special_tokens=False)["input_ids"])
    ids, sims = _cosine_top(weight, weight[list(word.ids)].mean(0), word.ids, 8, len(lm.tokenizer))
    np.testing.assert_array_equal(found.ids, ids)
    np.testing.assert_allclose(found.similarities, sims, atol=1e-5)
    assert not set(word.ids) & set(found.ids.tolist())
    assert len(found.labels) == 8


def test_analogy_equals_numpy(tiny_gpt2):
    lm = tiny_gpt2
    weight = lm.model.get_input_embeddings().weight.detach().numpy().astype(np.float64)
    words, found = analogy(lm, " Berlin", " Germany", " France", k=5)
    vec = [weight[list(w.ids)].mean(0) for w in words]
    exclude = {i for w in words for i in w.ids}
    ids, sims = _cosine_top(weight, vec[0] - vec[1] + vec[2], exclude, 5, len(lm.tokenizer))
    np.testing.assert_array_equal(found.ids, ids)
    np.testing.assert_allclose(found.similarities, sims, atol=1e-5)
    assert not exclude & set(found.ids.tolist())


@pytest.mark.builtin
def test_builtin_king_neighbours(builtin_lm):
    word, found = nearest_tokens(builtin_lm, " king", k=10)
    assert word.labels == ("␣king",)
    weight = builtin_lm.model.get_input_embeddings().weight.detach().numpy().astype(np.float64)
    ids, _ = _cosine_top(weight, weight[word.ids[0]], word.ids, 10, len(builtin_lm.tokenizer))
    np.testing.assert_array_equal(found.ids, ids)


@pytest.mark.builtin
def test_the_mid_sentence_form_of_a_word_typed_without_its_space(builtin_lm):
    from model_core.engine.probes.embeddings import mid_sentence_form

    assert mid_sentence_form(builtin_lm, "king") == " king"
    assert mid_sentence_form(builtin_lm, " king") is None  # already the mid-sentence form
    assert mid_sentence_form(builtin_lm, "") is None
    # The trap: the start-of-text forms give noise, the mid-sentence ones the classic answer.
    _, plain = analogy(builtin_lm, "king", "man", "woman", k=5)
    _, spaced = analogy(builtin_lm, " king", " man", " woman", k=5)
    assert spaced.labels[0] == "␣queen" and spaced.similarities[0] > 0.6
    assert "␣queen" not in plain.labels[:1]
