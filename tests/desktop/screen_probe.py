"""Open the real window on an offscreen screen of a given size and report, as JSON, what a user
would see: where the window is, which panels are on screen and how large, whether the heatmap
names every row, how many bars show, whether a tab is squeezed — in the normal layout, in
presentation mode (with each main view) and after leaving it.

The screen size of Qt's offscreen platform is fixed when the application starts, so each size
runs in a process of its own:

    python -m tests.desktop.screen_probe 1366x768 [--model builtin] [--prompt TEXT]

(tests/desktop/test_screen_sizes.py runs it; the settings file is a fresh temporary one.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile


def rect(r) -> list[int]:
    return [r.x(), r.y(), r.width(), r.height()]


def squeezed_tabs(window) -> list[str]:
    """Texts of the visible tabs drawn narrower than they ask for (Qt elides them: "M…")."""
    from PySide6.QtWidgets import QTabBar

    found = []
    for bar in window.findChildren(QTabBar):
        if not bar.isVisible() or bar.visibleRegion().isEmpty():
            continue
        for i in range(bar.count()):
            if bar.tabRect(i).width() + 1 < bar.tabSizeHint(i).width():
                found.append(bar.tabText(i))
    return found


def on_screen(window) -> dict[str, list[int]]:
    """Docks the user can see (shown, not behind another tab), with their rectangles in the window."""
    out = {}
    for key, dock in window.docks.items():
        if dock.isVisible() and not dock.visibleRegion().isEmpty():
            top_left = dock.mapTo(window, dock.rect().topLeft())
            out[key] = [top_left.x(), top_left.y(), dock.width(), dock.height()]
    return out


def lines_shown(text_widget) -> float:
    """How many lines of its text a text browser has room for."""
    from PySide6.QtGui import QFontMetricsF

    return text_widget.viewport().height() / QFontMetricsF(text_widget.document().defaultFont()).lineSpacing()


def measure(window) -> dict:
    from PySide6.QtGui import QFontMetricsF

    from viz.theme import make_font

    screen = window.screen()
    heat = window.attention_panel.heatmap
    rows = heat._weights.shape[0]
    left_ticks = heat._ticks_shown[0] if heat._ticks_shown else []
    chips = window.prompt_panel.chips
    chip = chips.chip(0) if chips.count() else None
    slider = window.trajectory_panel.slider._slider
    lesson = window.docks.get("lesson")
    return {
        "screen": rect(screen.geometry()),
        "available": rect(screen.availableGeometry()),
        "frame": rect(window.frameGeometry()),
        "full_screen": bool(window.isFullScreen()),
        "docks": on_screen(window),
        "squeezed_tabs": squeezed_tabs(window),
        "heatmap": {"rows": rows, "labelled": len(left_ticks), "plot_height": heat.plot_item.vb.height(),
                    "line": QFontMetricsF(make_font(heat._font_size)).height()},
        "bars": {"rows": window.distribution_panel.bars.visible_rows(),
                 "height": window.distribution_panel.bars.height()},
        "chips": {"viewport": chips._scroll.viewport().height(), "chip": chip.height() if chip else 0},
        "generation_lines": lines_shown(window.generation_panel.text),
        "lesson_lines": lines_shown(window.lessons.panel.text) if lesson is not None else 0.0,
        "slider": {"width": slider.width(), "visible": not slider.visibleRegion().isEmpty()},
        "trajectory_plot": [window.trajectory_panel.plot.width(), window.trajectory_panel.plot.height()],
        "lens_rows": _lens_rows(window),
        "font": window.font().pointSizeF(),
    }


def _lens_rows(window) -> float:
    table = window.lens_panel.table
    return table.viewport().height() / max(table.verticalHeader().defaultSectionSize(), 1)


def settle(app, ms: int = 300) -> None:
    """Let queued layout work and timers run for a moment (the probe is a script, not a test)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()
    app.processEvents()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("size")
    parser.add_argument("--model", default="builtin")
    parser.add_argument("--prompt", default="The capital of Germany is Berlin. The capital of France is")
    parser.add_argument("--lesson", action="store_true", help="open the first built-in lesson too")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))

    from desktop.shell.offscreen import offscreen_platform

    os.environ["QT_QPA_PLATFORM"] = offscreen_platform(width, height)
    folder = tempfile.mkdtemp(prefix="logitscope-probe-")
    os.environ["LOGITSCOPE_SETTINGS"] = os.path.join(folder, "settings.ini")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([sys.argv[0]])
    from desktop.shell.main_window import MainWindow

    window = MainWindow(model=args.model, device="cpu", prompt=args.prompt, restore=True)  # a first start
    window.sessions.set_autosave(False)
    loop = QEventLoop()
    window.state.projection_changed.connect(loop.quit)
    QTimer.singleShot(300_000, loop.quit)
    window.showMaximized()  # what app.run_app does on a first start (offscreen: no window manager)
    loop.exec()
    if window.state.trace is None:
        print(json.dumps({"error": "no trace"}))
        return 1
    settle(app)
    report = {"normal": measure(window)}
    window.raise_dock("lens")  # the deeper views, one at a time, as a user opens their tabs
    settle(app, 1500)
    report["normal_views"] = {"lens_rows": _lens_rows(window), "squeezed_tabs": squeezed_tabs(window)}
    window.raise_dock("attention")
    settle(app)
    if args.lesson:
        panel = window.lessons.panel
        panel.lessons.setCurrentIndex(1)
        panel.lessons.activated.emit(1)
        settle(app, 1500)
    window.presentation.enter()
    settle(app, 600)
    report["presentation"] = measure(window)
    views = {}
    for key in window.presentation.main_views():
        window.presentation.show_view(key)
        settle(app, 200)
        views[key] = {"docks": sorted(on_screen(window)), "squeezed_tabs": squeezed_tabs(window)}
        if key == "trajectories":
            views[key].update(slider=measure(window)["slider"], plot=measure(window)["trajectory_plot"])
        if key == "lens":
            views[key]["lens_rows"] = _lens_rows(window)
    report["views"] = views
    window.presentation.show_view("attention")
    window.presentation.leave()
    settle(app, 600)
    report["after"] = measure(window)
    print("PROBE " + json.dumps(report))
    window.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
