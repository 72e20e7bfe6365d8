"""Memory amounts as people type them ("2GiB", "500 MB") and per-device budgets ("cpu=2GiB,0=10GiB").

Torch-free, so the command line and the model picker can check what was typed before anything
loads. The budgets are what accelerate's `max_memory` takes: device keys "cpu", "mps" or a GPU
index, values in bytes.
"""

from __future__ import annotations

import re

_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """Bytes in '2GiB', '1.5 GB', '300KB' or '4096'; ValueError with the accepted units otherwise."""
    match = _SIZE.match(str(text))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"{text!r} is not a memory size; write it like 2GiB, 1.5GB, 500MB or 300KiB.")
    return int(float(match.group(1)) * _UNITS[unit])


def parse_max_memory(text: str | None) -> dict[str | int, int] | None:
    """'cpu=2GiB,0=10GiB' -> {'cpu': 2147483648, 0: 10000000000}; None or '' -> None."""
    if not text:
        return None
    budgets: dict[str | int, int] = {}
    for item in str(text).replace(";", ",").split(","):
        if not item.strip():
            continue
        device, sep, size = item.partition("=")
        device = device.strip().lower()
        if not sep or not device:
            raise ValueError(f"{item.strip()!r} is not a memory budget; write it like cpu=2GiB or 0=10GiB.")
        key: str | int
        if device.isdigit():
            key = int(device)
        elif device.startswith("cuda:") and device[5:].isdigit():
            key = int(device[5:])
        elif device in ("cpu", "mps"):
            key = device
        else:
            raise ValueError(f"Unknown device {device!r} in a memory budget; use cpu, mps or a GPU number (0, 1, …).")
        budgets[key] = parse_size(size)
    return budgets or None


def format_max_memory(budgets: dict[str | int, int]) -> str:
    """The inverse of `parse_max_memory`, in whole bytes."""
    return ",".join(f"{key}={value}" for key, value in budgets.items())
