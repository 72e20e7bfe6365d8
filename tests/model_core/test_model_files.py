"""What a model source may be, and the sentence a user gets when it cannot be opened.

GGUF files (a path to the .gguf, or a folder holding one) and sharded safetensors open and give
the same trace as the plain folder (GGUF written in float32 with llama.cpp's names and q/k
permutation: tests/gguf_files.py). Weights that do not fit the config, unknown or non-causal
model types, and models whose attention Logitscope cannot see are refused in one sentence that
names the model type and what is supported. A model type outside the tested families opens
through discovery and is checked against eager attention on load; the check is shown to catch
a capture that skips a softcap and a family whose modules bypass the attention interface.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModelForCausalLM

from model_core.engine import capture, memory
from model_core.engine.adapters import resolve
from model_core.engine.loading import load_model
from model_core.engine.tracing import run_trace, trace_ids
from model_core.errors import ModelLoadError, UnsupportedModelError
from tests.gguf_files import write_gguf
from tests.model_core.family_checks import TEXT, TOLERANCE, compare
from tests.model_families import save_tiny
from tests.tiny_models import byte_level_tokenizer


def _same_trace(a, b) -> None:
    np.testing.assert_allclose(a.next_probs, b.next_probs, atol=1e-6)
    np.testing.assert_allclose(a.residual, b.residual, atol=1e-5)
    np.testing.assert_allclose(a.attention.astype(np.float32), b.attention.astype(np.float32), atol=1e-3)


@pytest.mark.parametrize("spec", ["llama", "qwen2"])
def test_gguf_files_open_like_their_folder(spec, tmp_path):
    folder = save_tiny(spec, tmp_path / spec, **({"use_sliding_window": False} if spec == "qwen2" else {}))
    (tmp_path / "ggufs").mkdir()
    gguf = write_gguf(folder, tmp_path / "ggufs" / f"tiny-{spec}.gguf")
    plain = load_model(str(folder), device="cpu")
    for source in (gguf, gguf.parent):  # the file itself, or the folder that holds just it
        lm = load_model(str(source), device="cpu")
        assert lm.info.model_type == spec and lm.info.architecture == plain.info.architecture
        trace = run_trace(lm, TEXT)
        assert trace.tokens.ids.tolist() == run_trace(plain, TEXT).tokens.ids.tolist()  # the tokenizer inside
        _same_trace(trace, trace_ids(plain, trace.tokens.ids.tolist()))
    assert memory.weight_stats([gguf]).n_params == plain.info.n_params


def test_a_folder_with_several_ggufs_asks_which(tmp_path):
    folder = save_tiny("llama", tmp_path / "llama")
    (tmp_path / "two").mkdir()
    for name in ("a.gguf", "b.gguf"):
        write_gguf(folder, tmp_path / "two" / name)
    with pytest.raises(ModelLoadError, match="holds 2 GGUF files .*choose one"):
        load_model(str(tmp_path / "two"))
    (tmp_path / "broken.gguf").write_bytes(b"GGUF" + b"\0" * 20)
    with pytest.raises(ModelLoadError, match="broken.gguf cannot be read as a GGUF model"):
        load_model(str(tmp_path / "broken.gguf"))


def test_sharded_safetensors_open(family_dir, family_lm, tmp_path):
    model = AutoModelForCausalLM.from_pretrained(family_dir("mixtral"))
    folder = tmp_path / "sharded"
    model.save_pretrained(folder, max_shard_size="300KB")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(family_dir("mixtral") / name, folder / name)
    shards = sorted(folder.glob("*.safetensors"))
    assert len(shards) > 2 and (folder / "model.safetensors.index.json").exists()
    lm = load_model(str(folder), device="cpu")
    _same_trace(run_trace(lm, TEXT), run_trace(family_lm("mixtral"), TEXT))
    assert memory.weight_stats(shards).n_params == lm.info.n_params
    shards[1].unlink()
    with pytest.raises(ModelLoadError, match=rf"sharded is missing 1 of its {len(shards)} weight shards \("
                                             rf"{shards[1].name}\); download them again"):
        load_model(str(folder))


def test_weights_that_do_not_match_the_config_say_so(family_dir, tmp_path):
    wider = tmp_path / "wider"
    shutil.copytree(family_dir("llama"), wider)
    config = json.loads((wider / "config.json").read_text())
    config["intermediate_size"] = 96
    (wider / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=r"weights of wider do not match its config.json: 9 tensors have other "
                                             r"shapes than the config says, e.g. model.layers.0.mlp.down_proj.weight "
                                             r"\(file \(64, 128\), config \(64, 96\)\)"):
        load_model(str(wider))
    missing = tmp_path / "missing"
    shutil.copytree(family_dir("llama"), missing)
    state = load_file(str(missing / "model.safetensors"))
    del state["model.layers.2.mlp.up_proj.weight"]
    save_file(state, str(missing / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match=r"weights of missing do not match its config.json: 1 tensors the "
                                             r"config calls for are not in the weight files \(model.layers.2.mlp.up_proj"):
        load_model(str(missing))


def _tiny_of_type(folder, model_type: str, **extra):
    tokenizer = byte_level_tokenizer(bos=True)
    config = AutoConfig.for_model(model_type, vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                  max_position_embeddings=128, bos_token_id=1, eos_token_id=0, pad_token_id=0, **extra)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize(("model_type", "reason"), [
    ("bert", "its attention reads the whole text both ways, so it is not a causal language model"),
    ("mamba", "has no list of 2 attention blocks"),
    ("mpt", "its attention does not go through transformers' attention interface"),
])
def test_unsupported_models_get_one_sentence(model_type, reason, tmp_path):
    folder = _tiny_of_type(tmp_path / model_type, model_type)
    with pytest.raises(UnsupportedModelError) as raised:
        load_model(str(folder))
    message = str(raised.value)
    assert message.startswith(f"Logitscope cannot open '{model_type}' models: ") and reason in message
    assert "supported: GPT-2 (gpt2), " in message and "Mixtral (mixtral)" in message
    assert "\n" not in message


def test_unknown_and_non_causal_model_types(family_dir, tmp_path):
    for model_type, reason in (("not-a-model", "transformers 5.23.0 does not know this model type"),
                               ("t5", "transformers cannot build it as a causal language model")):
        folder = tmp_path / model_type
        shutil.copytree(family_dir("llama"), folder)
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "model_type": model_type}))
        with pytest.raises(UnsupportedModelError, match=f"cannot open '{model_type}' models: {reason}; supported: "):
            load_model(str(folder))


@pytest.mark.parametrize("model_type", ["arcee", "smollm3"])
def test_an_untested_decoder_opens_through_discovery(model_type, tmp_path):
    folder = _tiny_of_type(tmp_path / model_type, model_type)
    lm = load_model(str(folder), device="cpu")
    assert not lm.info.tested and lm.info.architecture == model_type
    assert any("not one of the tested families" in note for note in lm.info.notes)
    diffs = compare(lm, folder, model_type)
    for key in ("probs", "attention", "residual", "lens", "attn_out"):
        assert diffs[key] <= TOLERANCE, (key, diffs)


def _as_untested(monkeypatch, model_type: str) -> None:
    real = resolve.family_for
    monkeypatch.setattr(resolve, "family_for", lambda t: None if t == model_type else real(t))


def test_the_load_check_catches_a_capture_that_skips_the_softcap(family_dir, monkeypatch):
    _as_untested(monkeypatch, "gemma2")
    assert not load_model(str(family_dir("gemma2")), device="cpu").info.tested  # our capture passes it
    real = capture.attention_weights
    monkeypatch.setattr(capture, "attention_weights",
                        lambda q, k, mask, scaling, softcap=None, sinks=None: real(q, k, mask, scaling, None, sinks))
    with pytest.raises(UnsupportedModelError, match="'gemma2' models: its attention does maths Logitscope does "
                                                    "not reproduce"):
        load_model(str(family_dir("gemma2")), device="cpu")


@pytest.mark.parametrize("spec", ["bloom", "gptj"])
def test_the_load_check_catches_attention_outside_the_interface(spec, family_dir, monkeypatch):
    _as_untested(monkeypatch, spec)
    with pytest.raises(UnsupportedModelError, match=f"'{spec}' models: its attention does not go through "
                                                    "transformers' attention interface"):
        load_model(str(family_dir(spec)), device="cpu")
