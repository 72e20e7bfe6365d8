"""`logitscope attribute`: one score per prompt token, equal to the engine's; bad input is one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.model_core.cli_runner import run_cli as run


def test_attribute_json_matches_the_engine(tiny_gpt2_dir, tiny_gpt2, tmp_path):
    from model_core.engine.attribution.attribute import attribute

    target = tiny_gpt2.tokenizer.decode([7])
    dump = tmp_path / "scores.npz"
    out = run("attribute", "Hello world, hello", "--model", str(tiny_gpt2_dir), "--target", target,
              "--method", "integrated-gradients", "--steps", "8", "--json", "--dump", str(dump))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    ids = tiny_gpt2.tokenizer.encode("Hello world, hello")
    assert [t["id"] for t in result["tokens"]] == ids
    assert result["target"]["id"] == 7
    expected = attribute(tiny_gpt2, ids, 7, "integrated-gradients", steps=8)
    np.testing.assert_allclose([t["score"] for t in result["tokens"]], expected.scores, rtol=1e-5, atol=1e-8)
    assert result["integrated_gradients"]["completeness_error"] == pytest.approx(expected.completeness_error, abs=1e-6)
    np.testing.assert_allclose(np.load(dump)["scores"], expected.scores, rtol=1e-6)


@pytest.mark.parametrize("method", ["grad-x-input", "rollout"])
def test_attribute_defaults_to_the_top_prediction(tiny_llama_dir, tiny_llama, method, tmp_path):
    from model_core.engine.tracing import trace_ids

    ids = tiny_llama.tokenizer.encode("The capital of France")
    csv_file = tmp_path / "scores.csv"
    out = run("attribute", "The capital of France", "--model", str(tiny_llama_dir), "--method", method, "--json",
              "--per-layer", "--dump", str(csv_file))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["target"]["id"] == int(np.argmax(trace_ids(tiny_llama, ids, lens=False).next_logits))
    assert len(result["tokens"]) == len(ids)
    assert len(result["per_layer"]) == tiny_llama.info.n_layers + 1
    assert len(csv_file.read_text().splitlines()) == len(ids) + 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("attribute", ""), "empty"),
        (("attribute",), "give a prompt"),
        (("attribute", "hi", "--method", "saliency"), "unknown attribution method"),
        (("attribute", "hi", "--target", " capital city of"), "not one"),
        (("attribute", "hi", "--steps", "0"), "at least 1"),
        (("attribute", "hi", "--steps", "5000"), "at most 1024"),
        (("attribute", "hi", "--target-id", "99999"), "not in this model's vocabulary"),
    ],
)
def test_attribute_bad_input_is_one_line(tiny_gpt2_dir, args, message):
    out = run(*args, "--model", str(tiny_gpt2_dir))
    assert out.returncode != 0
    assert message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert len([line for line in out.stderr.splitlines() if line.strip()]) == 1
