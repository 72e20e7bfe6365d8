"""What a packaged app ships of the built-in model: the GGUF's quantised blocks, expanded on first start.

Tolerance: none. The expansion must equal transformers' own GGUF conversion bit for bit (both
dequantise the same blocks with the gguf package), so the app shows the model as shipped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from model_core.engine import builtin_model
from model_core.engine.loading import load_model
from model_core.engine.tracing import run_trace
from model_core.errors import ModelLoadError

pytestmark = pytest.mark.builtin
CAPITAL = "The capital of Germany is Berlin. The capital of France is"


@pytest.fixture(scope="module")
def bundle() -> Path:
    """The folder `make package` bundles (made once per cache from the verified GGUF)."""
    return builtin_model.bundle_source()


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch) -> Path:
    """The real converted folder, then an empty cache for the test."""
    reference = builtin_model.ensure_builtin()
    monkeypatch.setenv("LOGITSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    return reference


@pytest.fixture
def damaged_bundle(bundle, tmp_path) -> Path:
    """A copy of the bundle with one byte of its blocks flipped: its checksum no longer matches."""
    damaged = tmp_path / "damaged"
    shutil.copytree(bundle, damaged)
    blocks = damaged / builtin_model.BLOCKS_FILE
    data = bytearray(blocks.read_bytes())
    data[-100] ^= 0xFF
    blocks.write_bytes(bytes(data))
    return damaged


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file())


def test_the_bundle_carries_blocks_not_a_float32_copy(bundle):
    assert not (bundle / builtin_model.WEIGHTS_FILE).exists()
    assert folder_bytes(bundle) < 110e6  # the float32 copy alone is 538 MB
    assert {"config.json", "tokenizer.json", "LICENSE", builtin_model.BLOCKS_FILE} <= {p.name for p in bundle.iterdir()}
    gguf_digest, blocks_digest = (bundle / builtin_model.COMPLETE_MARKER).read_text().split()
    assert gguf_digest == builtin_model.GGUF_SHA256
    assert blocks_digest == builtin_model._sha256(bundle / builtin_model.BLOCKS_FILE)


def test_first_start_expands_to_exactly_the_converted_weights(bundle, fresh_cache, monkeypatch):
    monkeypatch.setenv("LOGITSCOPE_BUILTIN_DIR", str(bundle))
    assert builtin_model.is_cached()  # nothing to download
    folder = builtin_model.ensure_builtin()
    assert folder == builtin_model.converted_dir() and folder != fresh_cache
    with safe_open(str(folder / builtin_model.WEIGHTS_FILE), framework="numpy") as ours, \
            safe_open(str(fresh_cache / builtin_model.WEIGHTS_FILE), framework="numpy") as reference:
        assert set(ours.keys()) == set(reference.keys())
        for name in reference.keys():  # noqa: SIM118
            a, b = ours.get_tensor(name), reference.get_tensor(name)
            assert a.dtype == b.dtype == np.float32 and np.array_equal(a, b), name
    assert builtin_model.ensure_builtin() == folder  # the second start finds the cache
    trace = run_trace(load_model("builtin", device="cpu"), CAPITAL)
    assert 0.96 < float(trace.next_probs.max()) < 0.99


def test_first_start_takes_the_vocabulary_labels_the_bundle_ships(bundle, fresh_cache, monkeypatch):
    """The expansion brings the labels along: the first load from an empty cache does not decode the
    vocabulary (0.25 s on the way to the first trace), and gets what decoding would give."""
    from model_core.engine import vocab_labels as labels_module

    assert (bundle / labels_module.SHIPPED_FILE).is_file()
    reference = load_model(str(fresh_cache), device="cpu")
    expected = labels_module.build_vocab_labels(reference.tokenizer, reference.info.vocab_size)
    monkeypatch.setenv("LOGITSCOPE_BUILTIN_DIR", str(bundle))
    lm = load_model("builtin", device="cpu")  # expands into the empty cache
    original = labels_module.build_vocab_labels
    monkeypatch.setattr(labels_module, "build_vocab_labels", lambda *_: pytest.fail("decoded the vocabulary"))
    assert labels_module.vocab_labels(lm.tokenizer, lm.info.vocab_size) == expected
    assert not (builtin_model.cache_root() / "vocab-labels").exists()  # nothing built, nothing cached
    # Labels shipped for other tokenizer files are not taken: they are decoded again.
    (builtin_model.converted_dir() / "tokenizer_config.json").write_text("{}", encoding="utf-8")
    calls = []
    monkeypatch.setattr(labels_module, "build_vocab_labels", lambda *a: calls.append(1) or original(*a))
    labels_module.vocab_labels(lm.tokenizer, lm.info.vocab_size)
    assert calls == [1]


def test_a_damaged_bundle_is_refused_and_nothing_is_cached(damaged_bundle, fresh_cache, monkeypatch):
    monkeypatch.setenv("LOGITSCOPE_BUILTIN_DIR", str(damaged_bundle))
    with pytest.raises(ModelLoadError, match="damaged"):
        builtin_model.ensure_builtin()
    target = builtin_model.converted_dir()
    assert not target.exists() and list(target.parent.glob(target.name + ".*")) == []


def test_the_expansion_starts_ahead_and_the_load_waits_for_it(bundle, fresh_cache, monkeypatch):
    """The model process starts expanding, in a process of its own, as the window's load request
    arrives, while torch is still being imported; the load then waits for that expansion instead
    of doing its own."""
    from model_core.engine import gguf_blocks
    from model_core.progress import Progress

    monkeypatch.setenv("LOGITSCOPE_BUILTIN_DIR", str(bundle))
    monkeypatch.setattr(builtin_model, "_ahead", None)

    def not_here(*_args, **_kwargs):
        raise AssertionError("the load expanded the blocks itself instead of waiting")

    monkeypatch.setattr(gguf_blocks, "expand", not_here)  # in this process only
    assert builtin_model.needs_expanding()
    builtin_model.prepare_ahead()
    ahead = builtin_model._ahead
    assert ahead is not None and ahead.poll() is None  # running, in another process
    said = []
    folder = builtin_model.ensure_builtin(Progress(callback=lambda message, _f: said.append(message)))
    assert ahead.returncode == 0
    assert (folder / builtin_model.COMPLETE_MARKER).exists() and not builtin_model.needs_expanding()
    assert said and said[0].startswith("Preparing the built-in model")
    monkeypatch.setattr(builtin_model, "_ahead", None)
    builtin_model.prepare_ahead()  # expanded already: not started again
    assert builtin_model._ahead is None


def test_a_failed_expansion_ahead_leaves_the_load_to_say_why(damaged_bundle, fresh_cache, monkeypatch):
    monkeypatch.setenv("LOGITSCOPE_BUILTIN_DIR", str(damaged_bundle))
    monkeypatch.setattr(builtin_model, "_ahead", None)
    builtin_model.prepare_ahead()
    assert builtin_model._ahead.wait(120) == 1  # it failed quietly...
    with pytest.raises(ModelLoadError, match="damaged"):  # ...and the load checks again and says it in words
        builtin_model.ensure_builtin()


def test_the_packaged_apps_executable_runs_the_expansion(bundle, fresh_cache, monkeypatch):
    """`logitscope --expand-builtin` is what a frozen app runs as its expansion process (`expand_command`)."""
    import os
    import subprocess
    import sys

    monkeypatch.setenv("LOGITSCOPE_BUILTIN_DIR", str(bundle))
    done = subprocess.run([sys.executable, "-m", "desktop.entry", builtin_model.EXPAND_FLAG], env=dict(os.environ),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not builtin_model.needs_expanding()
