"""Sessions: save and reopen what the user was looking at; autosave and crash recovery.

A session file (``*.logitscope.json``) is small JSON: the model spec and device, the
prompt, the generated token ids, the sampling settings, the selection and the dock
layout. Reopening loads the model if needed, traces the prompt and replays the
generated ids exactly (``ReplayRequest``), so sampled text comes back token for token.

The current session is autosaved (debounced) to the per-user data folder, one file per running
instance (`session_recovery.py`), so two windows never overwrite each other's. An autosave left by
an instance that did not exit cleanly is offered back at the next start; several are listed.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QListWidget,
    QMenu,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from desktop.core.host import Host
from desktop.core.requests.tracing import RUN, TraceRequest
from desktop.features import recent
from desktop.features.session_recovery import InstanceAutosave, data_dir, recover_crashed
from model_core.analysis.sampling import SamplingSettings
from model_core.errors import LogitscopeError
from model_core.output_files import write_text_atomically

FORMAT = "logitscope-session"
VERSION = 1
SUFFIX = ".logitscope.json"
FILE_FILTER = "Logitscope sessions (*.logitscope.json);;JSON files (*.json);;All files (*)"
CHANGE_DELAY_MS = 2000  # autosave this long after the last change
TRACE_DELAY_MS = 200  # ...and almost at once after every trace


class SessionError(ValueError):
    """A session file that cannot be used; the message is for the user."""


# -- the file format -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    model: str
    device: str
    prompt: str
    allow_special: bool
    generated_ids: tuple[int, ...]
    sampling: SamplingSettings
    max_new_tokens: int
    position: int
    layer: int
    head: int
    follow_last: bool
    layout: str  # base64 of QMainWindow.saveState()
    layout_version: int
    visible_docks: dict[str, bool]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "saved_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "model": {"spec": self.model, "device": self.device},
            "prompt": {"text": self.prompt, "allow_special": self.allow_special},
            "generated_ids": list(self.generated_ids),
            "sampling": asdict(self.sampling),
            "max_new_tokens": self.max_new_tokens,
            "selection": {"position": self.position, "layer": self.layer, "head": self.head,
                          "follow_last": self.follow_last},
            "layout": {"state": self.layout, "version": self.layout_version, "visible": self.visible_docks},
        }

    @classmethod
    def from_json(cls, data: object) -> Session:
        """Validate a parsed session file; raises SessionError saying what is wrong."""
        try:
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise SessionError("it is not a Logitscope session file")
            if not isinstance(data.get("version"), int) or data["version"] > VERSION:
                raise SessionError("it was written by a newer Logitscope")
            model, prompt, sel = data["model"], data["prompt"], data["selection"]
            layout = data.get("layout") or {}
            sampling = data["sampling"]
            session = cls(
                model=_typed(model["spec"], str, "model"),
                device=_typed(model.get("device", "auto"), str, "device"),
                prompt=_typed(prompt["text"], str, "prompt"),
                allow_special=_typed(prompt.get("allow_special", False), bool, "allow_special"),
                generated_ids=tuple(_typed(i, int, "generated_ids") for i in data.get("generated_ids", [])),
                sampling=SamplingSettings(
                    float(_typed(sampling["temperature"], (int, float), "temperature")),
                    _typed(sampling["top_k"], int, "top_k"),
                    float(_typed(sampling["top_p"], (int, float), "top_p")),
                    _typed(sampling["seed"], int, "seed"),
                ).validated(),
                max_new_tokens=_typed(data.get("max_new_tokens", 20), int, "max_new_tokens"),
                position=_typed(sel.get("position", 0), int, "position"),
                layer=_typed(sel.get("layer", 0), int, "layer"),
                head=_typed(sel.get("head", 0), int, "head"),
                follow_last=_typed(sel.get("follow_last", True), bool, "follow_last"),
                layout=_typed(layout.get("state", ""), str, "layout"),
                layout_version=_typed(layout.get("version", 1), int, "layout version"),
                visible_docks={str(k): bool(v) for k, v in _typed(layout.get("visible", {}), dict, "visible").items()},
            )
        except SessionError:
            raise
        except (KeyError, TypeError, AttributeError) as exc:
            raise SessionError(f"it is missing or has a wrong field ({exc})") from exc
        except ValueError as exc:  # SamplingSettings.validated
            raise SessionError(str(exc)) from exc
        if not session.prompt:
            raise SessionError("its prompt is empty")
        if any(i < 0 for i in session.generated_ids) or session.max_new_tokens < 1:
            raise SessionError("its token ids or maximum length are out of range")
        return session


def _typed(value, kinds, name: str):
    if isinstance(value, bool) and kinds in (int, (int, float)):
        raise SessionError(f"field '{name}' has the wrong type")
    if not isinstance(value, kinds):
        raise SessionError(f"field '{name}' has the wrong type")
    return value


def read_session(path: str | Path) -> Session:
    """Read and validate a session file; SessionError for a missing, unreadable or corrupt one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SessionError("the file does not exist") from exc
    except OSError as exc:
        raise SessionError(exc.strerror or str(exc)) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SessionError("it is not valid JSON (the file may be damaged)") from exc
    return Session.from_json(data)


def capture_session(window: Host) -> Session:
    """The window's current session. Generated ids are kept only while the trace belongs to the
    prompt in the editor (an edited but untraced prompt would make them meaningless)."""
    state = window.state
    prompt_panel = window.panel("prompt")
    text = prompt_panel.text()
    trace = state.trace
    generated: tuple[int, ...] = ()
    if trace is not None:
        traced_prompt = trace.prompt_text
        if traced_prompt == text:
            generated = tuple(int(i) for i in trace.tokens.ids[trace.n_prompt:])
    sel = state.selection
    layout = bytes(window.saveState(window.layout_version).data())
    return Session(
        model=state.info.source if state.info else "builtin",
        device=window.panel("model").device.currentText(),
        prompt=text,
        allow_special=prompt_panel.allow_special.isChecked(),
        generated_ids=generated,
        sampling=state.settings,
        max_new_tokens=window.panel("generation").max_new.value(),
        position=sel.position,
        layer=sel.layer,
        head=sel.head,
        follow_last=sel.follow_last,
        layout=base64.b64encode(layout).decode("ascii"),
        layout_version=window.layout_version,
        visible_docks={key: dock.toggleViewAction().isChecked() for key, dock in window.docks.items()},
    )


def save_session(window: Host, path: str | Path) -> Path:
    """Write the window's session to `path` (adds the .logitscope.json extension if missing)."""
    path = Path(path)
    if not path.name.endswith(".json"):
        path = path.with_name(path.name + SUFFIX)
    write_text_atomically(path, json.dumps(capture_session(window).to_json(), ensure_ascii=False, indent=1))
    return path


# -- the controller ----------------------------------------------------------------------------------


class SessionController(QObject):
    """Save/open menu actions, the restore sequence, autosave and the crash marker of one window."""

    restored = Signal(str)  # path: the session is fully back (prompt traced, tokens replayed, selection set)
    saved = Signal(str)

    def __init__(self, window: Host) -> None:
        super().__init__(window)
        self.window = window
        self.folder = data_dir()
        self.autosave = InstanceAutosave(self.folder)
        # Sessions of instances that ended without a clean exit, newest first (moved aside to recovered/).
        try:
            self.recovery_paths: list[Path] = recover_crashed(self.folder, keep=self.autosave.id)
        except OSError:
            self.recovery_paths = []
        self.recovery_box = None
        self.autosave_enabled = True
        self._restoring: Session | None = None
        self._restoring_path = ""
        self._stage = ""
        self.recent_prompts = recent.RecentList(window.settings, recent.PROMPTS_KEY)
        self.recent_sessions = recent.RecentList(window.settings, recent.SESSIONS_KEY)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.autosave_now)
        state = window.state
        state.trace_changed.connect(self._on_trace_changed)
        state.selection_changed.connect(self._schedule_autosave)
        state.settings_changed.connect(self._schedule_autosave)
        window.panel("prompt").editor.textChanged.connect(self._schedule_autosave)
        window.panel("generation").max_new.valueChanged.connect(lambda _value: self._schedule_autosave())
        window.traces.failed.connect(self._on_failed)

    @property
    def restoring(self) -> bool:
        """A session is being reopened (its prompt traced or its tokens replayed) right now."""
        return self._restoring is not None

    # -- menus ---------------------------------------------------------------------------------

    def build_menu(self) -> None:
        window = self.window
        open_action = QAction("Open session…", window, shortcut=QKeySequence("Ctrl+Shift+O"))
        open_action.triggered.connect(self.open_dialog)
        save_action = QAction("Save session…", window, shortcut=QKeySequence.StandardKey.Save)
        save_action.triggered.connect(self.save_dialog)
        sessions_menu = QMenu("Recent sessions", window)
        sessions_menu.aboutToShow.connect(lambda: recent.fill_menu(
            sessions_menu, self.recent_sessions, self._open_recent, "No recent sessions"))
        prompts_menu = QMenu("Recent prompts", window)
        prompts_menu.aboutToShow.connect(lambda: recent.fill_menu(
            prompts_menu, self.recent_prompts, lambda text: window.panel("prompt").set_text(text), "No recent prompts"))
        for item in (open_action, save_action, sessions_menu, prompts_menu):
            window.add_menu_item("file.sessions", item)
        self.menus = {"sessions": sessions_menu, "prompts": prompts_menu}

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open session", "", FILE_FILTER)
        if path:
            self.restore(path)

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Save session", "session" + SUFFIX, FILE_FILTER)
        if path:
            self.save(path)

    def _open_recent(self, path: str) -> None:
        if not Path(path).is_file():
            self.recent_sessions.remove(path)
            self.window.show_message(f"The session {path} no longer exists; it was taken off the list.")
            return
        self.restore(path)

    # -- save / restore ------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path | None:
        """Save the session to `path`; a failure shows in the banner and returns None."""
        try:
            written = save_session(self.window, path)
        except LogitscopeError as exc:  # a folder, an unwritable place, a full disk: already a sentence
            self.window.show_message(f"Could not save the session: {exc}")
            return None
        except OSError as exc:
            self.window.show_message(f"Could not save the session to {path}: {exc.strerror or exc}")
            return None
        self.recent_sessions.add(str(written))
        self.saved.emit(str(written))
        return written

    def restore(self, path: str | Path) -> bool:
        """Start reopening a session; `restored` is emitted when it is fully back. A bad file shows
        in the banner and changes nothing."""
        try:
            session = read_session(path)
        except SessionError as exc:
            self.window.show_message(f"Could not open the session {path}: {exc}.")
            return False
        window = self.window
        self._restoring, self._restoring_path, self._stage = session, str(path), "trace"
        if Path(path).resolve().parent != (self.folder / "recovered").resolve():
            self.recent_sessions.add(str(path))
        self._apply_layout(session)
        window.state.set_settings(session.sampling)
        window.panel("generation").max_new.setValue(max(session.max_new_tokens, len(session.generated_ids)))
        prompt = window.panel("prompt")
        prompt.allow_special.blockSignals(True)
        prompt.allow_special.setChecked(session.allow_special)
        prompt.allow_special.blockSignals(False)
        prompt.set_text(session.prompt, submit=False)
        info = window.state.info
        model_panel = window.panel("model")
        if info is None or info.source != session.model or model_panel.device.currentText() != session.device:
            if session.model != "builtin":
                model_panel.add_source(session.model)
            model_panel.device.setCurrentText(session.device)
            window.traces.load(session.model, session.device)  # traces the prompt once loaded
        else:
            window.traces.submit(session.prompt, session.allow_special)
        return True

    def _apply_layout(self, session: Session) -> None:
        if not session.layout:
            return
        window = self.window
        try:
            raw = base64.b64decode(session.layout, validate=True)
        except ValueError:
            return
        window.restoreState(QByteArray(raw), session.layout_version)
        for key, visible in session.visible_docks.items():
            dock = window.docks.get(key)
            if dock is not None and dock.toggleViewAction().isChecked() != visible:
                dock.setVisible(visible)

    def _on_trace_changed(self) -> None:
        window, session, result = self.window, self._restoring, self.window.state.result
        if session is not None and result is not None:
            asked = window.traces.request  # the request whose answer is on screen
            if (self._stage == "trace" and isinstance(asked, TraceRequest) and asked.text == session.prompt
                    and window.state.info is not None and window.state.info.source == session.model):
                if session.generated_ids:
                    self._stage = "replay"
                    window.traces.replay(session.generated_ids)
                else:
                    self._finish_restore()
            elif self._stage == "replay" and result.action == "replay":
                self._finish_restore()
            return  # no autosave of a half-restored session
        if result is not None and result.action == "trace":
            recent.add_prompt(self.recent_prompts, self.window.panel("prompt").text())
        running = result is not None and result.action == RUN and result.stop_reason is None
        self._schedule_autosave(CHANGE_DELAY_MS if running else TRACE_DELAY_MS)  # Run to end: every 2 s at most

    def _finish_restore(self) -> None:
        session, path = self._restoring, self._restoring_path
        self._restoring, self._stage = None, ""
        self.window.state.select(position=session.position, layer=session.layer, head=session.head)
        self._schedule_autosave(TRACE_DELAY_MS)
        self.restored.emit(path)

    def _on_failed(self, _message: str) -> None:
        if self._restoring is not None:  # loading, tracing or replaying the session failed
            self._restoring, self._stage = None, ""  # the window already shows the message

    # -- autosave -----------------------------------------------------------------------------------

    def _schedule_autosave(self, delay_ms: int = CHANGE_DELAY_MS) -> None:
        if not self.autosave_enabled:
            return
        if self._timer.isActive() and self._timer.remainingTime() <= delay_ms:
            return
        self._timer.start(delay_ms)

    def autosave_now(self) -> Path | None:
        """Write this instance's autosave now; None if disabled, restoring or failed."""
        if not self.autosave_enabled or self._restoring is not None or self.window.state.info is None:
            return None
        try:
            text = json.dumps(capture_session(self.window).to_json(), ensure_ascii=False, indent=1)
            return self.autosave.write(text)
        except OSError:
            return None  # autosave is a convenience: never bother the user about it

    def mark_clean(self) -> None:
        """A clean exit: nothing of this instance to recover next time."""
        self._timer.stop()
        self.autosave_enabled = False
        self.autosave.close()

    def set_autosave(self, enabled: bool) -> None:
        """Turn autosave off (e.g. for the smoke test) without touching an earlier run's recovery."""
        self.autosave_enabled = enabled
        if not enabled:
            self._timer.stop()

    # -- crash recovery ------------------------------------------------------------------------------

    @property
    def recovery_path(self) -> Path | None:
        """The newest session left by an instance that did not exit cleanly, or None."""
        return self.recovery_paths[0] if self.recovery_paths else None

    def offer_recovery(self):
        """If earlier runs ended without a clean exit, ask (non-modally) whether to restore: one
        session in a message box, several in a list to pick from. Returns the dialog, or None."""
        if not self.recovery_paths:
            return None
        if len(self.recovery_paths) == 1:
            box = self._offer_one(self.recovery_paths[0])
        else:
            box = RecoveryDialog(self.recovery_paths, self.window)
            box.chosen.connect(self._restore_recovered)
            box.discarded.connect(self._discard_recovered)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.show()
        self.recovery_box = box
        return box

    def _offer_one(self, path: Path) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Question, "Restore last session?",
                          "Logitscope did not close cleanly last time. Restore the session you were working on?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self.window)
        box.button(QMessageBox.StandardButton.Yes).setText("Restore")
        box.button(QMessageBox.StandardButton.No).setText("Discard")

        def answered(_result: int) -> None:
            if box.clickedButton() is box.button(QMessageBox.StandardButton.Yes):
                self._restore_recovered(path)
            else:
                self._discard_recovered([path])

        box.finished.connect(answered)
        return box

    def _restore_recovered(self, path: Path) -> None:
        """Reopen a recovered session in this window; once back, the file is no longer waiting."""
        if self.restore(path):
            self.restored.connect(lambda _p, done=path: self._discard_recovered([done]),
                                  Qt.ConnectionType.SingleShotConnection)
        self.recovery_paths = [p for p in self.recovery_paths if p != path]

    def _discard_recovered(self, paths: list[Path]) -> None:
        for path in paths:
            try:
                Path(path).unlink(missing_ok=True)
            except OSError:
                pass
        self.recovery_paths = [p for p in self.recovery_paths if p not in paths]


class RecoveryDialog(QDialog):
    """Several sessions to recover: the list (when, model, prompt), Restore the chosen one in this
    window, Discard all, or decide later (they are offered again at the next start)."""

    chosen = Signal(object)  # Path
    discarded = Signal(list)  # [Path]

    def __init__(self, paths: list[Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Restore sessions?")
        self.paths = list(paths)
        self.list = QListWidget()
        for path in self.paths:
            self.list.addItem(recovery_label(path))
        self.list.setCurrentRow(0)
        buttons = QDialogButtonBox()
        restore = buttons.addButton("Restore", QDialogButtonBox.ButtonRole.AcceptRole)
        discard = buttons.addButton("Discard all", QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.addButton("Later", QDialogButtonBox.ButtonRole.RejectRole)
        restore.clicked.connect(self._restore)
        discard.clicked.connect(self._discard)
        buttons.rejected.connect(self.reject)
        self.list.itemDoubleClicked.connect(lambda _item: self._restore())
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{len(self.paths)} Logitscope windows did not close cleanly. "
                                "Restore one of their sessions in this window (the others stay here):"))
        layout.addWidget(self.list)
        layout.addWidget(buttons)

    def _restore(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.paths):
            self.chosen.emit(self.paths[row])
        self.accept()

    def _discard(self) -> None:
        self.discarded.emit(list(self.paths))
        self.accept()


def recovery_label(path: Path) -> str:
    """One line for a recovered session: when it was saved, the model and the start of the prompt."""
    try:
        session = read_session(path)
    except SessionError:
        return f"{path.name} (cannot be read)"
    when = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    prompt = session.prompt if len(session.prompt) <= 60 else session.prompt[:57] + "…"
    return f"{when} · {session.model} · {prompt!r}"


NAME = "sessions"


def install(host: Host) -> SessionController:
    """Add File ▸ Save/Open session and the recent lists; start autosaving."""
    controller = SessionController(host)
    controller.build_menu()
    return controller
