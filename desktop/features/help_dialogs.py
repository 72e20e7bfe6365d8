"""Help ▸ Keyboard shortcuts: a table built from the window's own QActions, so it stays true."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from desktop.core.host import Host

# Keys handled in keyPressEvent rather than by a QAction; listed so the table is complete.
EXTRA_SHORTCUTS = (("Prompt", "Run the prompt now", "Ctrl+Return"),)


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def collect_shortcuts(window: Host) -> list[tuple[str, str, str]]:
    """(menu, action, keys) for every action or shortcut of the window that has keys, menu order first."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{path} ▸ {_plain(action.text())}")
                continue
            seen.add(id(action))
            keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts() if not k.isEmpty()]
            if keys and not action.isSeparator():
                rows.append((path, _plain(action.text()), ", ".join(keys)))

    for top in window.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu(), _plain(top.text()))
    for action in window.findChildren(QAction):
        if id(action) in seen:
            continue
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts() if not k.isEmpty()]
        if keys:
            rows.append(("Window", _plain(action.text()) or action.objectName(), ", ".join(keys)))
    for shortcut in window.findChildren(QShortcut):
        if not shortcut.key().isEmpty():
            name = shortcut.whatsThis() or shortcut.objectName() or "Shortcut"
            rows.append(("Window", name, shortcut.key().toString(QKeySequence.SequenceFormat.NativeText)))
    for menu, name, keys in EXTRA_SHORTCUTS:
        rows.append((menu, name, QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText)))
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, window: Host) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        rows = collect_shortcuts(window)
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Keys", "Action", "Menu"])
        for r, (menu, name, keys) in enumerate(rows):
            for c, text in enumerate((keys, name, menu)):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Every key the window answers to (from its menus and actions):"))
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 520)

    def rows(self) -> list[tuple[str, str, str]]:
        return [tuple(self.table.item(r, c).text() for c in range(3)) for r in range(self.table.rowCount())]


class HelpDialogs:
    """Help ▸ Keyboard shortcuts (F1); keeps the open dialog alive while it is shown."""

    def __init__(self, window: Host) -> None:
        self.window = window
        self.shortcuts_dialog: ShortcutsDialog | None = None

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self.window)
        dialog.setModal(False)
        dialog.show()
        self.shortcuts_dialog = dialog
        return dialog


NAME = "help"


def install(host: Host) -> HelpDialogs:
    """Help ▸ Keyboard shortcuts (F1), before About."""
    dialogs = HelpDialogs(host)
    action = QAction("Keyboard shortcuts", host, shortcut=QKeySequence.StandardKey.HelpContents)
    action.triggered.connect(dialogs.show_shortcuts)
    host.add_menu_item("help.guides", action)
    return dialogs
