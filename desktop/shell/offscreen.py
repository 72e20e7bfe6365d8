"""An offscreen Qt platform with a desktop-sized screen, for tests, benchmarks and --smoke-test.

Qt's offscreen screen is 800×800, where the window falls back to its short-screen layout
(trajectories and distribution share one tab) and a panel behind a tab does not draw. A
1920×1080 screen gives the layout people see on a laptop or a projector.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def offscreen_platform(width: int = 1920, height: int = 1080) -> str:
    """The QT_QPA_PLATFORM value for an offscreen screen of this size (writes a small config file)."""
    config = {"screens": [{"name": "offscreen", "x": 0, "y": 0, "width": width, "height": height,
                           "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}
    path = Path(tempfile.gettempdir()) / f"logitscope-offscreen-{width}x{height}.json"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(config), encoding="utf-8")
        os.replace(tmp, path)
    return f"offscreen:configfile={path}"


def use_desktop_sized_offscreen() -> None:
    """Make a plain `offscreen` platform (or none, headless) desktop-sized; leave any other alone."""
    if os.environ.get("QT_QPA_PLATFORM", "offscreen") == "offscreen":
        os.environ["QT_QPA_PLATFORM"] = offscreen_platform()
