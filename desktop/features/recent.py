"""Recent prompts and recent sessions: short most-recent-first lists kept in QSettings.

Lists are stored as one JSON string per key, because an .ini QSettings turns a
one-element list into a plain string and an empty one into nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

MAX_RECENT = 10
PROMPTS_KEY = "recent/prompts"
SESSIONS_KEY = "recent/sessions"


class RecentList:
    """A most-recent-first list of strings under one QSettings key, at most `limit` long."""

    def __init__(self, settings: QSettings, key: str, limit: int = MAX_RECENT) -> None:
        self.settings = settings
        self.key = key
        self.limit = limit

    def items(self) -> list[str]:
        raw = self.settings.value(self.key, "")
        try:
            values = json.loads(raw) if isinstance(raw, str) and raw else []
        except json.JSONDecodeError:
            return []
        return [v for v in values if isinstance(v, str)][: self.limit] if isinstance(values, list) else []

    def add(self, item: str, replace_head: bool = False) -> None:
        """Put `item` first (moving it if already there); `replace_head` drops the old first entry."""
        items = self.items()
        if replace_head and items:
            items = items[1:]
        items = [item] + [i for i in items if i != item]
        self._write(items[: self.limit])

    def remove(self, item: str) -> None:
        self._write([i for i in self.items() if i != item])

    def clear(self) -> None:
        self._write([])

    def _write(self, items: list[str]) -> None:
        self.settings.setValue(self.key, json.dumps(items, ensure_ascii=False))
        self.settings.sync()


def add_prompt(prompts: RecentList, text: str) -> None:
    """Remember a traced prompt; while the user types, the growing prompt replaces its own earlier prefix."""
    if not text.strip():
        return
    items = prompts.items()
    head = items[0] if items else None
    editing = head is not None and head != text and (text.startswith(head) or head.startswith(text))
    prompts.add(text, replace_head=editing)


def menu_label(text: str, width: int = 60) -> str:
    """One line for a menu entry: newlines shown as ⏎, long text elided, '&' kept literal."""
    line = text.replace("\r\n", "\n").replace("\n", " ⏎ ").replace("\t", " ")
    if len(line) > width:
        line = line[: width - 1] + "…"
    return line.replace("&", "&&")


def fill_menu(menu: QMenu, recent: RecentList, pick: Callable[[str], None], empty: str) -> None:
    """Rebuild `menu` from `recent` (called on aboutToShow so it is always current)."""
    menu.clear()
    items = recent.items()
    if not items:
        none = QAction(empty, menu)
        none.setEnabled(False)
        menu.addAction(none)
        return
    for item in items:
        action = QAction(menu_label(item), menu)
        action.setToolTip(item)
        action.triggered.connect(lambda _checked=False, value=item: pick(value))
        menu.addAction(action)
    menu.addSeparator()
    clear = QAction("Clear list", menu)
    clear.triggered.connect(recent.clear)
    menu.addAction(clear)
