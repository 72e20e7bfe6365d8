"""Build the one-folder desktop app, its .deb, and run the app's own smoke test: `make package`.

Steps: install PyInstaller (pinned) into the running venv, make sure the built-in model is
available to bundle, run PyInstaller, render the icon sizes with Qt and pack the one-folder build
into a Debian package with dpkg-deb (where dpkg-deb exists), then start the frozen binary offline
with an empty cache and `--smoke-test`. Prints the bundle size and the smoke test's wall time and
time to the first trace. Exit code 0 only if the smoke test passed.

    python packaging/build.py                 # everything
    python packaging/build.py --smoke-only    # only the smoke test of dist/logitscope
    python packaging/build.py --deb-only      # only the .deb of dist/logitscope
    python packaging/build.py --install-check # also dpkg -i the .deb, smoke-test /usr/bin/logitscope, dpkg -r
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist" / "logitscope"
PYINSTALLER = "pyinstaller==6.22.3"
MARKS_PREFIX = "startup timings: "  # desktop/shell/smoke_test.py prints it
sys.path.insert(0, str(ROOT))


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def build() -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", PYINSTALLER], check=True)
    from model_core.engine.builtin_model import bundle_source

    env = dict(os.environ, LOGITSCOPE_BUILTIN_SRC=str(bundle_source()))
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
                    "--distpath", str(ROOT / "dist"), "--workpath", str(ROOT / "build"),
                    str(ROOT / "packaging" / "logitscope.spec")], check=True, env=env, cwd=ROOT)


# torch's libraries carry their symbol tables (89 MB in libtorch_cpu alone). They are stripped one by one:
# PyInstaller's strip=True also strips the libraries auditwheel patched, and numpy's OpenBLAS then
# fails to load ("ELF load command address/offset not page-aligned").
STRIPPED = ("torch/lib/libtorch_cpu.so", "torch/lib/libtorch_python.so")


def strip_torch(dist: Path = DIST) -> int:
    """Strip the symbol tables of torch's big libraries in the one-folder build; returns bytes saved."""
    if shutil.which("strip") is None or os.name == "nt":
        return 0
    saved = 0
    for name in STRIPPED:
        path = dist / "_internal" / name
        if path.is_file() and not path.is_symlink():
            before = path.stat().st_size
            subprocess.run(["strip", "--strip-unneeded", str(path)], check=True)
            saved += before - path.stat().st_size
    print(f"strip: {saved / 1e6:.0f} MB of symbol tables removed from torch's libraries")
    return saved


def build_deb() -> Path | None:
    """Pack dist/logitscope into dist/logitscope_<version>_<arch>.deb (None where dpkg-deb is missing)."""
    if shutil.which("dpkg-deb") is None:
        print("deb: skipped (dpkg-deb is not installed; the one-folder build is in dist/logitscope)")
        return None
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    sys.path.insert(0, str(ROOT / "packaging"))
    import deb

    from desktop.shell.app_icon import icon_svg, write_pngs

    _app = QGuiApplication.instance() or QGuiApplication([])  # QPainter on QImage needs one
    staging = ROOT / "build" / "deb-root"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    deb.stage(DIST, staging, write_pngs, icon_svg())
    package = deb.build(staging, ROOT / "dist")
    shutil.rmtree(staging, ignore_errors=True)
    print(f"deb: {package} ({package.stat().st_size / 1e6:.0f} MB); install with: sudo apt install {package}")
    return package


def smoke_test(binary: Path = DIST / ("logitscope.exe" if os.name == "nt" else "logitscope")) -> int:
    """Start `binary` offline with an empty cache and check every panel after one real trace."""
    with tempfile.TemporaryDirectory() as empty_cache:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1", LOGITSCOPE_CACHE_DIR=empty_cache,
                   LOGITSCOPE_SETTINGS=str(Path(empty_cache) / "settings.ini"),
                   LOGITSCOPE_DATA_DIR=str(Path(empty_cache) / "data"),
                   LOGITSCOPE_INDEX_URL="http://127.0.0.1:9/simple",  # any download attempt fails
                   LOGITSCOPE_T0=repr(time.time()))
        start = time.perf_counter()
        result = subprocess.run([str(binary), "--smoke-test"], env=env, capture_output=True, text=True, timeout=600)
        seconds = time.perf_counter() - start
    print(result.stdout.strip() or result.stderr.strip()[-2000:])
    marks = startup_marks(result.stdout)
    first = f", window {marks['window']:.1f} s, first trace {marks['trace']:.1f} s" if {"window", "trace"} <= marks.keys() \
        else ""
    size = f"bundle: {folder_size(DIST) / 1e9:.2f} GB in {DIST}; " if binary.is_relative_to(DIST) else ""
    print(f"{size}smoke test of {binary} from a fresh cache: {seconds:.1f} s{first}, exit {result.returncode}")
    return result.returncode


def startup_marks(stdout: str) -> dict[str, float]:
    """The start-up timings line the smoke test prints when LOGITSCOPE_T0 is set."""
    for line in stdout.splitlines():
        if line.startswith(MARKS_PREFIX):
            return {k: float(v) for k, v in json.loads(line[len(MARKS_PREFIX):]).items()}
    return {}


def install_check(package: Path) -> int:
    """dpkg -i the package, smoke-test the command its desktop entry runs, then remove it again."""
    if os.geteuid() != 0:
        print("install check: skipped (needs root for dpkg -i)")
        return 0
    subprocess.run(["dpkg", "-i", str(package)], check=True)
    try:
        entry = Path("/usr/share/applications/logitscope.desktop").read_text(encoding="utf-8")
        command = next(line.split("=", 1)[1].split()[0] for line in entry.splitlines() if line.startswith("Exec="))
        print(f"install check: desktop entry runs {command}")
        return smoke_test(Path(command))
    finally:
        subprocess.run(["dpkg", "-r", "logitscope"], check=True)


def main(argv: list[str]) -> int:
    if "--smoke-only" in argv:
        return smoke_test()
    if "--deb-only" not in argv:
        build()
        strip_torch()
    package = build_deb()
    code = smoke_test()
    if code == 0 and package is not None and "--install-check" in argv:
        code = install_check(package)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
