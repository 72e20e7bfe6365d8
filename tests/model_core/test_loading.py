"""Loading: every bad folder gives a clear message naming the problem; nothing is executed."""

from __future__ import annotations

import json
import shutil

import pytest

from model_core.engine.loading import load_model
from model_core.errors import ModelLoadError, UnsupportedModelError


def copy_of(src, tmp_path, name="model"):
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def test_missing_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(str(tmp_path / "nowhere"))


def test_folder_without_config(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(str(tmp_path / "empty"))


def test_unsupported_architecture(tiny_gpt2_dir, tmp_path):
    folder = copy_of(tiny_gpt2_dir, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "bert"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedModelError, match="'bert'.*supported: .*gpt2"):
        load_model(str(folder))


def test_remote_code_is_refused_and_never_run(tiny_gpt2_dir, tmp_path):
    folder = copy_of(tiny_gpt2_dir, tmp_path)
    marker = tmp_path / "executed"
    (folder / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedModelError, match="own Python code"):
        load_model(str(folder))
    assert not marker.exists()


def test_pickle_only_checkpoint_is_refused(tiny_gpt2_dir, tmp_path):
    folder = copy_of(tiny_gpt2_dir, tmp_path)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(UnsupportedModelError, match="pickle"):
        load_model(str(folder))


def test_truncated_safetensors_gives_a_message(tiny_gpt2_dir, tmp_path):
    folder = copy_of(tiny_gpt2_dir, tmp_path)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match="model/model.safetensors is cut short"):
        load_model(str(folder))


def test_unknown_hub_name_offline_says_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="not in the Hugging Face cache.*Open model folder"):
        load_model("gpt2-not-cached-anywhere")


def test_info_describes_the_model(tiny_llama):
    info = tiny_llama.info
    assert (info.n_layers, info.n_heads, info.n_kv_heads, info.d_model, info.d_head) == (3, 6, 2, 48, 8)
    assert info.n_params == sum(p.numel() for p in tiny_llama.model.parameters())
    assert info.context_length == 128
    assert info.architecture == "Llama" and info.model_type == "llama" and info.tested
    assert not info.is_moe and info.n_active_params == info.n_params
    assert info.placement_text().startswith("cpu: embedding, blocks 0–2, final norm, unembedding (")
