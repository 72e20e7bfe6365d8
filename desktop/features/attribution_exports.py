"""File ▸ Export: the attribution scores and the side-by-side comparison as CSV or .npz, beside the
trace and token exports (the panels' own *Export…* buttons do the same; images come from File ▸
Export panel like every other panel's)."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from desktop.core.host import Host

NAME = "attribution_exports"


EXPORTS = (  # (what, dock key, default file name, the panel's export method)
    ("attribution scores", "attribution", "attribution.csv", "export_scores"),
    ("comparison", "compare", "comparison.csv", "export_comparison"),
)


def export_to(host: Host, key: str, method: str, what: str, path: str) -> bool:
    """Export through the panel; success in the status bar, failure (said by the panel) in the banner."""
    panel = host.panel(key)
    if getattr(panel, method)(path):
        host.show_status(f"Exported the {what} to {path}.")
        return True
    host.show_message(panel.summary.text())
    return False


def _dialog(host: Host, key: str, method: str, what: str, name: str) -> None:
    path, _ = QFileDialog.getSaveFileName(host, f"Export the {what}", name, "CSV (*.csv);;NumPy arrays (*.npz)")
    if path:
        export_to(host, key, method, what, path)


def install(host: Host) -> None:
    for what, key, name, method in EXPORTS:
        if key not in host.docks:
            continue
        action = QAction(f"Export {what} (.csv/.npz)…", host)
        action.triggered.connect(lambda _c=False, k=key, m=method, w=what, n=name: _dialog(host, k, m, w, n))
        host.add_menu_item("file.export", action)
