"""The window as features see it: a host with a declared surface.

Features (sessions, lessons, presentation, themes, export, help) are installed on the host in
a declared order (`desktop/shell/features.py`). They add menu items at named anchors, docks
through `add_dock`, and find each other with `feature(name)`; they never set attributes on the
window, look a menu up by its text, or compute where an action goes.

Menu anchors are "<menu>.<section>": file.models, file.sessions, file.export, file.quit;
generate.actions, generate.cancel; view.docks, view.navigation, view.layout, view.theme,
view.presentation; help.guides, help.about.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QDockWidget, QMenu, QWidget

    from desktop.core.client import ModelClient
    from desktop.core.context import ViewContext
    from desktop.core.state import AppState
    from desktop.core.trace_controller import TraceController


class Host(Protocol):
    """What the main window offers to the features installed on it (besides QMainWindow's own API:
    saveState/restoreState, menuBar, statusBar, windowState ...)."""

    ctx: ViewContext
    state: AppState
    client: ModelClient
    traces: TraceController
    settings: QSettings
    layout_version: int
    docks: Mapping[str, QDockWidget]

    def panel(self, key: str) -> QWidget:
        """The widget of dock `key` (KeyError if there is none)."""

    def menu(self, name: str) -> QMenu:
        """A top-level menu by its id: "file", "generate", "view", "help"."""

    def add_menu_item(self, anchor: str, item: QAction | QMenu) -> None:
        """Append an action or submenu to the section `anchor` ("file.export", ...)."""

    def add_dock(self, key: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        """A dock with a stable objectName (so saveState/restoreState work) and a View toggle."""

    def raise_dock(self, key: str) -> None: ...

    def fit_to_screen(self) -> None:
        """Keep the window (frame included) inside its screen's available area."""

    def apply_default_sizes(self) -> None:
        """Give the docks their default share of the window (after a resize or a layout change)."""

    def feature(self, name: str) -> object | None:
        """An installed feature's controller by name, or None when it is not installed."""

    def show_message(self, text: str) -> None:
        """An inline message in the window's banner (errors, things that went wrong)."""

    def show_status(self, text: str) -> None:
        """A line in the status bar (progress, confirmations)."""
