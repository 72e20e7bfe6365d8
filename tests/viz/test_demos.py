"""viz.demo: every demo builds, shows and draws; the command line behaves; no viz widget lacks a demo."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

import viz
from viz.demo import DEMOS, build, summary

REPO = Path(__file__).resolve().parents[2]
# Public QWidget subclasses of viz/ that need no demo of their own, each with its reason.
# (FlowLayout is a QLayout, not a widget; TokenChip is drawn by, and found inside, the chips demo.)
NO_DEMO_NEEDED: dict[str, str] = {}


def viz_widget_classes() -> dict[str, type[QWidget]]:
    """'module.Class' -> class for every public QWidget subclass defined in a viz/ module (not viz.demo)."""
    found: dict[str, type[QWidget]] = {}
    for info in pkgutil.iter_modules(viz.__path__):
        if info.ispkg:  # viz.demo: the demos' own helpers are not widgets of the app
            continue
        module = importlib.import_module(f"viz.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and not name.startswith("_") and issubclass(cls, QWidget):
                found[f"{module.__name__}.{name}"] = cls
    return found


def pixels(widget: QWidget) -> np.ndarray:
    """[H, W] the widget grabbed as 0xAARRGGBB values."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_ARGB32)
    rows = np.frombuffer(image.constBits(), dtype=np.uint32, count=image.sizeInBytes() // 4)
    # A copy: the buffer belongs to ``image``, which goes when this function returns.
    return rows.reshape(image.height(), image.bytesPerLine() // 4)[:, : image.width()].copy()


def run_demo(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "viz.demo", *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=REPO)


@pytest.mark.parametrize("name", list(DEMOS))
def test_demo_builds_shows_and_draws(name: str, show, qtbot) -> None:
    widget = build(name)
    assert isinstance(widget, QWidget)
    assert summary(name), f"demo {name!r} needs a docstring: its first line is the listing's summary"
    show(widget, (widget.width(), widget.height()))  # at the size the demo chose
    qtbot.wait(20)  # deferred layouts and pyqtgraph's lazy range updates
    assert widget.width() >= 300 and widget.height() >= 100, widget.size()

    image = pixels(widget)
    colours, counts = np.unique(image, return_counts=True)
    assert len(colours) > 1, f"demo {name!r} grabbed as a single colour"
    assert counts.max() < 0.99 * image.size, f"demo {name!r} is blank but for a few pixels"


def test_every_viz_widget_has_a_demo(qtbot) -> None:
    classes = viz_widget_classes()
    assert "viz.attention_heatmap.AttentionHeatmap" in classes  # the search itself works
    assert set(NO_DEMO_NEEDED) <= set(classes), "stale entries in NO_DEMO_NEEDED"
    drawn: set[type] = set()
    for name in DEMOS:
        root = build(name)
        qtbot.addWidget(root)
        for widget in (root, *root.findChildren(QWidget)):
            drawn.update(type(widget).__mro__)
    missing = sorted(key for key, cls in classes.items() if cls not in drawn and key not in NO_DEMO_NEEDED)
    assert not missing, f"viz widgets no demo builds (add one to viz/demo): {missing}"


def test_unknown_demo_exits_2_with_one_line() -> None:
    result = run_demo("nosuch")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "nosuch" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_no_argument_lists_every_demo() -> None:
    result = run_demo()
    assert result.returncode == 0, result.stderr
    listed = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert listed == list(DEMOS)


def test_screenshot_writes_the_demo_as_png(tmp_path: Path) -> None:
    target = tmp_path / "attention.png"
    result = run_demo("attention", "--screenshot", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no Qt warnings either
    image = QImage(str(target))
    assert not image.isNull()
    assert image.width() >= 300 and image.height() >= 300
