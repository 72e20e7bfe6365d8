"""Small text-style helpers the panels share (no style sheets, so presentation mode's larger
application font still reaches the text)."""

from __future__ import annotations

from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QLabel


def emphasise(label: QLabel, bold: bool = True, muted: bool = False) -> QLabel:
    """Bold and/or muted text that still follows the application font and theme.

    Not a style sheet: a widget with one keeps its font when the application font changes,
    so presentation mode's large type would pass it by.
    """
    font = QFont()  # only the weight is set; size and family keep following the parent
    font.setBold(bold)
    label.setFont(font)
    if muted:
        label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label
