"""File ▸ Export: any dock panel as PNG/SVG or to the clipboard, the trace as .npz, the tokens as CSV.

Every export function takes the window and a path, so tests call them directly; the
menu actions only add a QFileDialog in front. Failures (an unwritable path) show in the
window's banner and the function returns None, never a traceback.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from model_core.errors import LogitscopeError
from viz.export import export_png, export_svg

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

CSV_COLUMNS = ("position", "id", "text", "label", "byte_start", "byte_end", "surprisal", "generated")


def _fail(window: MainWindow, what: str, path: str | Path, exc: BaseException) -> None:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    window.banner.show_message(f"Could not export {what} to {path}: {reason}")


def _check_writable(path: Path) -> None:
    """Raise OSError now if `path` cannot be written (QSvgGenerator would only print a Qt warning)."""
    with open(path, "wb"):
        pass


def panel_widget(window: MainWindow, key: str) -> QWidget:
    """The panel, drawn up to date: one in a tab behind another skips redraws until shown."""
    widget = window.docks[key].widget()
    gate = getattr(widget, "gate", None)
    if gate is not None:
        gate.bring_up_to_date()
    return widget


def _title(window: MainWindow, key: str) -> str:
    return window.docks[key].windowTitle().replace("&&", "&")


def export_panel_png(window: MainWindow, key: str, path: str | Path, width: int | None = None) -> Path | None:
    """The panel of dock `key` as PNG: its on-screen size, or scaled to `width` pixels wide."""
    path = Path(path)
    try:
        _check_writable(path)
        return export_png(panel_widget(window, key), path, width=width)
    except (OSError, ValueError, RuntimeError) as exc:
        _fail(window, f"the {_title(window, key)} panel", path, exc)
        return None


def export_panel_svg(window: MainWindow, key: str, path: str | Path) -> Path | None:
    """The panel of dock `key` as SVG (the whole widget rendered through QSvgGenerator)."""
    path = Path(path)
    try:
        _check_writable(path)
        export_svg(panel_widget(window, key), path)
        if path.stat().st_size == 0:
            raise OSError("nothing was written")
        return path
    except (OSError, ValueError, RuntimeError) as exc:
        _fail(window, f"the {_title(window, key)} panel", path, exc)
        return None


def panel_image(window: MainWindow, key: str) -> QImage:
    return panel_widget(window, key).grab().toImage()


def copy_panel_image(window: MainWindow, key: str) -> QImage:
    """Put the panel's picture on the clipboard (paste straight into slides)."""
    image = panel_image(window, key)
    QGuiApplication.clipboard().setImage(image)
    window.status_label.setText(f"Copied the {_title(window, key)} panel to the clipboard.")
    return image


def export_trace_npz(window: MainWindow, path: str | Path) -> Path | None:
    """Every array of the current trace, same keys as `logitscope trace --dump`."""
    from model_core.types.trace_files import save_trace_npz

    trace = window.state.trace
    if trace is None:
        window.banner.show_message("There is no trace to export yet.")
        return None
    if not trace.has_lens and window.wait_for_lens():
        trace = window.state.trace  # the lens is computed on demand; the export should hold it
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")  # numpy would add it anyway
    try:
        save_trace_npz(trace, path)
    except (LogitscopeError, OSError, ValueError) as exc:
        _fail(window, "the trace", path, exc)
        return None
    return path


def token_rows(window: MainWindow) -> list[dict[str, object]]:
    """One row per token of the current trace, as written to CSV."""
    state = window.state
    trace = state.trace
    if trace is None:
        return []
    bits = None
    if state.surprisal is not None and state.result is not None and state.surprisal.trace_id == state.result.trace_id:
        bits = state.surprisal.bits
    elif trace.surprisal is not None:
        bits = trace.surprisal
    rows = []
    texts = trace.tokens.texts
    for k in range(trace.n_tokens):
        value = float(bits[k]) if bits is not None and k < len(bits) else math.nan
        rows.append({
            "position": k,
            "id": int(trace.tokens.ids[k]),
            "text": texts[k],
            "label": trace.tokens.labels[k],
            "byte_start": int(trace.tokens.offsets[k, 0]),
            "byte_end": int(trace.tokens.offsets[k, 1]),
            "surprisal": "" if not math.isfinite(value) else f"{value:.6g}",
            "generated": int(k >= trace.n_prompt),
        })
    return rows


def export_tokens_csv(window: MainWindow, path: str | Path) -> Path | None:
    """The token table as UTF-8 CSV: exact token text (spaces kept), surprisal in bits (blank if unknown)."""
    if window.state.trace is None:
        window.banner.show_message("There is no trace to export yet.")
        return None
    path = Path(path)
    try:
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(token_rows(window))
    except OSError as exc:
        _fail(window, "the tokens", path, exc)
        return None
    return path


# -- menus ---------------------------------------------------------------------------------------


def _safe_name(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-") or "panel"


def _ask_path(window: MainWindow, caption: str, name: str, file_filter: str) -> str:
    path, _ = QFileDialog.getSaveFileName(window, caption, name, file_filter)
    return path


def _png_dialog(window: MainWindow, key: str) -> None:
    path = _ask_path(window, "Export panel as PNG", _safe_name(_title(window, key)) + ".png", "PNG images (*.png)")
    if path:
        export_panel_png(window, key, path)


def _svg_dialog(window: MainWindow, key: str) -> None:
    path = _ask_path(window, "Export panel as SVG", _safe_name(_title(window, key)) + ".svg", "SVG images (*.svg)")
    if path:
        export_panel_svg(window, key, path)


def _npz_dialog(window: MainWindow) -> None:
    path = _ask_path(window, "Export trace", "trace.npz", "NumPy archives (*.npz)")
    if path:
        export_trace_npz(window, path)


def _csv_dialog(window: MainWindow) -> None:
    path = _ask_path(window, "Export tokens", "tokens.csv", "CSV files (*.csv)")
    if path:
        export_tokens_csv(window, path)


def panel_menu(window: MainWindow, key: str, parent: QWidget) -> QMenu:
    """PNG…, SVG…, Copy image for one panel (used in File ▸ Export panel and on right-click)."""
    menu = QMenu(_title(window, key), parent)
    for label, slot in (("PNG…", _png_dialog), ("SVG…", _svg_dialog)):
        action = QAction(label, menu)
        action.triggered.connect(lambda _c=False, s=slot: s(window, key))
        menu.addAction(action)
    copy = QAction("Copy image", menu)
    copy.triggered.connect(lambda _c=False: copy_panel_image(window, key))
    menu.addAction(copy)
    return menu


def _on_dock_context_menu(window: MainWindow, key: str, pos: QPoint) -> None:
    dock = window.docks[key]
    menu = QMenu(dock)
    menu.addSection(f"Export {_title(window, key)}")
    for action in panel_menu(window, key, menu).actions():
        menu.addAction(action)
    menu.exec(dock.mapToGlobal(pos))


def install(window: MainWindow) -> QMenu:
    """Add File ▸ Export panel ▸ <panel> ▸ PNG…/SVG…/Copy image, trace and token exports, and a
    right-click menu on each dock (title bar and any part of the panel without its own menu)."""
    from desktop.sessions import find_menu

    file_menu = find_menu(window, "&File")
    before = next((a for a in file_menu.actions() if a.text() == "Quit"), None)
    export_menu = QMenu("Export panel", window)
    for key in window.docks:
        export_menu.addMenu(panel_menu(window, key, export_menu))
        dock = window.docks[key]
        dock.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        dock.customContextMenuRequested.connect(lambda pos, k=key: _on_dock_context_menu(window, k, pos))
    file_menu.insertMenu(before, export_menu)
    for label, slot in (("Export trace (.npz)…", _npz_dialog), ("Export tokens (.csv)…", _csv_dialog)):
        action = QAction(label, window)
        action.triggered.connect(lambda _c=False, s=slot: s(window))
        file_menu.insertAction(before, action)
    file_menu.insertSeparator(before)
    return export_menu
