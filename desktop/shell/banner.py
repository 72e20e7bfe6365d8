"""An inline, dismissable message bar: errors appear here, not as a pile of dialogs (Orange3)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QPushButton, QToolBar, QWidget


class MessageBanner(QWidget):
    """The message and a Dismiss button. It lives in a toolbar that is shown only while there is
    a message, so it takes no room otherwise; `visibility_changed` drives that toolbar."""

    visibility_changed = Signal(bool)

    def __init__(self) -> None:
        super().__init__()
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QPushButton("Dismiss")
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.setAutoFillBackground(True)
        self.setStyleSheet("MessageBanner { background: #fde2e1; } QLabel { color: #7a1010; font-weight: 600; }")
        self._active = False

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self._active = True
        self.visibility_changed.emit(True)

    def dismiss(self) -> None:
        self._active = False
        self.visibility_changed.emit(False)

    def text(self) -> str:
        return self.label.text() if self._active else ""


def install_banner(window: QMainWindow) -> MessageBanner:
    """A banner in its own top toolbar of `window`, hidden until there is something to say."""
    banner = MessageBanner()
    bar = QToolBar("Messages")
    bar.setObjectName("messages-bar")
    bar.setMovable(False)
    bar.addWidget(banner)
    bar.toggleViewAction().setVisible(False)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
    banner.visibility_changed.connect(bar.setVisible)
    bar.hide()
    return banner
