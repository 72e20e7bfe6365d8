"""The status bar: a line of text, and a progress bar with Cancel while long work runs."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar


class BusyStatus:
    """The widgets of the window's status bar, and showing / hiding the busy state."""

    def __init__(self, bar: QStatusBar) -> None:
        self.label = QLabel("Starting…")
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(260)
        self.progress_bar.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.hide()
        bar.addWidget(self.label, 1)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.cancel_button)

    def show_busy(self, message: str, cancellable: bool = True) -> None:
        self.label.setText(message)
        self.progress_bar.setRange(0, 0)
        self.progress_bar.show()
        self.cancel_button.setVisible(cancellable)

    def hide_busy(self) -> None:
        self.progress_bar.hide()
        self.cancel_button.hide()

    def show_progress(self, message: str, fraction: float) -> None:
        self.label.setText(message)
        if fraction < 0:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(fraction * 1000))
