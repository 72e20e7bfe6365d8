"""The command line: JSON output, .npz dumps, and one clear line (no traceback) on bad input.

Most tests run the subcommands in this process (`run`); the bad-input table runs the real entry
point in a fresh process (`run_entry`): those errors come before torch is imported, so a person
who mistypes an option hears about it at once."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.model_core.cli_runner import run_cli as run
from tests.model_core.cli_runner import run_entry


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
    assert json.loads(a.stdout)["stop_reason"] in ("max_length", "end_of_text", "end_of_turn")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("trace", ""), "empty"),
        (("trace", "   "), "empty"),
        (("trace", "hi", "--model", "/no/such/folder"), "does not exist"),
        (("trace", "hi", "--model", "not a model name!"), "Unknown model"),
        (("generate", "hi", "--max-new-tokens", "0"), "at least 1"),
        (("generate", "hi", "--repetition-penalty", "0"), "repetition penalty must be in (0, 10]"),
        (("generate", "hi", "--frequency-penalty", "3"), "frequency penalty must be in [-2, 2]"),
        (("trace", "hi", "--presence-penalty", "-2.5"), "presence penalty must be in [-2, 2]"),
        (("trace", "hi", "--min-p", "1.5"), "min-p must be in [0, 1]"),
        (("generate", "hi", "--logit-bias", "12"), "must be written ID=BIAS"),
        (("generate", "hi", "--logit-bias", "12=400"), "the bias must be in [-100, 100]"),
        (("generate", "hi", "--stop", ""), "stop sequence cannot be empty"),
        (("generate", "--chat", "  "), "--chat message is empty"),
        (("generate", "hi", "--chat", "hello"), "not both"),
        (("generate", "hi", "--system", "be brief"), "--system needs --chat"),
        (("generate",), "give a prompt"),
    ],
)
def test_bad_input_exits_nonzero_with_one_line(args, message):
    out = run_entry(*args)
    assert out.returncode != 0
    if any(a.startswith("--") and a not in ("--model", "--max-new-tokens") for a in args) or args == ("generate",):
        assert out.returncode == 2  # a bad option or value: a usage error
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert len([line for line in out.stderr.splitlines() if line.strip()]) == 1


NO_TORCH_PROBE = """
import contextlib, io, sys
from model_core.cli import run
for argv in {cases!r}:
    with contextlib.redirect_stderr(io.StringIO()):
        code = run(argv)
    print(code, "torch" in sys.modules, "transformers" in sys.modules)
"""


def test_bad_options_and_missing_models_are_refused_before_torch_is_imported(tmp_path):
    """A mistyped option or folder is said at once, not after the seconds torch and transformers take."""
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')  # a folder without weights
    cases = [["trace", "hi", "--model", "/no/such/folder"], ["generate", "hi", "--model", "not a model!"],
             ["trace", "hi", "--model", str(tmp_path)], ["generate", "hi", "--repetition-penalty", "0"],
             ["generate", "hi", "--logit-bias", "12=400"], ["trace", "hi", "--max-memory", "lots"],
             ["patch", "a", "b", "--model", "/no/such/folder"], ["attribute", "hi", "--model", "/no/such/folder"],
             ["trace", "hi", "--ablate", "three"]]
    out = subprocess.run([sys.executable, "-c", NO_TORCH_PROBE.format(cases=cases)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()]
    assert len(rows) == len(cases)
    assert all(code != "0" and torch == transformers == "False" for code, torch, transformers in rows), rows


def test_prompt_longer_than_context(tiny_gpt2_dir):
    out = run("trace", "word " * 400, "--model", str(tiny_gpt2_dir))
    assert out.returncode == 1
    assert "reads at most 128" in out.stderr and "Traceback" not in out.stderr


# -- output paths: a clear message and nothing half-written (issue 18) ------------------------------


def test_dump_into_a_folder_is_refused_and_writes_nothing(tiny_gpt2_dir, tmp_path):
    out = run("trace", "Hello", "--model", str(tiny_gpt2_dir), "--dump", str(tmp_path))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "is a folder" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["missing/trace.npz", "file.txt/trace.npz"])
def test_dump_where_no_file_can_be_written(tiny_gpt2_dir, tmp_path, where):
    (tmp_path / "file.txt").write_text("not a folder")
    out = run("trace", "Hello", "--model", str(tiny_gpt2_dir), "--dump", str(tmp_path / where))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "Cannot write" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_a_full_disk_leaves_no_half_written_dump(tiny_gpt2_dir, tmp_path, monkeypatch, capsys):
    import errno

    from model_core.cli import run as cli_run

    target = tmp_path / "trace.npz"
    target.write_bytes(b"the previous dump")

    def fills_the_disk(handle, **_arrays):
        handle.write(b"PK\x03\x04 half a zip")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", fills_the_disk)
    code = cli_run(["trace", "Hello", "--model", str(tiny_gpt2_dir), "--dump", str(target)])
    assert code == 1
    assert "the disk is full" in capsys.readouterr().err
    assert target.read_bytes() == b"the previous dump"  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["trace.npz"]  # no temporary file left behind


# -- runaway lengths (issue 18) -------------------------------------------------------------------------


def test_a_length_past_the_context_is_refused_naming_it(tiny_gpt2_dir):
    out = run("generate", "hi", "--model", str(tiny_gpt2_dir), "--max-new-tokens", "100000")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "128" in out.stderr and "at most" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_generation_reports_progress_on_stderr_but_not_with_json(tiny_gpt2_dir, monkeypatch):
    monkeypatch.setenv("LOGITSCOPE_PROGRESS_EVERY_S", "0")
    args = ("generate", "Hello", "--model", str(tiny_gpt2_dir), "--max-new-tokens", "12")
    out = run(*args)
    assert out.returncode == 0, out.stderr
    lines = out.stderr.strip().splitlines()
    assert any(line.startswith("generating: ") and "tokens/s" in line for line in lines)
    assert "tokens/s)" in lines[-1]  # the stop line says how fast it went
    quiet = run(*args, "--json")
    assert quiet.returncode == 0 and "generating:" not in quiet.stderr
def test_generate_chat_goes_through_the_template_and_reports_the_stop(tiny_chat_dir):
    from transformers import AutoTokenizer

    out = run("generate", "--chat", "What is the capital of France?", "--model", str(tiny_chat_dir),
              "--max-new-tokens", "5", "--json", "--repetition-penalty", "1.2", "--min-p", "0.05",
              "--logit-bias", "7=-100", "--stop", "zz")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    tok = AutoTokenizer.from_pretrained(tiny_chat_dir)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    assert result["chat"]["template_text"] == tok.apply_chat_template(messages, tokenize=False,
                                                                      add_generation_prompt=True)
    assert result["chat"]["default_system"] == "You are Tiny, a test assistant."
    assert result["stop_reason"] in ("max_length", "end_of_turn", "end_of_text", "stop_sequence")
    assert 7 not in [t["id"] for t in result["tokens"]]
    assert result["settings"]["repetition_penalty"] == 1.2 and result["settings"]["logit_bias"] == [[7, -100.0]]
    # --system replaces the template's default
    out = run("generate", "--chat", "Hi", "--system", "Be brief.", "--model", str(tiny_chat_dir),
              "--max-new-tokens", "1", "--json")
    assert json.loads(out.stdout)["chat"]["default_system"] == ""
    assert "Be brief." in json.loads(out.stdout)["chat"]["template_text"]


def test_chat_with_a_model_without_a_template_says_so(tiny_gpt2_dir):
    out = run("generate", "--chat", "Hi", "--model", str(tiny_gpt2_dir))
    assert out.returncode == 1
    assert "no chat template" in out.stderr and "Traceback" not in out.stderr


def test_trace_shows_what_the_knobs_do(tiny_gpt2_dir):
    plain = json.loads(run("trace", "Hello world", "--model", str(tiny_gpt2_dir), "--json").stdout)
    favourite = plain["next_token"][0]["id"]
    out = run("trace", "Hello world", "--model", str(tiny_gpt2_dir), "--json", "--logit-bias", f"{favourite}=-100",
              "--repetition-penalty", "1.5")
    assert out.returncode == 0, out.stderr
    rows = {row["id"]: row for row in json.loads(out.stdout)["next_token"]}
    assert rows[favourite]["sampling_prob"] == 0.0 and not rows[favourite]["kept"]
    assert rows[favourite]["why"][0].startswith("banned by logit bias")
    others = [r for i, r in rows.items() if i != favourite]
    assert all(r["sampling_prob"] > r["prob"] for r in others if not r["why"])  # the banned one's share moved to them


@pytest.mark.builtin
def test_builtin_chat_answers_paris_and_stops_at_end_of_turn():
    out = run("generate", "--chat", "What is the capital of France?", "--max-new-tokens", "40", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert "Paris" in result["generated"]
    assert result["stop_reason"] == "end_of_turn" and result["stop_detail"] == "<|im_end|>"
    assert result["chat"]["default_system"].startswith("You are a helpful AI assistant named SmolLM")
