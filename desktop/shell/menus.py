"""Menus as data: each top-level menu is a list of named sections, and features add their items
to a section by its anchor ("file.export") instead of finding a menu by its text.

Every section ends in an invisible marker action; an item is inserted just before its section's
marker, so it lands at the end of that section whatever was installed before. Sections are
separated by separators, which Qt collapses when a section is empty.
"""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMenuBar, QWidget

# menu id -> (title, sections in order)
MENUS: dict[str, tuple[str, tuple[str, ...]]] = {
    "file": ("&File", ("models", "sessions", "export", "quit")),
    "generate": ("&Generate", ("actions", "cancel")),
    "view": ("&View", ("docks", "navigation", "layout", "theme", "presentation")),
    "help": ("&Help", ("guides", "about")),
}


class Menus:
    """The window's menus and their section anchors."""

    def __init__(self, bar: QMenuBar, parent: QWidget) -> None:
        self._menus: dict[str, QMenu] = {}
        self._markers: dict[str, QAction] = {}
        for name, (title, sections) in MENUS.items():
            menu = bar.addMenu(title)
            menu.setSeparatorsCollapsible(True)
            menu.setObjectName(f"menu-{name}")
            self._menus[name] = menu
            for index, section in enumerate(sections):
                if index:
                    menu.addSeparator()
                marker = QAction(parent)
                marker.setObjectName(f"anchor-{name}.{section}")
                marker.setVisible(False)
                menu.addAction(marker)
                self._markers[f"{name}.{section}"] = marker

    def menu(self, name: str) -> QMenu:
        return self._menus[name]

    def anchors(self) -> tuple[str, ...]:
        return tuple(self._markers)

    def add(self, anchor: str, item: QAction | QMenu) -> None:
        """Append `item` to the section `anchor` ("<menu>.<section>")."""
        marker = self._markers.get(anchor)
        if marker is None:
            raise KeyError(f"no menu section {anchor!r}; known: {', '.join(self._markers)}")
        menu = self._menus[anchor.split(".", 1)[0]]
        if isinstance(item, QMenu):
            menu.insertMenu(marker, item)
        else:
            menu.insertAction(marker, item)
