"""Framed messages on a stream socket: a count, the length of each part, then the parts.

A message is a `codec.Packed` (the pickle stream and its out-of-band buffers). Each part is read
straight into a `bytearray` of its own with `recv_into`, so a big array is copied once and comes
out writable, and the interpreter lock is free while the socket is read.
"""

from __future__ import annotations

import socket
import struct
import threading

from desktop.core.model_process.codec import Packed

_COUNT = struct.Struct("!I")
_LENGTH = struct.Struct("!Q")


class ChannelClosed(Exception):  # noqa: N818  (the other side went away, not an error here)
    """The other end closed the socket (or its process ended)."""


class Channel:
    """One end of the socket. `send` may be called from several threads; `receive` from one."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._send_lock = threading.Lock()

    def send(self, packed: Packed) -> None:
        parts = [packed.header, *packed.buffers]
        head = _COUNT.pack(len(parts)) + b"".join(_LENGTH.pack(memoryview(p).nbytes) for p in parts)
        with self._send_lock:
            try:
                self.sock.sendall(head)
                for part in parts:
                    self.sock.sendall(part)
            except OSError as exc:
                raise ChannelClosed(str(exc)) from exc

    def receive(self) -> tuple[bytes, list[bytearray]]:
        """The next message's pickle stream and buffers; raises `ChannelClosed` at the end."""
        (count,) = _COUNT.unpack(self._read(_COUNT.size))
        lengths = [_LENGTH.unpack(self._read(_LENGTH.size))[0] for _ in range(count)]
        parts = [self._read(n) for n in lengths]
        return bytes(parts[0]), parts[1:]

    def _read(self, n: int) -> bytearray:
        buffer = bytearray(n)
        view = memoryview(buffer)
        got = 0
        while got < n:
            try:
                k = self.sock.recv_into(view[got:])
            except OSError as exc:
                raise ChannelClosed(str(exc)) from exc
            if k == 0:
                raise ChannelClosed("the other end closed the connection")
            got += k
        return buffer

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
