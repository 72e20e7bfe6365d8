"""Models bigger than the machine: offloading, number types, and refusing a load that cannot fit.

- A `max_memory` budget that holds only the embedding puts every block on disk (accelerate reads
  each layer in when it runs): the trace, the lens, the stepper and the probes give the same
  numbers as the model in memory (1e-6: the same float32 arithmetic), and ModelInfo says where
  each part lives.
- bfloat16 and float16 against float32, on these tiny checkpoints: probabilities within 1e-3
  (bfloat16) and 1e-4 (float16), attention within 5e-3 and 1e-3 (measured: 1.4e-4 and 8e-6,
  2.4e-3 and 4.9e-4). The built-in model moves more (ARCHITECTURE.md: 4.4e-3 in bfloat16).
- The weights' size is known from the file headers before anything is allocated: a load that
  cannot fit in the free memory, or in the given budget without an offload folder, is refused
  with a sentence saying what would fit, and transformers is never asked to load it.
"""

from __future__ import annotations

import numpy as np
import pytest

from model_core.engine import memory
from model_core.engine.loading import load_model
from model_core.engine.probes.anatomy import model_anatomy
from model_core.engine.probes.embeddings import nearest_tokens
from model_core.engine.probes.mlp import probe_mlp
from model_core.engine.stepper import Stepper
from model_core.engine.tracing import run_trace
from model_core.errors import ModelLoadError
from model_core.types.memory_sizes import parse_max_memory, parse_size
from tests.model_core.family_checks import TEXT
from tests.model_core.test_stepper import assert_traces_equal

OFFLOADED = ["llama", "gpt2", "mixtral", "falcon", "gemma2"]


def _same(a, b, atol: float = 1e-6) -> None:
    np.testing.assert_allclose(a.next_probs, b.next_probs, atol=atol)
    np.testing.assert_allclose(a.attention.astype(np.float32), b.attention.astype(np.float32), atol=atol)
    np.testing.assert_allclose(a.residual, b.residual, atol=atol * 10, rtol=1e-6)
    np.testing.assert_allclose(a.lens_logprobs, b.lens_logprobs, atol=atol * 10)
    np.testing.assert_array_equal(a.router_ids, b.router_ids)


@pytest.mark.parametrize("spec", OFFLOADED)
def test_offloaded_to_disk_gives_the_same_numbers(spec, family_dir, family_lm, tmp_path):
    in_memory = family_lm(spec)
    lm = load_model(str(family_dir(spec)), device="cpu", max_memory="cpu=300KB", offload_folder=tmp_path / "off")
    devices = [p.device for p in lm.info.placement]
    assert "disk" in devices and lm.info.offloaded
    assert "blocks 0–2" in next(p.parts for p in lm.info.placement if p.device == "disk")
    assert sum(p.nbytes for p in lm.info.placement) == 4 * lm.info.n_params
    expected = run_trace(in_memory, TEXT)
    _same(run_trace(lm, TEXT), expected)
    # generation with the KV cache through the offloaded layers
    ours, theirs = Stepper(lm, max_new_tokens=3), Stepper(in_memory, max_new_tokens=3)
    ours.start(TEXT)
    theirs.start(TEXT)
    for _ in range(2):
        assert_traces_equal(ours.step(), theirs.step())
    # the probes read offloaded (meta) weights through their modules
    ids = expected.tokens.ids.tolist()
    np.testing.assert_allclose(probe_mlp(lm, ids, 5, 1).mlp_updates, probe_mlp(in_memory, ids, 5, 1).mlp_updates,
                               atol=1e-5)
    assert model_anatomy(lm).total == model_anatomy(in_memory).total
    word, near = nearest_tokens(lm, " capital")
    assert near.ids.tolist() == nearest_tokens(in_memory, " capital")[1].ids.tolist()


def test_a_budget_that_fits_keeps_everything_in_memory(family_dir, tmp_path):
    lm = load_model(str(family_dir("llama")), device="cpu", max_memory="cpu=2GiB", offload_folder=tmp_path / "off")
    assert [p.device for p in lm.info.placement] == ["cpu"] and not lm.info.offloaded
    assert lm.info.placement[0].parts == "embedding, blocks 0–2, final norm, unembedding"


@pytest.mark.parametrize(("dtype", "probs_tol", "attention_tol"), [("bfloat16", 1e-3, 5e-3), ("float16", 1e-4, 1e-3)])
@pytest.mark.parametrize("spec", ["llama", "gpt2", "mixtral", "gemma2", "falcon", "bloom"])
def test_half_precision_against_float32(spec, dtype, probs_tol, attention_tol, family_dir, family_lm):
    lm = load_model(str(family_dir(spec)), device="cpu", dtype=dtype)
    assert lm.info.dtype == dtype and str(next(lm.model.parameters()).dtype) == f"torch.{dtype}"
    assert lm.info.placement[0].nbytes == 2 * lm.info.n_params
    half, full = run_trace(lm, TEXT), run_trace(family_lm(spec), TEXT)
    assert half.residual.dtype == np.float32 and half.next_logits.dtype == np.float32  # the trace stays float32
    assert 0 < np.abs(half.next_probs - full.next_probs).max() <= probs_tol  # moved, but not far
    assert np.abs(half.attention.astype(np.float32) - full.attention.astype(np.float32)).max() <= attention_tol
    assert np.abs(np.exp(half.lens_logprobs) - np.exp(full.lens_logprobs)).max() <= probs_tol
    stepper = Stepper(lm, max_new_tokens=2)
    stepper.start(TEXT)
    assert stepper.step().n_tokens == half.n_tokens + 1


def _refuse_loading(monkeypatch) -> None:
    """Fail the test if transformers is asked to load weights: the refusal must come first."""
    import transformers

    def never(*_args, **_kwargs):
        raise AssertionError("from_pretrained was called for a load that cannot fit")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", never)


def test_a_load_that_cannot_fit_is_refused_before_allocating(family_dir, monkeypatch):
    folder = family_dir("llama")
    n = memory.weight_stats(sorted(folder.glob("*.safetensors"))).n_params
    monkeypatch.setattr(memory, "free_memory", lambda _device: int(n * 4 * 0.8))  # float32 won't fit, bf16 will
    _refuse_loading(monkeypatch)
    with pytest.raises(ModelLoadError) as raised:
        load_model(str(folder), device="cpu")
    message = str(raised.value)
    assert f"needs about {memory.human(4 * n)} for its weights in float32" in message
    assert f"load it in bfloat16 ({memory.human(2 * n)})" in message and "--offload-folder" in message


def test_a_budget_without_an_offload_folder_must_hold_the_weights(family_dir, monkeypatch):
    _refuse_loading(monkeypatch)
    with pytest.raises(ModelLoadError, match=r"the memory budget you gave \(cpu=300.0 KB\).*--offload-folder"):
        load_model(str(family_dir("llama")), device="cpu", max_memory={"cpu": 300_000})
    with pytest.raises(ModelLoadError, match="names a GPU but the model is to run on the CPU"):
        load_model(str(family_dir("llama")), device="cpu", max_memory="0=1GiB,cpu=1GiB")


def test_weight_stats_read_the_file_headers(family_lm, family_dir):
    stats = memory.weight_stats(sorted(family_dir("mixtral").glob("*.safetensors")))
    assert stats.n_params == family_lm("mixtral").info.n_params  # untied: every tensor is a parameter


def test_memory_sizes_parse_as_people_write_them():
    assert parse_size("2GiB") == 2 * 2**30 and parse_size("1.5 GB") == 1_500_000_000 and parse_size("4096") == 4096
    assert parse_max_memory("cpu=2GiB, 0=10GB") == {"cpu": 2 * 2**30, 0: 10**10}
    assert parse_max_memory("cuda:1=1MB") == {1: 10**6} and parse_max_memory("") is None
    for bad in ("two GB", "2 parsecs"):
        with pytest.raises(ValueError, match="is not a memory size"):
            parse_size(bad)
    with pytest.raises(ValueError, match="Unknown device 'tpu'"):
        parse_max_memory("tpu=1GB")
    with pytest.raises(ValueError, match="is not a memory budget"):
        parse_max_memory("2GB")
