"""The main window: docks, menus, status bar, and the wiring between state, panels and worker."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QEventLoop, Qt, QThread, QTimer, Signal
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

from desktop import export_actions, help_dialogs, lessons, presentation, sessions, themes
from desktop import messages as m
from desktop.panels import redraw_gate
from desktop.panels.anatomy_panel import AnatomyPanel
from desktop.panels.attention_panel import AttentionPanel
from desktop.panels.distribution_panel import DistributionPanel
from desktop.panels.embeddings_panel import EmbeddingsPanel
from desktop.panels.generation_panel import GenerationPanel
from desktop.panels.heads_panel import HeadsPanel
from desktop.panels.kv_cache_panel import KvCachePanel
from desktop.panels.lens_panel import LensPanel
from desktop.panels.mlp_panel import MlpPanel
from desktop.panels.model_panel import ModelPanel
from desktop.panels.prompt_panel import PromptPanel
from desktop.panels.qkv_panel import QKVPanel
from desktop.panels.tokenizer_panel import TokenizerPanel
from desktop.panels.trajectory_panel import TrajectoryPanel
from desktop.presets import DEFAULT_PROMPT
from desktop.settings import app_settings
from desktop.state import AppState
from desktop.worker import ModelWorker

LAYOUT_VERSION = 1
RUN_REDRAW_MS = 120  # during Run to end, redraw every panel at most this often


class MessageBanner(QWidget):
    """An inline, dismissable message: errors appear here, not as a pile of dialogs.

    It lives in a toolbar that is shown only while there is a message, so it takes no
    room otherwise; `visibility_changed` drives that toolbar.
    """

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


class MainWindow(QMainWindow):
    request = Signal(object)  # queued to the worker thread
    worker_idle = Signal()  # re-emitted in the GUI thread when the worker finished a request
    error_shown = Signal(str)  # a failure message reached the banner (GUI thread)

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
        self.first_start = True
        self._pending_run: m.TraceResult | None = None
        self._pending_projection: m.ProjectionResult | None = None
        self._run_timer = QTimer(self, singleShot=True, interval=RUN_REDRAW_MS)
        self._run_timer.timeout.connect(self._flush_run)

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
        self.worker.lens_ready.connect(self.state.set_lens)
        self.worker.lens_grid_ready.connect(self.state.set_lens_grid)
        self.worker.mlp_ready.connect(self.state.set_mlp)
        self.worker.anatomy_ready.connect(self.state.set_anatomy)
        self.worker.embeddings_ready.connect(self.state.set_embeddings)
        self.worker.kv_bench_ready.connect(self.state.set_kv_bench)
        self.worker.progress.connect(self._on_progress)
        self.worker.failed.connect(self._on_failed)
        self.worker.busy_changed.connect(self._on_busy_changed)
        self.thread_.start()

        # Panels.
        self.banner = MessageBanner()
        banner_bar = QToolBar("Messages")
        banner_bar.setObjectName("messages-bar")
        banner_bar.setMovable(False)
        banner_bar.addWidget(self.banner)
        banner_bar.toggleViewAction().setVisible(False)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, banner_bar)
        self.banner.visibility_changed.connect(banner_bar.setVisible)
        banner_bar.hide()

        self.prompt_panel = PromptPanel(self.state)
        self.attention_panel = AttentionPanel(self.state)
        self.trajectory_panel = TrajectoryPanel(self.state, self._request_basis)
        self.distribution_panel = DistributionPanel(self.state)
        self.generation_panel = GenerationPanel(self.state)
        self.model_panel = ModelPanel(self.state)
        self.lens_panel = LensPanel(self.state, lambda trace_id: self.request.emit(m.LensGridRequest(trace_id)),
                                    self._request_lens)
        self.qkv_panel = QKVPanel(self.state)
        self.heads_panel = HeadsPanel(self.state)
        self.tokenizer_panel = TokenizerPanel(self.state)
        # Inside the block: each panel asks the worker through a callable that returns the request id.
        self.mlp_panel = MlpPanel(self.state, lambda t, p, l_: self.send_request(m.MlpRequest(t, p, l_)))
        self.anatomy_panel = AnatomyPanel(self.state, lambda: self.send_request(m.AnatomyRequest()))
        self.embeddings_panel = EmbeddingsPanel(self.state, lambda texts: self.send_request(m.EmbeddingRequest(texts)))
        self.kv_cache_panel = KvCachePanel(self.state, lambda n: self.send_request(m.KvBenchRequest(n)), self.cancel)
        self.docks: dict[str, QDockWidget] = {}
        self._build_docks()
        self._build_status_bar()
        self._build_menus()
        for feature in (themes, presentation, lessons):  # View ▸ Theme, presentation mode (F5), Lesson dock
            feature.install(self)
        self.sessions = sessions.install(self)  # File ▸ sessions, recent lists, autosave + crash recovery
        for feature in (export_actions, help_dialogs):  # File ▸ Export panel/trace/tokens, Help ▸ Shortcuts
            feature.install(self)
        self._default_state = self.saveState(LAYOUT_VERSION)

        self.prompt_panel.prompt_submitted.connect(self.submit_prompt)
        self.generation_panel.action_requested.connect(self.generation_action)
        self.generation_panel.stop_requested.connect(self.cancel)
        self.model_panel.load_requested.connect(self.load_model)
        self.anatomy_panel.part_clicked.connect(self.raise_dock)
        self.worker.failed.connect(lambda rid, _kind, msg: self.kv_cache_panel.on_failed(rid, msg))
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
        """Every dock gets a unique objectName so saveState/restoreState just work, and tells a panel
        with `set_shown` whether it can be seen."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{key}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        self.docks[key] = dock
        set_shown = getattr(widget, "set_shown", None)
        if callable(set_shown):  # the panel draws only while its tab is in front (panels/redraw_gate.py)
            dock.visibilityChanged.connect(set_shown)
        return dock

    def _build_docks(self) -> None:
        """Prompt across the top, generation across the bottom, attention left, trajectories and
        the distribution right; on short screens the right pair shares one tabbed dock."""
        area = Qt.DockWidgetArea
        for corner, where in ((Qt.Corner.TopLeftCorner, area.TopDockWidgetArea),
                              (Qt.Corner.TopRightCorner, area.TopDockWidgetArea),
                              (Qt.Corner.BottomLeftCorner, area.BottomDockWidgetArea),
                              (Qt.Corner.BottomRightCorner, area.BottomDockWidgetArea)):
            self.setCorner(corner, where)
        prompt = self.add_dock("prompt", "Prompt && tokens", self.prompt_panel, area.TopDockWidgetArea)
        self.add_dock("generation", "Generation", self.generation_panel, area.BottomDockWidgetArea)
        attention = self.add_dock("attention", "Attention", self.attention_panel, area.LeftDockWidgetArea)
        trajectories = self.add_dock("trajectories", "Token trajectories", self.trajectory_panel,
                                     area.RightDockWidgetArea)
        distribution = self.add_dock("distribution", "Next-token distribution", self.distribution_panel,
                                     area.RightDockWidgetArea)
        model = self.add_dock("model", "Model", self.model_panel, area.RightDockWidgetArea)
        screen = self.screen().availableGeometry()
        if screen.height() < presentation.SHORT_SCREEN:  # the same rule presentation mode applies to its large type
            self.tabifyDockWidget(trajectories, distribution)
        else:
            self.splitDockWidget(trajectories, distribution, Qt.Orientation.Vertical)
        self.tabifyDockWidget(distribution, model)
        # Deeper views: tabbed behind the main panels so the default layout stays tidy.
        lens = self.add_dock("lens", "Logit lens", self.lens_panel, area.RightDockWidgetArea)
        qkv = self.add_dock("qkv", "Q/K/V", self.qkv_panel, area.LeftDockWidgetArea)
        heads = self.add_dock("heads", "All heads", self.heads_panel, area.LeftDockWidgetArea)
        tokenizers = self.add_dock("tokenizers", "Tokenizers && BPE", self.tokenizer_panel, area.TopDockWidgetArea)
        self.tabifyDockWidget(model, lens)
        self.tabifyDockWidget(attention, heads)
        self.tabifyDockWidget(heads, qkv)
        self.tabifyDockWidget(prompt, tokenizers)
        # Inside the block: MLP and anatomy behind attention, embeddings and the KV cache behind the model.
        mlp = self.add_dock("mlp", "MLP && neurons", self.mlp_panel, area.LeftDockWidgetArea)
        anatomy = self.add_dock("anatomy", "Anatomy", self.anatomy_panel, area.LeftDockWidgetArea)
        embeddings = self.add_dock("embeddings", "Embeddings", self.embeddings_panel, area.RightDockWidgetArea)
        kv_cache = self.add_dock("kv_cache", "KV cache", self.kv_cache_panel, area.RightDockWidgetArea)
        self.tabifyDockWidget(qkv, mlp)
        self.tabifyDockWidget(mlp, anatomy)
        self.tabifyDockWidget(lens, embeddings)
        self.tabifyDockWidget(embeddings, kv_cache)
        attention.raise_()
        prompt.raise_()
        distribution.raise_()
        self._sized = False

    def _apply_default_sizes(self) -> None:
        """Dock sizes only take once the window has its real size, so this runs on first show."""
        docks = self.docks
        height, width = self.height(), self.width()
        self.resizeDocks([docks["prompt"], docks["generation"]], [int(height * 0.16), int(height * 0.13)],
                         Qt.Orientation.Vertical)
        self.resizeDocks([docks["attention"], docks["trajectories"]], [width // 2, width // 2],
                         Qt.Orientation.Horizontal)
        if not self.tabifiedDockWidgets(docks["trajectories"]):
            middle = int(height * 0.6)
            self.resizeDocks([docks["trajectories"], docks["distribution"]], [middle * 9 // 20, middle * 11 // 20],
                             Qt.Orientation.Vertical)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._sized:
            self._sized = True
            if self.first_start:
                QTimer.singleShot(0, self._apply_default_sizes)

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
        self._apply_default_sizes()

    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        self.first_start = not isinstance(geometry, QByteArray)
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:  # first start: fill the screen, whatever its size (maximised where a window manager can)
            self.setGeometry(self.screen().availableGeometry())
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
            redraw_gate.stagger(True)  # panels redraw one per event-loop turn while it runs
            self.generation_panel.set_running(True)
            self._show_busy("Generating…", cancellable=True)
        self.request.emit(request)

    def wait_for_lens(self, timeout_ms: int = 30_000) -> bool:
        """Ask for the current trace's logit lens and wait for it, keeping the window alive
        (the lens is otherwise computed only when its panel is shown)."""
        result = self.state.result
        if result is None or result.trace.has_lens:
            return result is not None
        loop = QEventLoop()
        self.state.lens_changed.connect(loop.quit)
        self.worker.failed.connect(loop.quit)
        QTimer.singleShot(timeout_ms, loop.quit)
        self._request_lens(result.trace_id, result.trace.n_tokens - 1)
        loop.exec()
        self.state.lens_changed.disconnect(loop.quit)
        self.worker.failed.disconnect(loop.quit)
        return self.state.trace is not None and self.state.trace.has_lens

    def send_request(self, request) -> int:
        """Queue a request to the worker; the id lets the asking panel drop stale answers."""
        self.request.emit(request)
        return request.id

    def raise_dock(self, key: str) -> None:
        """Show and bring a dock to the front (the anatomy diagram's clicks land here)."""
        dock = self.docks.get(key)
        if dock is not None:
            dock.show()
            dock.raise_()

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
        ):  # the lens there (L+1 rows against the vocabulary) only if its panel is shown
            self.request.emit(m.PositionRequest(position, result.trace_id, lens=self.lens_panel.gate.shown))

    def _request_lens(self, trace_id: int, position: int) -> None:
        """The lens panel asks for the lens it lacks: at the last position, or at another one."""
        result = self.state.result
        if result is not None and position != result.trace.n_tokens - 1:
            self.request.emit(m.PositionRequest(position, trace_id, lens=True))
        else:
            self.request.emit(m.LensRequest(trace_id))

    # -- results ---------------------------------------------------------------------------------

    def _on_loaded(self, loaded: m.LoadedResult) -> None:
        if loaded.request_id != self._loading_id:
            return
        self._hide_busy()
        self.banner.dismiss()
        self.state.set_model(loaded)
        self.status_label.setText(loaded.info.summary())
        self.submit_prompt(self.prompt_panel.text(), self.prompt_panel.allow_special.isChecked())

    def _on_trace_ready(self, result: m.TraceResult) -> None:
        if result.action == "trace" and result.request_id != self._pending_trace_id:
            return  # a newer prompt is on its way
        if result.request_id < self._pending_trace_id:
            return
        if result.action == m.RUN and result.request_id == self._running_id and result.stop_reason is None:
            # Run to end produces traces faster than every panel can redraw: show the newest one
            # at most every RUN_REDRAW_MS, so the window keeps responding.
            self._pending_run = result
            if not self._run_timer.isActive():
                self._run_timer.start()
            return
        self._pending_run = self._pending_projection = None
        if result.request_id == self._running_id and result.action == m.RUN:
            self._end_run()
        self._apply_trace(result)

    def _flush_run(self) -> None:
        result, projection = self._pending_run, self._pending_projection
        self._pending_run = self._pending_projection = None
        if result is not None and result.request_id == self._running_id:
            self._apply_trace(result)
            if projection is not None and projection.points.shape[1] == result.trace.n_tokens:
                self.state.set_projection(projection)

    def _apply_trace(self, result: m.TraceResult) -> None:
        if result.action == "trace":
            self.banner.dismiss()  # the prompt works now; an old complaint would mislead
        self.state.set_trace(result)
        info = self.state.info
        self.status_label.setText(
            f"{info.name}: {result.trace.n_tokens} tokens traced" if info else f"{result.trace.n_tokens} tokens")

    def _end_run(self) -> None:
        self._running_id = 0
        redraw_gate.stagger(False)
        self.generation_panel.set_running(False)
        self._hide_busy()

    def _on_projection_ready(self, result: m.ProjectionResult) -> None:
        pending = self._pending_run
        if pending is not None and result.points.shape[1] == pending.trace.n_tokens:
            self._pending_projection = result
            return
        if self.state.result is not None and result.points.shape[1] == self.state.result.trace.n_tokens:
            self.state.set_projection(result)

    def _on_surprisal_ready(self, result: m.SurprisalResult) -> None:
        if self.state.result is not None and len(result.bits) == self.state.result.trace.n_tokens:
            self.state.set_surprisal(result)

    def _on_busy_changed(self, busy: bool) -> None:
        if not busy:
            self.worker_idle.emit()

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
        self.error_shown.emit(message)

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
        self.sessions.mark_clean()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Cancel work, stop the worker thread and wait for it, so nothing runs after the window."""
        if self._running_id:
            redraw_gate.stagger(False, draw=False)
        if self.thread_.isRunning():
            self.worker.cancel()
            self.thread_.quit()
            self.thread_.wait(30_000)
