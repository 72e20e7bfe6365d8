"""`logitscope trace --model FOLDER` for families of every kind, and the big-model options.

In process (the command line's `run`), so a handful of families cost seconds: the next-token
list equals the trace's own distribution, a MoE model lists the last token's experts, and the
dtype / memory budget / offload folder options reach the loader. One subprocess run checks the
installed entry point with those options end to end.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from model_core.cli import run
from model_core.engine.tracing import run_trace
from tests.model_core.family_checks import TEXT

FEW = ["gptj", "falcon", "bloom", "gemma2", "phi3", "opt", "mixtral", "qwen2_moe"]


def _trace_json(capsys, *args) -> dict:
    code = run(["trace", TEXT, "--json", "--lens", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.mark.parametrize("spec", FEW)
def test_trace_command_opens_the_family(spec, family_dir, family_lm, capsys):
    result = _trace_json(capsys, "--model", str(family_dir(spec)), "--device", "cpu")
    lm = family_lm(spec)
    trace = run_trace(lm, TEXT)
    assert result["model"]["architecture"] == lm.info.architecture and result["model"]["model_type"] == spec
    assert [t["id"] for t in result["tokens"]] == trace.tokens.ids.tolist()
    top = np.argsort(-trace.next_probs)[:10]
    assert [t["id"] for t in result["next_token"]] == top.tolist()
    np.testing.assert_allclose([t["prob"] for t in result["next_token"]], trace.next_probs[top], atol=1e-6)
    assert len(result["logit_lens"]) == lm.info.n_layers + 1
    if lm.info.is_moe:
        assert result["model"]["experts"] == 4 and result["model"]["active_parameters"] < result["model"]["parameters"]
        layers = [r["layer"] for r in result["router"]]
        assert layers == list(lm.info.moe_layers)
        for choice in result["router"]:
            assert sorted(choice["experts"]) == sorted(trace.router_ids[choice["layer"], -1].tolist())
    else:
        assert "router" not in result


def test_dtype_and_offload_options_reach_the_loader(family_dir, tmp_path, capsys):
    result = _trace_json(capsys, "--model", str(family_dir("llama")), "--device", "cpu", "--dtype", "bfloat16",
                         "--max-memory", "cpu=150KB", "--offload-folder", str(tmp_path / "off"))
    model = result["model"]
    assert model["dtype"] == "bfloat16"
    assert [p["device"] for p in model["placement"]] == ["cpu", "disk"]
    assert sum(p["bytes"] for p in model["placement"]) == 2 * model["parameters"]


def test_a_bad_memory_budget_is_a_usage_error(capsys):
    assert run(["trace", "hi", "--max-memory", "cpu=lots"]) == 2
    assert "--max-memory: 'lots' is not a memory size" in capsys.readouterr().err


def test_the_entry_point_with_big_model_options(family_dir, tmp_path):
    out = subprocess.run([sys.executable, "-m", "desktop.entry", "trace", TEXT, "--model", str(family_dir("mixtral")),
                          "--device", "cpu", "--max-memory", "cpu=300KB", "--offload-folder", str(tmp_path / "off")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Mixtral" in out.stdout and "experts of the last token:" in out.stdout
    assert "placement: " in out.stdout and "disk: " in out.stdout
