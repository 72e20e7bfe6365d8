"""The command line: JSON output, .npz dumps, and one clear line (no traceback) on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest


def run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "desktop.entry", *args], capture_output=True, text=True,
                          input=stdin, timeout=300)


def test_trace_json_and_dump(tiny_gpt2_dir, tmp_path):
    dump = tmp_path / "trace.npz"
    out = run("trace", "Hello world", "--model", str(tiny_gpt2_dir), "--json", "--dump", str(dump), "--lens")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["model"]["layers"] == 3
    assert "".join(t["text"] for t in result["tokens"]) == "Hello world"
    probs = [t["prob"] for t in result["next_token"]]
    assert probs == sorted(probs, reverse=True)
    assert len(result["logit_lens"]) == 4
    data = np.load(dump)
    t = len(result["tokens"])
    assert data["attention"].shape == (3, 4, t, t)
    assert data["residual"].shape == (4, t, 48)


def test_generate_is_seeded(tiny_llama_dir):
    args = ("generate", "The capital", "--model", str(tiny_llama_dir), "--max-new-tokens", "6",
            "--temperature", "1.2", "--seed", "5", "--json")
    a, b = run(*args), run(*args)
    assert a.returncode == 0, a.stderr
    assert json.loads(a.stdout)["generated"] == json.loads(b.stdout)["generated"]
    assert json.loads(a.stdout)["stop_reason"] in ("max-length", "end-of-text")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("trace", ""), "empty"),
        (("trace", "   "), "empty"),
        (("trace", "hi", "--model", "/no/such/folder"), "does not exist"),
        (("trace", "hi", "--model", "not a model name!"), "Unknown model"),
        (("generate", "hi", "--max-new-tokens", "0"), "at least 1"),
    ],
)
def test_bad_input_exits_nonzero_with_one_line(args, message):
    out = run(*args)
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert len([line for line in out.stderr.splitlines() if line.strip()]) == 1


def test_prompt_longer_than_context(tiny_gpt2_dir):
    out = run("trace", "word " * 400, "--model", str(tiny_gpt2_dir))
    assert out.returncode == 1
    assert "reads at most 128" in out.stderr and "Traceback" not in out.stderr
