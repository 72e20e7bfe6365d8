"""The main window: docks, menus, status bar, and the wiring between state, panels and worker."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt, QThread, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QToolBar,
    QWidget,
)

from desktop import messages as m
from desktop.panels.attention_panel import AttentionPanel
from desktop.panels.distribution_panel import DistributionPanel
from desktop.panels.generation_panel import GenerationPanel
from desktop.panels.model_panel import ModelPanel
from desktop.panels.prompt_panel import PromptPanel
from desktop.panels.trajectory_panel import TrajectoryPanel
from desktop.presets import DEFAULT_PROMPT
from desktop.settings import app_settings
from desktop.state import AppState
from desktop.worker import ModelWorker

LAYOUT_VERSION = 1


class MessageBanner(QWidget):
    """An inline, dismissable message: errors appear here, not as a pile of dialogs."""

    def __init__(self) -> None:
        super().__init__()
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QPushButton("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.setAutoFillBackground(True)
        self.setStyleSheet("MessageBanner { background: #fde2e1; } QLabel { color: #7a1010; font-weight: 600; }")
        self.hide()

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""


class MainWindow(QMainWindow):
    request = Signal(object)  # queued to the worker thread

    def __init__(self, model: str | None = None, device: str | None = None, prompt: str | None = None,
                 restore: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("Logitscope")
        self.setDockNestingEnabled(True)
        self.state = AppState()
        self.settings = app_settings()
        self._pending_trace_id = 0
        self._pending_step_id = 0
        self._loading_id = 0
        self._running_id = 0

        # Worker thread: owns the model.
        self.thread_ = QThread(self)
        self.thread_.setObjectName("model-worker")
        self.worker = ModelWorker()
        self.worker.moveToThread(self.thread_)
        self.request.connect(self.worker.handle)
        self.worker.loaded.connect(self._on_loaded)
        self.worker.trace_ready.connect(self._on_trace_ready)
        self.worker.position_ready.connect(self.state.set_position_result)
        self.worker.projection_ready.connect(self._on_projection_ready)
        self.worker.surprisal_ready.connect(self._on_surprisal_ready)
        self.worker.progress.connect(self._on_progress)
        self.worker.failed.connect(self._on_failed)
        self.thread_.start()

        # Panels.
        self.banner = MessageBanner()
        banner_bar = QToolBar("Messages")
        banner_bar.setObjectName("messages-bar")
        banner_bar.setMovable(False)
        banner_bar.addWidget(self.banner)
        banner_bar.toggleViewAction().setVisible(False)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, banner_bar)

        self.prompt_panel = PromptPanel(self.state)
        self.attention_panel = AttentionPanel(self.state)
        self.trajectory_panel = TrajectoryPanel(self.state, self._request_basis)
        self.distribution_panel = DistributionPanel(self.state)
        self.generation_panel = GenerationPanel(self.state)
        self.model_panel = ModelPanel(self.state)
        self.docks: dict[str, QDockWidget] = {}
        self._build_docks()
        self._build_status_bar()
        self._build_menus()
        self._default_state = self.saveState(LAYOUT_VERSION)

        self.prompt_panel.prompt_submitted.connect(self.submit_prompt)
        self.generation_panel.action_requested.connect(self.generation_action)
        self.generation_panel.stop_requested.connect(self.cancel)
        self.model_panel.load_requested.connect(self.load_model)
        self.state.selection_changed.connect(self._on_selection_changed)

        if restore:
            self._restore_settings()
        model = model or (self.settings.value("model/spec", "builtin") if restore else "builtin")
        device = device or (self.settings.value("model/device", "auto") if restore else "auto")
        prompt = prompt if prompt is not None else (
            self.settings.value("prompt/text", DEFAULT_PROMPT) if restore else DEFAULT_PROMPT)
        self.prompt_panel.set_text(str(prompt), submit=False)
        if model not in ("builtin",):
            self.model_panel.add_source(str(model))
        self.model_panel.device.setCurrentText(str(device))
        self.load_model(str(model), str(device))

    # -- layout ----------------------------------------------------------------------------------

    def add_dock(self, key: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        """Every dock gets a unique objectName so saveState/restoreState just work."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{key}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        self.docks[key] = dock
        return dock

    def _build_docks(self) -> None:
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        prompt = self.add_dock("prompt", "Prompt && tokens", self.prompt_panel, left)
        attention = self.add_dock("attention", "Attention", self.attention_panel, left)
        trajectories = self.add_dock("trajectories", "Token trajectories", self.trajectory_panel, right)
        distribution = self.add_dock("distribution", "Next-token distribution", self.distribution_panel, right)
        generation = self.add_dock("generation", "Generation", self.generation_panel, left)
        model = self.add_dock("model", "Model", self.model_panel, right)
        self.splitDockWidget(prompt, attention, Qt.Orientation.Vertical)
        self.splitDockWidget(attention, generation, Qt.Orientation.Vertical)
        self.splitDockWidget(trajectories, distribution, Qt.Orientation.Vertical)
        self.tabifyDockWidget(distribution, model)
        distribution.raise_()
        self.resizeDocks([prompt, attention, generation], [220, 520, 200], Qt.Orientation.Vertical)
        self.resizeDocks([trajectories, distribution], [520, 420], Qt.Orientation.Vertical)
        self.resizeDocks([prompt, trajectories], [960, 960], Qt.Orientation.Horizontal)

    def _build_status_bar(self) -> None:
        self.status_label = QLabel("Starting…")
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(260)
        self.progress_bar.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        bar = self.statusBar()
        bar.addWidget(self.status_label, 1)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.cancel_button)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_folder = QAction("Open model folder…", self, shortcut=QKeySequence.StandardKey.Open)
        open_folder.triggered.connect(self.model_panel.open_folder)
        file_menu.addAction(open_folder)
        file_menu.addSeparator()
        quit_action = QAction("Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        generate = self.menuBar().addMenu("&Generate")
        for label, action, keys in (("Step (greedy)", m.STEP, "F8"), ("Sample", m.SAMPLE, "F9"),
                                    ("Undo", m.UNDO, "Shift+F8"), ("Reset", m.RESET, "Ctrl+R"),
                                    ("Run to end", m.RUN, "F10")):
            act = QAction(label, self, shortcut=QKeySequence(keys))
            act.triggered.connect(lambda _c=False, a=action: self.generation_action(a))
            generate.addAction(act)
        generate.addSeparator()
        cancel = QAction("Cancel", self, shortcut=QKeySequence("Esc"))
        cancel.triggered.connect(self.cancel)
        generate.addAction(cancel)

        view = self.menuBar().addMenu("&View")
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        for label, keys, slot in (
            ("Next layer", "Alt+Down", lambda: self.state.select(layer=self.state.selection.layer + 1)),
            ("Previous layer", "Alt+Up", lambda: self.state.select(layer=self.state.selection.layer - 1)),
            ("Next head", "Alt+Right", lambda: self.state.select(head=self.state.selection.head + 1)),
            ("Previous head", "Alt+Left", lambda: self.state.select(head=self.state.selection.head - 1)),
            ("Next token", "Alt+Shift+Right", lambda: self.state.select(position=self.state.selection.position + 1)),
            ("Previous token", "Alt+Shift+Left",
             lambda: self.state.select(position=self.state.selection.position - 1)),
        ):
            act = QAction(label, self, shortcut=QKeySequence(keys))
            act.triggered.connect(slot)
            view.addAction(act)
        view.addSeparator()
        reset = QAction("Reset layout", self)
        reset.triggered.connect(self.reset_layout)
        view.addAction(reset)

        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("About Logitscope", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def reset_layout(self) -> None:
        for dock in self.docks.values():
            dock.setFloating(False)
            dock.show()
        self.restoreState(self._default_state, LAYOUT_VERSION)

    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:  # first start: fill most of the screen, whatever its size
            screen = self.screen().availableGeometry()
            self.resize(int(screen.width() * 0.95), int(screen.height() * 0.92))
        layout = self.settings.value("window/state")
        if isinstance(layout, QByteArray):
            self.restoreState(layout, LAYOUT_VERSION)

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.settings.setValue("prompt/text", self.prompt_panel.text())
        if self.state.info is not None:
            self.settings.setValue("model/spec", self.state.info.source)
        self.settings.setValue("model/device", self.model_panel.device.currentText())
        self.settings.sync()

    # -- requests --------------------------------------------------------------------------------

    def load_model(self, spec: str, device: str = "auto") -> None:
        request = m.LoadRequest(spec, device)
        self._loading_id = request.id
        self._show_busy(f"Loading {spec}…")
        self.request.emit(request)

    def submit_prompt(self, text: str, allow_special: bool = False) -> None:
        if self.state.info is None:
            return  # traced once the model has loaded
        if not text:
            self.banner.show_message("The prompt is empty: type some text or pick a sentence.")
            return
        request = m.TraceRequest(text, allow_special, self.generation_panel.max_new.value())
        self._pending_trace_id = request.id
        self.worker.latest_trace_request = request.id  # older queued prompts are skipped by the worker
        self.status_label.setText("Tracing…")
        self.request.emit(request)

    def generation_action(self, action: str) -> None:
        if self.state.result is None:
            return
        if self._running_id and action != m.RUN:
            return
        request = m.StepRequest(action, self.state.settings, self.generation_panel.max_new.value())
        self._pending_step_id = request.id
        if action == m.RUN:
            self._running_id = request.id
            self.generation_panel.set_running(True)
            self._show_busy("Generating…", cancellable=True)
        self.request.emit(request)

    def cancel(self) -> None:
        self.worker.cancel()

    def _request_basis(self, basis: str) -> None:
        self.request.emit(m.ProjectionRequest(basis))

    def _on_selection_changed(self) -> None:
        result = self.state.result
        if result is None:
            return
        position = self.state.selection.position
        known = self.state.position_result
        if position != result.trace.n_tokens - 1 and not (
            known and known.trace_id == result.trace_id and known.position == position
        ):
            self.request.emit(m.PositionRequest(position, result.trace_id))

    # -- results ---------------------------------------------------------------------------------

    def _on_loaded(self, loaded: m.LoadedResult) -> None:
        if loaded.request_id != self._loading_id:
            return
        self._hide_busy()
        self.banner.hide()
        self.state.set_model(loaded)
        self.status_label.setText(loaded.info.summary())
        self.submit_prompt(self.prompt_panel.text(), self.prompt_panel.allow_special.isChecked())

    def _on_trace_ready(self, result: m.TraceResult) -> None:
        if result.action == "trace" and result.request_id != self._pending_trace_id:
            return  # a newer prompt is on its way
        if result.request_id < self._pending_trace_id:
            return
        if result.request_id == self._running_id and result.action == m.RUN and result.stop_reason is not None:
            self._end_run()
        self.state.set_trace(result)
        info = self.state.info
        self.status_label.setText(
            f"{info.name}: {result.trace.n_tokens} tokens traced" if info else f"{result.trace.n_tokens} tokens")

    def _end_run(self) -> None:
        self._running_id = 0
        self.generation_panel.set_running(False)
        self._hide_busy()

    def _on_projection_ready(self, result: m.ProjectionResult) -> None:
        if self.state.result is not None and result.points.shape[1] == self.state.result.trace.n_tokens:
            self.state.set_projection(result)

    def _on_surprisal_ready(self, result: m.SurprisalResult) -> None:
        if self.state.result is not None and len(result.bits) == self.state.result.trace.n_tokens:
            self.state.set_surprisal(result)

    def _on_progress(self, message: str, fraction: float) -> None:
        self.status_label.setText(message)
        if fraction < 0:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(fraction * 1000))

    def _on_failed(self, request_id: int, kind: str, message: str) -> None:
        if request_id == self._loading_id:
            self._hide_busy()
            self.status_label.setText("No model loaded." if self.state.info is None else self.state.info.summary())
        if request_id == self._running_id:
            self._end_run()
            if message == "Cancelled.":
                self.status_label.setText("Generation stopped.")
                return
        if kind == "trace" and request_id != self._pending_trace_id:
            return
        self.status_label.setText(message)
        self.banner.show_message(message)

    def _show_busy(self, message: str, cancellable: bool = True) -> None:
        self.status_label.setText(message)
        self.progress_bar.setRange(0, 0)
        self.progress_bar.show()
        self.cancel_button.setVisible(cancellable)

    def _hide_busy(self) -> None:
        self.progress_bar.hide()
        self.cancel_button.hide()

    def _about(self) -> None:
        import torch
        import transformers
        from PySide6 import __version__ as pyside_version

        info = self.state.info
        model = f"<p>Model: {info.name}<br>Licence: {info.licence}</p>" if info else ""
        QMessageBox.about(self, "About Logitscope",
                          "<h3>Logitscope</h3><p>A microscope for causal language models.</p>"
                          f"{model}<p>torch {torch.__version__} · transformers {transformers.__version__} · "
                          f"PySide6 {pyside_version}</p>")

    # -- shutdown --------------------------------------------------------------------------------

    def closeEvent(self, event) -> None:
        self.save_settings()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Cancel work, stop the worker thread and wait for it, so nothing runs after the window."""
        if self.thread_.isRunning():
            self.worker.cancel()
            self.thread_.quit()
            self.thread_.wait(30_000)
