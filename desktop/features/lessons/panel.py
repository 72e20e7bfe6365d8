"""Lesson: the current step's text, Previous / Next, a step counter, and the lessons to choose from."""

from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.features.lessons.files import Lesson, LessonError, builtin_lessons, load_lesson
from desktop.features.lessons.player import LessonPlayer


class LessonPanel(QWidget):
    def __init__(self, player: LessonPlayer, show_message: Callable[[str], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.player = player
        self._show_message = show_message
        self.lessons = QComboBox()
        self.lessons.setToolTip("The lessons that come with Logitscope")
        self.open_button = QPushButton("Open lesson…")
        self.open_button.setToolTip("Load your own lesson (a JSON file of steps)")
        self.step_title = QLabel()
        self.step_title.setWordWrap(True)
        self.step_title.setObjectName("lesson-step-title")
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        self.text.setMinimumHeight(40)  # two lines: the bottom row stays no taller than Generation needs
        self.counter = QLabel()
        self.counter.setObjectName("lesson-counter")
        self.counter.setTextFormat(Qt.TextFormat.PlainText)  # a title with quotes shows them, not &quot;
        self.previous_button = QPushButton("◀  Previous")
        self.previous_button.setToolTip("Previous step (B or Page Up in presentation mode)")
        self.next_button = QPushButton("Next  ▶")
        self.next_button.setToolTip("Next step (N or Page Down in presentation mode)")

        self.chooser = QWidget()  # hidden in presentation mode: the lesson is chosen, its text needs the room
        top = QHBoxLayout(self.chooser)
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QLabel("Lesson:"))
        top.addWidget(self.lessons, 1)
        top.addWidget(self.open_button)
        nav = QHBoxLayout()
        nav.addWidget(self.previous_button)
        nav.addWidget(self.counter, 1, Qt.AlignmentFlag.AlignCenter)
        nav.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.chooser)
        layout.addWidget(self.step_title)
        layout.addWidget(self.text, 1)
        layout.addLayout(nav)

        self._builtin: list[Lesson] = []
        try:
            self._builtin = builtin_lessons()
        except (LessonError, ValueError, OSError) as error:  # a broken install must not stop the window
            show_message(str(error))
        self.lessons.addItem("Choose a lesson…", None)
        for lesson in self._builtin:
            self.lessons.addItem(lesson.title, lesson)
            self.lessons.setItemData(self.lessons.count() - 1, lesson.description, Qt.ItemDataRole.ToolTipRole)

        self.lessons.activated.connect(self._on_lesson_chosen)
        self.open_button.clicked.connect(self.choose_file)
        self.previous_button.clicked.connect(player.previous)
        self.next_button.clicked.connect(player.next)
        player.lesson_changed.connect(self._redraw)
        player.step_changed.connect(self._redraw)
        self._redraw()

    # -- actions ---------------------------------------------------------------------------

    def set_compact(self, compact: bool) -> None:
        """Without the lesson chooser row (presentation mode): more room for the step's text."""
        self.chooser.setVisible(not compact)

    def builtin(self) -> list[Lesson]:
        return list(self._builtin)

    def open_file(self, path: str) -> bool:
        """Open a lesson file; a bad one is explained in the banner. True if it opened."""
        try:
            lesson = load_lesson(path)
        except LessonError as error:
            self._show_message(str(error))
            return False
        self.lessons.setCurrentIndex(0)
        self.player.open(lesson)
        return True

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open lesson", "", "Lessons (*.json);;All files (*)")
        if path:
            self.open_file(path)

    def _on_lesson_chosen(self, index: int) -> None:
        lesson = self.lessons.itemData(index)
        if isinstance(lesson, Lesson):
            self.player.open(lesson)

    # -- drawing ---------------------------------------------------------------------------

    def _redraw(self, *_args) -> None:
        player = self.player
        lesson, step = player.lesson, player.step
        if lesson is None or step is None:
            self.step_title.setText("No lesson open")
            self.text.setHtml("<p>Pick a lesson above, or open your own file. Each step sets up the "
                              "window (prompt, token, layer, head, panel) and says what to look at.</p>")
            self.counter.setText("")
            self.previous_button.setEnabled(False)
            self.next_button.setEnabled(False)
            return
        n = len(lesson.steps)
        self.step_title.setText(f"<b>{html.escape(step.title)}</b>")
        paragraphs = "".join(f"<p>{html.escape(p.strip())}</p>" for p in step.text.split("\n\n") if p.strip())
        self.text.setHtml(paragraphs)
        self.counter.setText(f"{lesson.title} · step {player.index + 1} / {n}")
        self.previous_button.setEnabled(player.index > 0)
        self.next_button.setEnabled(player.index + 1 < n)
