"""The command line's interventions: trace --ablate / --attention-temperature / steering, and patch."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.model_core.cli_runner import run_cli as run

PROMPT = "The capital of France is Paris. The capital of Germany is"


def test_trace_with_an_ablation_says_before_and_after(tiny_gpt2_dir):
    plain = json.loads(run("trace", PROMPT, "--model", str(tiny_gpt2_dir), "--json").stdout)
    out = run("trace", PROMPT, "--model", str(tiny_gpt2_dir), "--json", "--ablate", "1.2", "--ablate-mlp", "0",
              "--attention-temperature", "2")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert [i["label"] for i in result["interventions"]] == [
        "Ablate head 1.2 (zero)", "Ablate MLP of layer 0 (zero)", "Attention temperature 2 (all layers)"]
    before = {row["id"]: row for row in plain["next_token"]}
    for row in result["next_token"]:
        if row["id"] in before:
            assert row["prob_before"] == pytest.approx(before[row["id"]]["prob"], abs=1e-7)
            assert abs(row["logit"] - before[row["id"]]["logit"]) > 1e-3  # the intervened model's own numbers


def test_generate_under_steering(tiny_gpt2_dir):
    args = ("generate", PROMPT, "--model", str(tiny_gpt2_dir), "--max-new-tokens", "5", "--json")
    plain = json.loads(run(*args).stdout)
    out = run(*args, "--steer-towards", " happy", "--steer-away", " sad", "--steer-layer", "1",
              "--steer-strength", "30")
    assert out.returncode == 0, out.stderr
    steered = json.loads(out.stdout)
    assert steered["interventions"][0]["type"] == "steering" and "vector" not in steered["interventions"][0]
    assert steered["generated"] != plain["generated"]


@pytest.mark.parametrize("args, code, words", [
    (("trace", PROMPT, "--ablate", "0.99"), 1, "no head 0.99"),
    (("trace", PROMPT, "--ablate", "three"), 2, "not a head"),
    (("trace", PROMPT, "--ablate-mlp", "7"), 1, "layer 7 does not exist"),
    (("trace", PROMPT, "--attention-temperature", "0"), 2, "above 0"),
    (("trace", PROMPT, "--attention-temperature", "-1"), 2, "above 0"),
    (("trace", PROMPT, "--temperature-layer", "1"), 2, "needs --attention-temperature"),
    (("generate", PROMPT, "--steer-towards", "a", "--steer-away", "b", "--steer-layer", "9"), 1,
     "steering layer 9 does not exist"),
    (("generate", PROMPT, "--steer-towards", "a"), 2, "both"),
    (("patch", "The capital of France is", "The capital of the United Kingdom is"), 1, "same count"),
    (("patch", "The capital of France is", "The capital of Italy is", "--answer", " Paris and"), 2, "one token"),
])
def test_bad_intervention_input_exits_nonzero_with_one_line(tiny_gpt2_dir, args, code, words):
    out = run(*args, "--model", str(tiny_gpt2_dir))
    assert out.returncode == code, (out.stdout, out.stderr)
    assert words in out.stderr and "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0


def test_patch_prints_the_grid(tiny_gpt2_dir):
    out = run("patch", "The capital of France is", "The capital of Germany is", "--model", str(tiny_gpt2_dir), "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    n = len(result["clean_tokens"])
    restored = np.array(result["residual_restored"])
    assert restored.shape == (result["model"]["layers"] + 1, n)
    assert restored[-1, -1] == pytest.approx(1.0, abs=1e-4)
    assert np.array(result["heads_restored"]).shape == (result["model"]["layers"], result["model"]["heads"])
    assert result["differ_at"]
    text = run("patch", "The capital of France is", "The capital of Germany is", "--model", str(tiny_gpt2_dir),
               "--no-heads")
    assert text.returncode == 0 and "restored share" in text.stdout
