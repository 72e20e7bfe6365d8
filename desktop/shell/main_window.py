"""The main window: the host of docks, menus, the banner and the status bar.

It builds the core (`ViewContext`: state, model client, redraw stagger, trace controller),
one panel per entry of `docks.PANELS`, the menus with their anchors, and installs the
features of `features.FEATURES` in that order. The wiring between panels and the trace
controller is the few lines in `_connect`; everything else goes through the context.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QTabBar, QWidget

from desktop.core.context import make_context
from desktop.core.presets import DEFAULT_PROMPT
from desktop.core.requests import tracing as t
from desktop.core.settings import app_settings
from desktop.shell import docks as dock_layout
from desktop.shell.banner import install_banner
from desktop.shell.features import FEATURES
from desktop.shell.menus import Menus
from desktop.shell.status_bar import BusyStatus

LAYOUT_VERSION = 2  # 2: Tokenizers & BPE and the logit lens moved behind Attention
# The model thread starts once the window has been drawn. Its first job imports torch and transformers,
# which hold the GIL for seconds: begun at once, it held the window's first full frame back by 0.3 s
# (measured: the docks paint within ~50 ms of the window's first paint event when nothing competes),
# and the first trace came no sooner.
WORKER_START_AFTER_PAINT_MS = 100
WORKER_START_FALLBACK_MS = 1000  # a window that is never shown


class MainWindow(QMainWindow):
    error_shown = Signal(str)  # a failure message reached the banner (GUI thread)

    def __init__(self, model: str | None = None, device: str | None = None, prompt: str | None = None,
                 restore: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("Logitscope")
        self.setDockNestingEnabled(True)
        self.settings = app_settings()
        self.layout_version = LAYOUT_VERSION
        self.first_start = True
        self.ctx = make_context(self, start_worker=False)  # started in `event` (WORKER_START_AFTER_PAINT_MS)
        self.state, self.client, self.traces = self.ctx.state, self.ctx.client, self.ctx.traces
        QTimer.singleShot(WORKER_START_FALLBACK_MS, self.client, self.client.start)
        self._worker_start_asked = False

        self.banner = install_banner(self)
        self.busy = BusyStatus(self.statusBar())
        self.status_label = self.busy.label
        self.progress_bar = self.busy.progress_bar
        self.cancel_button = self.busy.cancel_button
        self.menus = Menus(self.menuBar(), self)

        self.docks: dict[str, QDockWidget] = {}
        self._panels: dict[str, QWidget] = {}
        dock_layout.set_corners(self)
        for spec in dock_layout.PANELS:
            self.add_dock(spec.key, spec.title, spec.panel(self.ctx), spec.area)
            dock_layout.place(self, self.docks, spec.key)
        dock_layout.raise_fronts(self.docks)
        # The panels the window itself wires, by name.
        self.prompt_panel = self.panel("prompt")
        self.generation_panel = self.panel("generation")
        self.attention_panel = self.panel("attention")
        self.trajectory_panel = self.panel("trajectories")
        self.distribution_panel = self.panel("distribution")
        self.model_panel = self.panel("model")
        self.lens_panel = self.panel("lens")
        self.qkv_panel = self.panel("qkv")
        self.heads_panel = self.panel("heads")
        self.tokenizer_panel = self.panel("tokenizers")
        self.mlp_panel = self.panel("mlp")
        self.experts_panel = self.panel("experts")
        self.anatomy_panel = self.panel("anatomy")
        self.embeddings_panel = self.panel("embeddings")
        self.kv_cache_panel = self.panel("kv_cache")
        self._sized = False
        self._build_menus()
        self._features: dict[str, object] = {}
        for feature in FEATURES:
            self._features[feature.NAME] = feature.install(self)
        self._default_state = self.saveState(LAYOUT_VERSION)
        self._connect()

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
        if restore:
            self.model_panel.set_dtype(str(self.settings.value("model/dtype", "float32")))
        self.load_model(str(model), str(device))

    def _connect(self) -> None:
        traces, busy = self.traces, self.busy
        traces.busy.connect(busy.show_busy)
        traces.done.connect(busy.hide_busy)
        traces.progressed.connect(busy.show_progress)
        traces.status.connect(self.status_label.setText)
        traces.failed.connect(self.show_message)
        traces.succeeded.connect(self.banner.dismiss)
        traces.loaded.connect(self.submit_prompt)
        self.client.progress.connect(busy.show_progress)
        self.client.error_reported.connect(self.show_message)
        busy.cancel_button.clicked.connect(self.cancel)
        self.prompt_panel.prompt_submitted.connect(self.submit_prompt)
        self.prompt_panel.chat_submitted.connect(self.submit_chat)
        self.prompt_panel.mode_changed.connect(self._on_prompt_mode)
        self.generation_panel.action_requested.connect(self.generation_action)
        self.generation_panel.stop_requested.connect(self.cancel)
        self.model_panel.load_requested.connect(self.load_model)
        self.anatomy_panel.part_clicked.connect(self.raise_dock)
        self.mlp_panel.dock_requested.connect(self.raise_dock)

    # -- the host surface (desktop/core/host.py) ---------------------------------------------------

    def panel(self, key: str) -> QWidget:
        return self._panels[key]

    def menu(self, name: str):
        return self.menus.menu(name)

    def add_menu_item(self, anchor: str, item) -> None:
        self.menus.add(anchor, item)

    def feature(self, name: str) -> object | None:
        return self._features.get(name)

    def add_dock(self, key: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        """Every dock gets a unique objectName so saveState/restoreState just work, a View toggle,
        and tells a panel with `set_shown` whether it can be seen (panels draw only then)."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{key}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        self.docks[key] = dock
        self._panels[key] = widget
        set_shown = getattr(widget, "set_shown", None)
        if callable(set_shown):
            dock.visibilityChanged.connect(set_shown)
        self.add_menu_item("view.docks", dock.toggleViewAction())
        return dock

    def raise_dock(self, key: str) -> None:
        """Show and bring a dock to the front (the anatomy diagram's clicks and lessons land here);
        in presentation mode, put it in the main view."""
        presentation = self.presentation
        if presentation is not None and presentation.active and presentation.show_view(key):
            return
        dock = self.docks.get(key)
        if dock is not None:
            dock.show()
            dock.raise_()

    def apply_default_sizes(self) -> None:
        dock_layout.apply_default_sizes(self, self.docks)

    def show_message(self, text: str) -> None:
        self.banner.show_message(text)
        self.error_shown.emit(text)

    def show_status(self, text: str) -> None:
        """A confirmation or progress line: the status bar, or the key legend in presentation mode
        (where the status bar is hidden, so an export would otherwise confirm nothing)."""
        self.status_label.setText(text)
        presentation = self.presentation
        if presentation is not None and presentation.active:
            presentation.notify(text)

    # the features, by name
    @property
    def sessions(self):
        return self.feature("sessions")

    @property
    def presentation(self):
        return self.feature("presentation")

    @property
    def themes(self):
        return self.feature("themes")

    @property
    def lessons(self):
        return self.feature("lessons")

    @property
    def notices(self):
        return self.feature("notices")

    # -- layout ----------------------------------------------------------------------------------

    def event(self, event) -> bool:
        handled = super().event(event)
        if event.type() == QEvent.Type.Paint and not getattr(self, "_worker_start_asked", True):
            self._worker_start_asked = True
            QTimer.singleShot(WORKER_START_AFTER_PAINT_MS, self.client, self.client.start)
        return handled

    def childEvent(self, event) -> None:
        """Tabs of docks keep their whole title ("Logit lens", not "Log…"): when they do not fit,
        the tab bar scrolls instead (Qt makes these tab bars as docks get tabbed)."""
        super().childEvent(event)
        if event.type() == QEvent.Type.ChildPolished and isinstance(event.child(), QTabBar):
            event.child().setElideMode(Qt.TextElideMode.ElideNone)
            event.child().setUsesScrollButtons(True)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._sized:
            self._sized = True
            self.fit_to_screen()
            QTimer.singleShot(0, self.fit_to_screen)  # once a window manager has placed it
            if self.first_start:
                QTimer.singleShot(0, self.apply_default_sizes)

    def fit_to_screen(self) -> None:
        """Keep the window inside its screen's available area, frame included.

        With no window manager (or one that does not enforce it) nothing else does: a restored
        geometry from a larger screen, or docks whose smallest sizes add up to more than the
        screen, would push Generation and Lesson below its edge. The window's minimum size is
        capped at the screen too, so the docks share what there is instead.
        """
        if self.isFullScreen():
            return
        screen = self.screen()
        if screen is None:
            return
        available = screen.availableGeometry()
        frame, inner = self.frameGeometry(), self.geometry()
        extra_w, extra_h = frame.width() - inner.width(), frame.height() - inner.height()
        room_w, room_h = available.width() - extra_w, available.height() - extra_h
        hint = self.layout().minimumSize() if self.layout() is not None else self.minimumSizeHint()
        self.setMinimumSize(min(hint.width(), room_w), min(hint.height(), room_h))
        if self.isMaximized() and available.contains(frame):
            return  # a window manager maximized it; with none, "maximized" is only a flag
        width, height = min(inner.width(), room_w), min(inner.height(), room_h)
        x = min(max(frame.x(), available.x()), available.x() + available.width() - (width + extra_w))
        y = min(max(frame.y(), available.y()), available.y() + available.height() - (height + extra_h))
        if (x, y, width, height) != (frame.x(), frame.y(), inner.width(), inner.height()):
            self.setGeometry(x + inner.x() - frame.x(), y + inner.y() - frame.y(), width, height)

    def _build_menus(self) -> None:
        open_model = QAction("Open model…", self, shortcut=QKeySequence.StandardKey.Open)
        open_model.setToolTip("A GGUF file, or a Hugging Face model folder (pick its config.json)")
        open_model.triggered.connect(self.model_panel.open_file)
        open_folder = QAction("Open model folder…", self, shortcut=QKeySequence("Ctrl+Alt+O"))
        open_folder.triggered.connect(self.model_panel.open_folder)
        self.add_menu_item("file.models", open_model)
        self.add_menu_item("file.models", open_folder)
        quit_action = QAction("Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        self.add_menu_item("file.quit", quit_action)

        for label, action, keys in (("Step (greedy)", t.STEP, "F8"), ("Sample", t.SAMPLE, "F9"),
                                    ("Undo", t.UNDO, "Shift+F8"), ("Reset", t.RESET, "Ctrl+R"),
                                    ("Run to end", t.RUN, "F10")):
            act = QAction(label, self, shortcut=QKeySequence(keys))
            act.triggered.connect(lambda _c=False, a=action: self.generation_action(a))
            self.add_menu_item("generate.actions", act)
            if action == t.RUN:  # the menu says the run mode too, as the button does
                panel = self.generation_panel
                panel.run_mode.currentIndexChanged.connect(
                    lambda _i, a=act, p=panel: a.setText(f"Run to end ({p.run_mode.currentText()})"))
                act.setText(f"Run to end ({panel.run_mode.currentText()})")
        cancel = QAction("Cancel", self, shortcut=QKeySequence("Esc"))
        cancel.triggered.connect(self.cancel)
        self.add_menu_item("generate.cancel", cancel)

        select = self.state.select
        for label, keys, slot in (
            ("Next layer", "Alt+Down", lambda: select(layer=self.state.selection.layer + 1)),
            ("Previous layer", "Alt+Up", lambda: select(layer=self.state.selection.layer - 1)),
            ("Next head", "Alt+Right", lambda: select(head=self.state.selection.head + 1)),
            ("Previous head", "Alt+Left", lambda: select(head=self.state.selection.head - 1)),
            ("Next token", "Alt+Shift+Right", lambda: select(position=self.state.selection.position + 1)),
            ("Previous token", "Alt+Shift+Left", lambda: select(position=self.state.selection.position - 1)),
        ):
            act = QAction(label, self, shortcut=QKeySequence(keys))
            act.triggered.connect(slot)
            self.add_menu_item("view.navigation", act)
        reset = QAction("Reset layout", self)
        reset.triggered.connect(self.reset_layout)
        self.add_menu_item("view.layout", reset)

        about = QAction("About Logitscope", self)
        about.triggered.connect(self._about)
        self.add_menu_item("help.about", about)

    def reset_layout(self) -> None:
        for dock in self.docks.values():
            dock.setFloating(False)
            dock.show()
        self.restoreState(self._default_state, LAYOUT_VERSION)
        self.apply_default_sizes()

    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        self.first_start = not isinstance(geometry, QByteArray)
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)  # fit_to_screen on show: the screen may be smaller now
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
        self.settings.setValue("model/dtype", self.state.info.dtype if self.state.info is not None
                               else self.model_panel.load_options().dtype)
        self.settings.sync()

    # -- asking the model (through the trace controller) --------------------------------------------

    def load_model(self, spec: str, device: str = "auto", options: t.LoadOptions | None = None) -> None:
        """Load a model; `options` (dtype, memory budget, offload folder) default to the Model panel's."""
        self.traces.load(spec, device, options if options is not None else self.model_panel.load_options())

    def submit_prompt(self, text: str | None = None, allow_special: bool | None = None) -> bool:
        """Trace `text` (default: what the prompt panel holds: its text, or in chat mode its
        conversation) as the new prompt."""
        if allow_special is None:
            allow_special = self.prompt_panel.allow_special.isChecked()
        if text is None and self.prompt_panel.mode == "chat":
            if self.state.info is not None and not self.state.chat.has_template:
                # a model without a chat template (the chat page says so): show what it can read, the text
                return self.traces.submit(self.prompt_panel.text(), allow_special)
            return self.submit_chat(self.prompt_panel.conversation(), allow_special)
        text = self.prompt_panel.text() if text is None else text
        self.traces.max_new_tokens = self.generation_panel.max_new.value()
        return self.traces.submit(text, allow_special)

    def submit_chat(self, conversation, allow_special: bool = False) -> bool:
        """Trace a conversation through the model's chat template as the new prompt."""
        self.traces.max_new_tokens = self.generation_panel.max_new.value()
        return self.traces.submit_chat(conversation, allow_special)

    def generation_action(self, action: str) -> bool:
        """Step, sample, undo, reset or run to the end (`tracing.ACTIONS`); False if nothing was asked.
        Run to end is greedy or sampled as the Generation panel's run mode says."""
        self.traces.max_new_tokens = self.generation_panel.max_new.value()
        return self.traces.act(action, self.state.settings)

    def cancel(self) -> None:
        self.client.cancel()

    def _on_prompt_mode(self, mode: str) -> None:
        """A conversation and its chips need more room than a line of text: the prompt row grows."""
        dock = self.docks["prompt"]
        if dock.isFloating() or not dock.isVisible():
            return
        presenting = self.presentation is not None and self.presentation.active
        if presenting:
            self.presentation.fit_docks()
            return
        share = dock_layout.CHAT_PROMPT_SHARE if mode == "chat" else dock_layout.PROMPT_SHARE
        self.resizeDocks([dock], [int(self.height() * share)], Qt.Orientation.Vertical)

    def _about(self) -> None:
        from importlib.metadata import PackageNotFoundError, version

        def of(package: str) -> str:  # read from the install, without importing torch into this thread
            try:
                return version(package)
            except PackageNotFoundError:
                return "?"

        info = self.state.info
        model = f"<p>Model: {info.name}<br>Licence: {info.licence}</p>" if info else ""
        QMessageBox.about(self, "About Logitscope",
                          "<h3>Logitscope</h3><p>A microscope for causal language models.</p>"
                          f"{model}<p>torch {of('torch')} · transformers {of('transformers')} · "
                          f"PySide6 {of('PySide6-Essentials')}</p>")

    # -- shutdown --------------------------------------------------------------------------------

    def closeEvent(self, event) -> None:
        self.save_settings()
        sessions = self.sessions
        if sessions is not None:
            sessions.mark_clean()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Cancel work, stop the worker thread and wait for it, so nothing runs after the window."""
        self.traces.shutdown()
        self.client.shutdown()
