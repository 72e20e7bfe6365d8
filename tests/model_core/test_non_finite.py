"""A model that computes NaN (damaged weights) is named as such, with the layer that first did it;
NaN is never shown as a probability (issue 18)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_core.engine.loading import load_model
from model_core.engine.stepper import Stepper
from model_core.engine.tracing import run_trace, trace_ids
from model_core.errors import NonFiniteError
from tests.model_core.cli_runner import run_cli


def test_trace_names_the_first_block_that_went_wrong(nan_gpt2_dir):
    lm = load_model(str(nan_gpt2_dir), device="cpu")
    with pytest.raises(NonFiniteError, match=r"output of block 1 \(layer 2\)"):
        run_trace(lm, "The capital of France is")


def test_command_line_prints_no_nan_probabilities(nan_gpt2_dir):
    out = run_cli("trace", "Hello world", "--model", str(nan_gpt2_dir), "--json")
    assert out.returncode == 1 and out.stdout == ""
    assert "NaN" in out.stderr and "block 1" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_failed_step_leaves_cache_and_trace_in_step(tiny_gpt2):
    """A step whose forward pass fails must not leave its keys and values in the cache."""
    stepper = Stepper(tiny_gpt2, max_new_tokens=5, lens=False)
    stepper.start("Hello world")
    weight = tiny_gpt2.model.transformer.h[0].attn.c_proj.weight
    saved = weight.detach().clone()
    with torch.no_grad():
        weight.fill_(float("inf"))
    try:
        with pytest.raises(NonFiniteError, match="block 0"):
            stepper.step()
    finally:
        with torch.no_grad():
            weight.copy_(saved)
    assert stepper._cache.get_seq_length() == stepper.trace.n_tokens and stepper.n_new == 0
    stepped = stepper.step()  # and it goes on as if nothing happened
    fresh = trace_ids(tiny_gpt2, stepped.tokens.ids.tolist(), lens=False)
    np.testing.assert_allclose(stepped.next_logits, fresh.next_logits, atol=1e-4)


def test_a_prompt_that_fails_leaves_nothing_to_step_from(tiny_gpt2):
    stepper = Stepper(tiny_gpt2, max_new_tokens=5, lens=False)
    stepper.start("Hello world")
    with pytest.raises(Exception, match="reads at most"):
        stepper.start("word " * 400)
    with pytest.raises(Exception, match="No prompt has been traced"):
        stepper.step()
    assert stepper.n_new == 0
