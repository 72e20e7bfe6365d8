"""File ▸ Export: any dock panel as PNG/SVG or to the clipboard, the trace as .npz, the tokens as CSV.

Every export function takes the window and a path, so tests call them directly; the
menu actions only add a QFileDialog in front. Every file is written atomically (a temporary
file renamed into place, `model_core.output_files`), so a failure never leaves half a file;
a failure (a folder, an unwritable place, a full disk) shows in the window's banner and the
function returns None, never a traceback. A success says where the file went in the status bar.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from desktop.core.host import Host
from model_core.errors import LogitscopeError
from model_core.output_files import write_atomically, write_text_atomically
from viz.export import export_png, export_svg

CSV_COLUMNS = ("position", "id", "text", "label", "byte_start", "byte_end", "surprisal", "generated")


def _fail(window: Host, what: str, path: str | Path, exc: BaseException) -> None:
    if isinstance(exc, LogitscopeError):  # already a sentence naming the path
        window.show_message(f"Could not export {what}: {exc}")
        return
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    window.show_message(f"Could not export {what} to {path}: {reason}")


def _done(window: Host, what: str, path: Path) -> Path:
    window.show_status(f"Exported {what} to {path}.")
    return path


def panel_widget(window: Host, key: str) -> QWidget:
    """The panel, drawn up to date: one in a tab behind another skips redraws until shown."""
    widget = window.docks[key].widget()
    gate = getattr(widget, "gate", None)
    if gate is not None:
        gate.bring_up_to_date()
    return widget


def _title(window: Host, key: str) -> str:
    """The dock's title as read ("Prompt & tokens"; its window title doubles the "&")."""
    return window.docks[key].windowTitle().replace("&&", "&")


def _menu_text(text: str) -> str:
    """Text for a menu or action: a single "&" marks a shortcut letter there, so a literal one is doubled."""
    return text.replace("&", "&&")


def _export_panel(window: Host, key: str, path: str | Path, render) -> Path | None:
    """Render the panel of dock `key` with `render(widget, file)` into `path`, atomically."""
    what = f"the {_title(window, key)} panel"

    def write(tmp: Path) -> None:
        render(panel_widget(window, key), tmp)
        if tmp.stat().st_size == 0:  # QSvgGenerator / QPixmap.save only print a Qt warning on failure
            raise OSError("nothing was written")

    try:
        return _done(window, what, write_atomically(path, write))
    except (LogitscopeError, OSError, ValueError, RuntimeError) as exc:
        _fail(window, what, path, exc)
        return None


def export_panel_png(window: Host, key: str, path: str | Path, width: int | None = None) -> Path | None:
    """The panel of dock `key` as PNG: its on-screen size, or scaled to `width` pixels wide."""
    return _export_panel(window, key, path, lambda widget, tmp: export_png(widget, tmp, width=width))


def export_panel_svg(window: Host, key: str, path: str | Path) -> Path | None:
    """The panel of dock `key` as SVG (the whole widget rendered through QSvgGenerator)."""
    return _export_panel(window, key, path, export_svg)


def panel_image(window: Host, key: str) -> QImage:
    return panel_widget(window, key).grab().toImage()


def copy_panel_image(window: Host, key: str) -> QImage:
    """Put the panel's picture on the clipboard (paste straight into slides)."""
    image = panel_image(window, key)
    QGuiApplication.clipboard().setImage(image)
    window.show_status(f"Copied the {_title(window, key)} panel to the clipboard.")
    return image


def export_trace_npz(window: Host, path: str | Path) -> Path | None:
    """Every array of the current trace, same keys as `logitscope trace --dump`."""
    from model_core.types.trace_files import save_trace_npz

    trace = window.state.trace
    if trace is None:
        window.show_message("There is no trace to export yet.")
        return None
    if not trace.has_lens and window.traces.wait_for_lens():
        trace = window.state.trace  # the lens is computed on demand; the export should hold it
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")  # numpy would add it anyway
    try:
        return _done(window, "the trace", save_trace_npz(trace, path))
    except (LogitscopeError, OSError, ValueError) as exc:
        _fail(window, "the trace", path, exc)
        return None


def token_rows(window: Host) -> list[dict[str, object]]:
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


def export_tokens_csv(window: Host, path: str | Path) -> Path | None:
    """The token table as UTF-8 CSV: exact token text (spaces kept), surprisal in bits (blank if unknown)."""
    if window.state.trace is None:
        window.show_message("There is no trace to export yet.")
        return None
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(token_rows(window))
    try:
        return _done(window, "the tokens", write_text_atomically(path, buffer.getvalue()))
    except (LogitscopeError, OSError) as exc:
        _fail(window, "the tokens", path, exc)
        return None


# -- menus ---------------------------------------------------------------------------------------


def _safe_name(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-") or "panel"


def _ask_path(window: Host, caption: str, name: str, file_filter: str) -> str:
    path, _ = QFileDialog.getSaveFileName(window, caption, name, file_filter)
    return path


def _png_dialog(window: Host, key: str) -> None:
    path = _ask_path(window, "Export panel as PNG", _safe_name(_title(window, key)) + ".png", "PNG images (*.png)")
    if path:
        export_panel_png(window, key, path)


def _svg_dialog(window: Host, key: str) -> None:
    path = _ask_path(window, "Export panel as SVG", _safe_name(_title(window, key)) + ".svg", "SVG images (*.svg)")
    if path:
        export_panel_svg(window, key, path)


def _npz_dialog(window: Host) -> None:
    path = _ask_path(window, "Export trace", "trace.npz", "NumPy archives (*.npz)")
    if path:
        export_trace_npz(window, path)


def _csv_dialog(window: Host) -> None:
    path = _ask_path(window, "Export tokens", "tokens.csv", "CSV files (*.csv)")
    if path:
        export_tokens_csv(window, path)


def panel_menu(window: Host, key: str, parent: QWidget) -> QMenu:
    """PNG…, SVG…, Copy image for one panel (used in File ▸ Export panel and on right-click)."""
    menu = QMenu(_menu_text(_title(window, key)), parent)
    for label, slot in (("PNG…", _png_dialog), ("SVG…", _svg_dialog)):
        action = QAction(label, menu)
        action.triggered.connect(lambda _c=False, s=slot: s(window, key))
        menu.addAction(action)
    copy = QAction("Copy image", menu)
    copy.triggered.connect(lambda _c=False: copy_panel_image(window, key))
    menu.addAction(copy)
    return menu


def _on_dock_context_menu(window: Host, key: str, pos: QPoint) -> None:
    dock = window.docks[key]
    menu = QMenu(dock)
    menu.addSection(_menu_text(f"Export {_title(window, key)}"))
    for action in panel_menu(window, key, menu).actions():
        menu.addAction(action)
    menu.exec(dock.mapToGlobal(pos))


NAME = "export"


def install(host: Host) -> QMenu:
    """Add File ▸ Export panel ▸ <panel> ▸ PNG…/SVG…/Copy image, trace and token exports, and a
    right-click menu on each dock (title bar and any part of the panel without its own menu)."""
    export_menu = QMenu("Export panel", host)
    for key in host.docks:
        export_menu.addMenu(panel_menu(host, key, export_menu))
        dock = host.docks[key]
        dock.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        dock.customContextMenuRequested.connect(lambda pos, k=key: _on_dock_context_menu(host, k, pos))
    host.add_menu_item("file.export", export_menu)
    for label, slot in (("Export trace (.npz)…", _npz_dialog), ("Export tokens (.csv)…", _csv_dialog)):
        action = QAction(label, host)
        action.triggered.connect(lambda _c=False, s=slot: s(host))
        host.add_menu_item("file.export", action)
    return export_menu
