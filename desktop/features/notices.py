"""What a panel says while it cannot show the model's answer: a notice over its contents.

Two cases, one rule — what is shown always matches what the model has:

- **Waiting**: until the first trace arrives (the model loading — on a first start the built-in
  model is converted once, about 20 s — then the prompt being traced), every panel that shows the
  trace or the model says so, with the latest progress line, instead of showing empty axes.
- **Out of date**: a prompt that could not be traced (empty, too long) leaves the worker on the
  previous one. The panels that show the trace (and the token chips) say so and take no clicks;
  Step and the other generation actions refuse (`TraceController.act`), so nothing goes on from
  the old text. The next trace clears it.

The notice is a translucent sheet over the panel (it covers no dock title, so tabs and the View
menu still work); the panel underneath is disabled, so its keys cannot act on it either.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop.core.host import Host
from model_core.types.model_info import BUILTIN

# Docks that show the trace: covered while it is out of date, and while there is none yet.
TRACE_DOCKS = ("attention", "trajectories", "distribution", "lens", "qkv", "heads", "mlp", "tokenizers",
               "kv_cache", "generation")
# Docks that show only the model: covered while there is none yet.
MODEL_DOCKS = ("anatomy", "embeddings")
FIRST_LOAD = ("Loading the built-in model (SmolLM2-135M-Instruct)…\n"
              "The first start converts it once (about 20 s); later starts take a second or two.")


class NoticeSheet(QWidget):
    """A translucent page-coloured sheet with a centred message, laid over one widget."""

    def __init__(self, target: QWidget, host: QWidget) -> None:
        super().__init__(host)
        self.target = target
        self.setObjectName("notice-sheet")
        self.label = QLabel(self)
        self.label.setObjectName("notice-text")
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = QFont()
        font.setBold(True)
        self.label.setFont(font)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 12, 24, 12)
        layout.addWidget(self.label)
        target.installEventFilter(self)
        self.hide()

    def show_text(self, text: str) -> None:
        self.label.setText(text)
        self._cover()
        self.show()
        self.raise_()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def _cover(self) -> None:
        top_left = self.target.mapTo(self.parentWidget(), self.target.rect().topLeft())
        self.setGeometry(top_left.x(), top_left.y(), self.target.width(), self.target.height())

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.target and event.type() in (QEvent.Type.Resize, QEvent.Type.Move, QEvent.Type.Show):
            if self.isVisible():
                self._cover()
        return False

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        colour = QColor(self.palette().color(QPalette.ColorRole.Window))
        colour.setAlpha(225)
        painter.fillRect(self.rect(), colour)
        painter.end()


class Notices(QObject):
    """Puts the waiting / out-of-date notices over the panels and takes them away again."""

    def __init__(self, window: Host) -> None:
        super().__init__(window)
        self.window = window
        self.state, self.traces = window.state, window.traces
        self._progress = ""
        self.sheets: dict[str, NoticeSheet] = {}
        for key in (*TRACE_DOCKS, *MODEL_DOCKS):
            dock = window.docks.get(key)
            if dock is not None and dock.widget() is not None:
                self.sheets[key] = NoticeSheet(dock.widget(), dock)
        prompt = window.docks.get("prompt")
        chips = getattr(prompt.widget(), "chips", None) if prompt is not None else None
        if chips is not None:  # the editor stays usable: only the chips are covered
            self.sheets["chips"] = NoticeSheet(chips, chips.parentWidget())
        self.state.trace_changed.connect(self.update)
        self.state.model_changed.connect(self.update)
        self.state.stale_changed.connect(self.update)
        self.traces.busy.connect(lambda *_a: self.update())
        self.traces.done.connect(self.update)
        self.traces.load_failed.connect(lambda *_a: self.update())
        window.client.progress.connect(self._on_progress)
        self.update()

    def _on_progress(self, message: str, _fraction: float) -> None:
        if self.state.result is None:
            self._progress = message
            self.update()

    def waiting_text(self) -> str:
        """What the panels say before the first trace."""
        if self.traces.loading:
            spec = self.traces.loading_spec
            head = FIRST_LOAD if spec == BUILTIN else f"Loading {spec}…"
            return f"{head}\n\n{self._progress}" if self._progress else head
        if self.state.info is None:
            return "No model is loaded. Pick one in the Model panel (or File ▸ Open model folder…)."
        return "Tracing the prompt…"

    def update(self) -> None:
        state = self.state
        stale = state.stale_reason
        waiting = state.result is None
        if not waiting:
            self._progress = ""
        for key, sheet in self.sheets.items():
            if key in MODEL_DOCKS:
                text = self.waiting_text() if state.info is None else ""
            elif stale and not waiting:
                text = (f"Not the current prompt — {stale}" if key == "chips" else
                        f"Not the current prompt.\n{stale}\nWhat is shown here belongs to the prompt traced before.")
            elif waiting:
                text = self.waiting_text().split("\n")[0] if key == "chips" else self.waiting_text()
            else:
                text = ""
            target = sheet.target
            if text:
                target.setEnabled(False)
                sheet.show_text(text)
            else:
                sheet.hide()
                target.setEnabled(True)

    def text(self, key: str) -> str:
        """The notice over a dock's panel ("chips" for the token chips); "" when there is none."""
        sheet = self.sheets.get(key)
        return sheet.text() if sheet is not None else ""


NAME = "notices"


def install(host: Host) -> Notices:
    """Lay the notice sheets over the panels."""
    return Notices(host)

