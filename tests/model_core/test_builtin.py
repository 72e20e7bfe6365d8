"""The built-in model as shipped: fetched from its PyPI wheel, verified, converted, cached.

Tolerances: probabilities 1e-4 absolute against plain transformers loaded from
the same converted folder with eager attention.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM

from model_core.engine import builtin_model
from model_core.engine.tracing import run_trace

pytestmark = pytest.mark.builtin
CAPITAL = "The capital of Germany is Berlin. The capital of France is"


def test_paris_at_about_97_percent(builtin_lm):
    trace = run_trace(builtin_lm, CAPITAL)
    probs = trace.next_probs
    paris = int(np.argmax(probs))
    assert builtin_lm.tokenizer.decode([paris]) == " Paris"
    assert 0.96 < probs[paris] < 0.99
    assert trace.n_tokens == 12


def test_builtin_matches_plain_transformers(builtin_lm):
    trace = run_trace(builtin_lm, CAPITAL)
    model = AutoModelForCausalLM.from_pretrained(builtin_model.converted_dir(), attn_implementation="eager",
                                                 dtype=torch.float32).eval()
    with torch.no_grad():
        out = model(torch.tensor([trace.tokens.ids.tolist()]), output_attentions=True)
    np.testing.assert_allclose(trace.next_probs, torch.softmax(out.logits[0, -1], -1).numpy(), atol=1e-4)
    attention = np.stack([a[0].numpy() for a in out.attentions])
    np.testing.assert_allclose(trace.attention.astype(np.float32), attention, atol=1e-3)
    # logit lens: " Paris" takes over only in the last layers
    paris = int(np.argmax(trace.next_probs))
    first = next(layer for layer in range(trace.lens_ids.shape[0]) if trace.lens_ids[layer, 0] == paris)
    assert first > trace.n_layers // 2


def test_checksum_mismatch_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / builtin_model.WHEEL_NAME
    bad.write_bytes(b"not the wheel")
    monkeypatch.setenv("LOGITSCOPE_BUILTIN_WHEEL", str(bad))
    monkeypatch.setenv("LOGITSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(builtin_model.ModelLoadError, match="checksum"):
        builtin_model.ensure_builtin()
    assert not builtin_model.converted_dir().exists()


def test_offline_download_failure_says_what_to_do(tmp_path, monkeypatch):
    for name in ("LOGITSCOPE_BUILTIN_WHEEL", "LOGITSCOPE_BUILTIN_DIR"):  # a wheel or folder given would skip the download
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOGITSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LOGITSCOPE_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens on port 9
    with pytest.raises(builtin_model.ModelLoadError, match="Could not download the built-in model.*pip install"):
        builtin_model.ensure_builtin()


def test_cli_trace_json_lens(builtin_lm):
    out = subprocess.run([sys.executable, "-m", "desktop.entry", "trace", CAPITAL, "--json", "--lens", "--top-k", "3"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["model"]["layers"] == 30 and result["model"]["heads"] == 9
    assert result["next_token"][0]["text"] == " Paris"
    assert len(result["tokens"]) == 12 and result["tokens"][1]["text"] == " capital"
    assert len(result["logit_lens"]) == 31
    assert result["logit_lens"][-1][0]["text"] == " Paris"
