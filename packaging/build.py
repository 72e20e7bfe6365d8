"""Build the one-folder desktop app and run its own smoke test: `make package`.

Steps: install PyInstaller (pinned) into the running venv, make sure the built-in
model is converted (so it can be bundled), run PyInstaller, then start the
frozen binary offline with an empty cache and `--smoke-test`. Prints the bundle
size and the smoke test's wall time. Exit code 0 only if the smoke test passed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist" / "logitscope"
PYINSTALLER = "pyinstaller==6.22.3"


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def build() -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", PYINSTALLER], check=True)
    sys.path.insert(0, str(ROOT))
    from model_core.engine.builtin_model import ensure_builtin

    env = dict(os.environ, LOGITSCOPE_BUILTIN_SRC=str(ensure_builtin()))
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
                    "--distpath", str(ROOT / "dist"), "--workpath", str(ROOT / "build"),
                    str(ROOT / "packaging" / "logitscope.spec")], check=True, env=env, cwd=ROOT)


def smoke_test() -> int:
    binary = DIST / ("logitscope.exe" if os.name == "nt" else "logitscope")
    with tempfile.TemporaryDirectory() as empty_cache:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1", LOGITSCOPE_CACHE_DIR=empty_cache,
                   LOGITSCOPE_SETTINGS=str(Path(empty_cache) / "settings.ini"),
                   LOGITSCOPE_INDEX_URL="http://127.0.0.1:9/simple")  # any download attempt fails
        start = time.perf_counter()
        result = subprocess.run([str(binary), "--smoke-test"], env=env, capture_output=True, text=True, timeout=600)
        seconds = time.perf_counter() - start
    print(result.stdout.strip() or result.stderr.strip()[-2000:])
    print(f"bundle: {folder_size(DIST) / 1e9:.2f} GB in {DIST}; smoke test {seconds:.1f} s, exit {result.returncode}")
    return result.returncode


if __name__ == "__main__":
    if "--smoke-only" not in sys.argv:
        build()
    sys.exit(smoke_test())
