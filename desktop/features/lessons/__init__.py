"""Lessons: guided walkthroughs stored as JSON files of steps (`files.py`), a player that moves the
window through them (`player.py`) and the Lesson dock (`panel.py`)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from desktop.core.host import Host
from desktop.features.lessons.panel import LessonPanel
from desktop.features.lessons.player import LessonPlayer

NAME = "lessons"


def install(host: Host) -> LessonPlayer:
    """Add the Lesson dock beside Generation, and its player (the feature's controller; its dock
    widget is ``player.panel``)."""
    player = LessonPlayer(host)
    player.panel = LessonPanel(player, host.show_message)
    dock = host.add_dock("lesson", "Lesson", player.panel, Qt.DockWidgetArea.BottomDockWidgetArea)
    generation = host.docks.get("generation")
    if generation is not None:
        host.splitDockWidget(generation, dock, Qt.Orientation.Horizontal)
    return player
