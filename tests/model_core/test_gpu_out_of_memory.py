"""A model that loads but does not fit on the GPU: the message names the GPU and says what to do.

load_model reads the weights on the CPU and only then moves them to the device; an
out-of-memory error in that move must become a sentence (which GPU, how big the
model is, choose the CPU), not a CUDA stack trace. Our machines have no GPU, so
CUDA's availability and the move itself are simulated (fault_helpers.pretend_a_full_gpu).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model_core.engine.loading import load_model
from model_core.errors import ModelLoadError
from tests.model_core.fault_helpers import GPU, pretend_a_full_gpu


@pytest.mark.parametrize("device", ["auto", "cuda", "cuda:0"])
def test_out_of_gpu_memory_names_the_gpu_and_the_way_out(tiny_llama_dir: Path, monkeypatch, device: str) -> None:
    """'auto' picks the GPU when there is one, so it must explain as clearly as an explicit 'cuda'."""
    attempts = pretend_a_full_gpu(monkeypatch)
    with pytest.raises(ModelLoadError) as raised:
        load_model(str(tiny_llama_dir), device=device)
    message = str(raised.value)
    assert attempts and attempts[0].type == "cuda"  # it really tried the GPU, after reading the weights
    assert tiny_llama_dir.name in message
    assert f"GPU (CUDA: {GPU})" in message
    assert "Choose the CPU" in message and "--device cpu" in message
    assert "MB" in message  # how big the weights are, so the user can judge what would fit
    assert isinstance(raised.value.__cause__, torch.OutOfMemoryError)  # kept for the log


def test_explains_even_when_the_driver_cannot_name_the_gpu(tiny_llama_dir: Path, monkeypatch) -> None:
    """Right after an out-of-memory error the driver may fail too; the explanation must still come."""
    pretend_a_full_gpu(monkeypatch, name=RuntimeError("CUDA error: an illegal memory access"))
    with pytest.raises(ModelLoadError, match=r"does not fit in the memory of the GPU \(cuda\).*--device cpu"):
        load_model(str(tiny_llama_dir), device="cuda")


def test_the_cpu_still_loads_after_the_gpu_refused(tiny_llama_dir: Path, monkeypatch) -> None:
    """What the message advises works: the same model loads on the CPU in the same process."""
    pretend_a_full_gpu(monkeypatch)
    with pytest.raises(ModelLoadError):
        load_model(str(tiny_llama_dir), device="cuda")
    lm = load_model(str(tiny_llama_dir), device="cpu")
    assert lm.device.type == "cpu" and lm.info.device.startswith("CPU")
