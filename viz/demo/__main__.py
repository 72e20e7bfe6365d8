"""``python -m viz.demo [DEMO ...] [--all] [--screenshot PATH]``: open viz widgets on fake data.

With no demo name it lists them. One name opens that widget in a window, several (or
``--all``) open them as tabs. ``--screenshot PATH`` renders offscreen and exits instead:
one demo is written to PATH, several to PATH/<name>.png.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m viz.demo", description="Open viz widgets on made-up data.")
    parser.add_argument("names", nargs="*", metavar="DEMO", help="demos to open (none: list them)")
    parser.add_argument("--all", action="store_true", help="open every demo, one tab each")
    parser.add_argument("--screenshot", metavar="PATH", type=Path,
                        help="render offscreen to PATH (a folder of NAME.png for several demos) and exit")
    return parser


def _settle(app, rounds: int = 5) -> None:
    """Let layouts, deferred resizes and pyqtgraph's lazy updates run before grabbing."""
    from PySide6.QtCore import QEventLoop, QThread

    for _ in range(rounds):
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        QThread.msleep(10)


def _drop_offscreen_noise() -> None:
    """The offscreen platform reports each window it cannot pass size hints to (a platform limit,
    ignored by the tests too); print every other Qt message as Qt would."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_mode: object, _context: object, message: str) -> None:
        if "does not support propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    qInstallMessageHandler(handler)


def _screenshot(app, names: list[str], path: Path) -> int:
    from viz.demo import build

    _drop_offscreen_noise()
    targets = [(name, path) for name in names] if len(names) == 1 else [(n, path / f"{n}.png") for n in names]
    if len(names) > 1:
        path.mkdir(parents=True, exist_ok=True)
    for name, target in targets:
        widget = build(name)
        widget.setWindowTitle(f"viz.demo: {name}")
        widget.show()
        _settle(app)
        if not widget.grab().save(str(target)):
            print(f"viz.demo: could not write {target}", file=sys.stderr)
            return 1
        print(target)
        widget.close()
        widget.deleteLater()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from viz.demo import DEMOS, summary

    unknown = [name for name in args.names if name not in DEMOS]
    if unknown:
        print(f"viz.demo: unknown demo {unknown[0]!r}; available: {', '.join(DEMOS)}", file=sys.stderr)
        return 2
    if args.all and args.names:
        print("viz.demo: give demo names or --all, not both", file=sys.stderr)
        return 2
    names = list(DEMOS) if args.all else list(dict.fromkeys(args.names))
    if not names:
        width = max(map(len, DEMOS))
        print("Demos (python -m viz.demo NAME [--screenshot PATH], or --all for every one as tabs):")
        for name in DEMOS:
            print(f"  {name:<{width}}  {summary(name)}")
        return 0

    if args.screenshot is not None and not os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication, QTabWidget

    from viz.demo import build

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if args.screenshot is not None:
        return _screenshot(app, names, args.screenshot)
    if len(names) == 1:
        window = build(names[0])
        window.setWindowTitle(f"viz.demo: {names[0]} · {summary(names[0])}")
    else:
        window = QTabWidget()
        window.setWindowTitle("viz.demo")
        for name in names:
            widget = build(name)
            index = window.addTab(widget, name)
            window.setTabToolTip(index, summary(name))
        window.resize(960, 760)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
