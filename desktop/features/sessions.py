"""Sessions: save and reopen what the user was looking at; autosave and crash recovery.

A session file (``*.logitscope.json``) is small JSON: the model spec, device and number type, the
prompt (raw text, and the chat mode's conversation with its system prompt and unsent message),
which of the two is in use, the generated token ids and how each was chosen (greedy or
sampled), every decoding knob, the run mode, the selection and the dock layout.

Version 2 added the chat mode, the conversation, the new knobs (min-p, the penalties, logit
bias, stop sequences), the run mode, the generated tokens' choices and the number type; version
1 files are still read (as text mode, the knobs off, Run to end sampled as it was then, float32).
Reopening loads the model if needed, traces the prompt and replays the generated ids exactly
(``ReplayRequest``), so sampled text comes back token for token.

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
from model_core.analysis.sampling import SamplingSettings, bias_table
from model_core.errors import LogitscopeError, PromptError
from model_core.output_files import write_text_atomically
from model_core.types.chat import SYSTEM, Message, conversation, conversation_json
from model_core.types.interventions import InterventionError, from_dict, set_from_list, set_to_list, to_dict
from model_core.types.model_info import DTYPE_CHOICES

FORMAT = "logitscope-session"
VERSION = 2
TEXT_MODE, CHAT_MODE = "text", "chat"  # the prompt panel's modes
CHOICES = ("greedy", "sampled", "given")  # how a generated token was chosen
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
    dtype: str = "float32"  # the number type the model was loaded in (model_info.DTYPE_CHOICES)
    mode: str = TEXT_MODE  # which prompt is traced: the text, or the conversation
    system: str | None = None  # the chat's own system prompt (None: the template decides)
    turns: tuple[Message, ...] = ()  # the chat's user and assistant turns
    draft: str = ""  # the chat message typed but not sent
    generated_choices: tuple[str, ...] = ()  # [n generated] greedy / sampled / given
    run_mode: str = "greedy"  # Run to end: greedy or sampled
    interventions: tuple[dict, ...] = ()  # the interventions in effect (model_core.types.interventions.to_dict)

    @property
    def conversation(self) -> tuple[Message, ...]:
        """What the chat mode traces: the system prompt (when set) and the turns."""
        return ((Message(SYSTEM, self.system),) if self.system is not None else ()) + self.turns

    def to_json(self) -> dict[str, Any]:
        sampling = asdict(self.sampling)
        sampling["logit_bias"] = [[int(i), float(b)] for i, b in self.sampling.logit_bias]
        sampling["stop"] = list(self.sampling.stop)
        return {
            "format": FORMAT,
            "version": VERSION,
            "saved_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "model": {"spec": self.model, "device": self.device, "dtype": self.dtype},
            "prompt": {"text": self.prompt, "allow_special": self.allow_special, "mode": self.mode},
            "chat": {"system": self.system, "turns": conversation_json(self.turns), "draft": self.draft},
            "generated_ids": list(self.generated_ids),
            "generated_choices": list(self.generated_choices),
            "sampling": sampling,
            "run_mode": self.run_mode,
            "max_new_tokens": self.max_new_tokens,
            "selection": {"position": self.position, "layer": self.layer, "head": self.head,
                          "follow_last": self.follow_last},
            "layout": {"state": self.layout, "version": self.layout_version, "visible": self.visible_docks},
            "interventions": list(self.interventions),
        }

    @classmethod
    def from_json(cls, data: object) -> Session:
        """Validate a parsed session file (this version or an older one); raises SessionError saying
        what is wrong."""
        try:
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise SessionError("it is not a Logitscope session file")
            if not isinstance(data.get("version"), int) or data["version"] > VERSION:
                raise SessionError("it was written by a newer Logitscope")
            model, prompt, sel = data["model"], data["prompt"], data["selection"]
            layout = data.get("layout") or {}
            chat = _typed(data.get("chat") or {}, dict, "chat")
            system = chat.get("system")
            if system is not None:
                _typed(system, str, "chat system prompt")
            try:
                turns = conversation(_typed(chat.get("turns", []), list, "chat turns"))
            except PromptError as exc:
                raise SessionError(f"its conversation is not valid: {exc}") from exc
            if any(m.role == SYSTEM for m in turns):
                raise SessionError("its conversation has a system turn among the turns")
            choices = tuple(_typed(c, str, "generated_choices") for c in data.get("generated_choices", []))
            if any(c not in CHOICES for c in choices):
                raise SessionError(f"field 'generated_choices' must hold {', '.join(CHOICES)}")
            session = cls(
                model=_typed(model["spec"], str, "model"),
                device=_typed(model.get("device", "auto"), str, "device"),
                prompt=_typed(prompt["text"], str, "prompt"),
                allow_special=_typed(prompt.get("allow_special", False), bool, "allow_special"),
                generated_ids=tuple(_typed(i, int, "generated_ids") for i in data.get("generated_ids", [])),
                sampling=_sampling(data["sampling"]),
                max_new_tokens=_typed(data.get("max_new_tokens", 20), int, "max_new_tokens"),
                position=_typed(sel.get("position", 0), int, "position"),
                layer=_typed(sel.get("layer", 0), int, "layer"),
                head=_typed(sel.get("head", 0), int, "head"),
                follow_last=_typed(sel.get("follow_last", True), bool, "follow_last"),
                layout=_typed(layout.get("state", ""), str, "layout"),
                layout_version=_typed(layout.get("version", 1), int, "layout version"),
                visible_docks={str(k): bool(v) for k, v in _typed(layout.get("visible", {}), dict, "visible").items()},
                dtype=_typed(model.get("dtype", "float32"), str, "dtype"),
                mode=_typed(prompt.get("mode", TEXT_MODE), str, "mode"),
                system=system,
                turns=turns,
                draft=_typed(chat.get("draft", ""), str, "chat draft"),
                generated_choices=choices,
                # version 1 ran to the end sampled unless the temperature was 0
                run_mode=_typed(data.get("run_mode", "greedy" if data["version"] >= 2 else "sampled"), str,
                                "run_mode"),
                interventions=_interventions(data.get("interventions", [])),
            )
        except SessionError:
            raise
        except (KeyError, TypeError, AttributeError) as exc:
            raise SessionError(f"it is missing or has a wrong field ({exc})") from exc
        except ValueError as exc:  # SamplingSettings.validated
            raise SessionError(str(exc)) from exc
        if session.mode not in (TEXT_MODE, CHAT_MODE):
            raise SessionError(f"its prompt mode {session.mode!r} is neither text nor chat")
        if session.run_mode not in ("greedy", "sampled"):
            raise SessionError(f"its run mode {session.run_mode!r} is neither greedy nor sampled")
        if session.mode == TEXT_MODE and not session.prompt:
            raise SessionError("its prompt is empty")
        if session.mode == CHAT_MODE and not any(m.content.strip() for m in session.conversation):
            raise SessionError("its conversation is empty")
        if session.dtype not in DTYPE_CHOICES:
            raise SessionError(f"its number type {session.dtype!r} is not one of {', '.join(DTYPE_CHOICES)}")
        if any(i < 0 for i in session.generated_ids) or session.max_new_tokens < 1:
            raise SessionError("its token ids or maximum length are out of range")
        return session


def _sampling(sampling: dict) -> SamplingSettings:
    """The decoding knobs of a session file; the ones a version-1 file lacks are off."""
    _typed(sampling, dict, "sampling")
    number = (int, float)
    bias = []
    for entry in _typed(sampling.get("logit_bias", []), list, "logit_bias"):
        if not isinstance(entry, list) or len(entry) != 2:
            raise SessionError("field 'logit_bias' must hold [token id, bias] pairs")
        bias.append((_typed(entry[0], int, "logit_bias id"), float(_typed(entry[1], number, "logit_bias"))))
    return SamplingSettings(
        temperature=float(_typed(sampling["temperature"], number, "temperature")),
        top_k=_typed(sampling["top_k"], int, "top_k"),
        top_p=float(_typed(sampling["top_p"], number, "top_p")),
        seed=_typed(sampling["seed"], int, "seed"),
        min_p=float(_typed(sampling.get("min_p", 0.0), number, "min_p")),
        repetition_penalty=float(_typed(sampling.get("repetition_penalty", 1.0), number, "repetition_penalty")),
        frequency_penalty=float(_typed(sampling.get("frequency_penalty", 0.0), number, "frequency_penalty")),
        presence_penalty=float(_typed(sampling.get("presence_penalty", 0.0), number, "presence_penalty")),
        logit_bias=bias_table(bias),
        stop=tuple(_typed(t, str, "stop") for t in _typed(sampling.get("stop", []), list, "stop")),
    ).validated()


def _interventions(data: object) -> tuple[dict, ...]:
    """The interventions of a session file, checked as the window will read them."""
    try:
        return tuple(to_dict(from_dict(item)) for item in _typed(data, list, "interventions"))
    except (InterventionError, AttributeError) as exc:
        raise SessionError(f"its interventions cannot be read ({exc})") from exc


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
    """The window's current session. Generated ids are kept only while the trace belongs to what the
    prompt panel holds (an edited but untraced prompt or conversation would make them meaningless)."""
    state = window.state
    prompt_panel = window.panel("prompt")
    text = prompt_panel.text()
    mode = prompt_panel.mode
    system, turns, draft = prompt_panel.chat.state()
    result = state.result
    generated: tuple[int, ...] = ()
    choices: tuple[str, ...] = ()
    if result is not None:
        trace = result.trace
        if mode == CHAT_MODE:
            belongs = result.chat is not None and result.chat.conversation == prompt_panel.conversation()
        else:
            belongs = result.chat is None and trace.prompt_text == text
        if belongs:
            generated = tuple(int(i) for i in trace.tokens.ids[trace.n_prompt:])
            choices = tuple(result.choices)
    sel = state.selection
    layout = bytes(window.saveState(window.layout_version).data())
    generation = window.panel("generation")
    return Session(
        model=state.info.source if state.info else "builtin",
        device=window.panel("model").device.currentText(),
        prompt=text,
        allow_special=prompt_panel.allow_special.isChecked(),
        generated_ids=generated,
        sampling=state.settings,
        max_new_tokens=generation.max_new.value(),
        position=sel.position,
        layer=sel.layer,
        head=sel.head,
        follow_last=sel.follow_last,
        layout=base64.b64encode(layout).decode("ascii"),
        layout_version=window.layout_version,
        visible_docks={key: dock.toggleViewAction().isChecked() for key, dock in window.docks.items()},
        dtype=state.info.dtype if state.info else window.panel("model").load_options().dtype,
        mode=mode,
        system=system,
        turns=turns,
        draft=draft,
        generated_choices=choices,
        run_mode="greedy" if generation.run_greedy else "sampled",
        interventions=_current_interventions(window),
    )


def _current_interventions(window: Host) -> tuple[dict, ...]:
    feature = window.feature("interventions")
    return tuple(set_to_list(feature.controller.interventions)) if feature is not None else ()


def save_session(window: Host, path: str | Path) -> Path:
    """Write the window's session to `path` (adds the .logitscope.json extension if missing)."""
    path = Path(path)
    if not path.name.endswith(".json"):
        path = path.with_name(path.name + SUFFIX)
    write_text_atomically(path, json.dumps(capture_session(window).to_json(), ensure_ascii=False, indent=1))
    return path


def _asks_for(request: TraceRequest, session: Session) -> bool:
    """True when a trace request is the one that reopens the session's prompt."""
    if session.mode == CHAT_MODE:
        return request.chat is not None and tuple(request.chat) == session.conversation
    return request.chat is None and request.text == session.prompt


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
        prompt = window.panel("prompt")
        prompt.editor.textChanged.connect(self._schedule_autosave)
        prompt.chat.edited.connect(self._schedule_autosave)
        prompt.chat.message.textChanged.connect(lambda _text: self._schedule_autosave())
        prompt.mode_changed.connect(lambda _mode: self._schedule_autosave())
        window.panel("generation").max_new.valueChanged.connect(lambda _value: self._schedule_autosave())
        window.panel("generation").run_mode.currentIndexChanged.connect(lambda _i: self._schedule_autosave())
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
        generation = window.panel("generation")
        generation.max_new.setValue(max(session.max_new_tokens, len(session.generated_ids)))
        generation.set_run_mode(session.run_mode)
        prompt = window.panel("prompt")
        prompt.allow_special.blockSignals(True)
        prompt.allow_special.setChecked(session.allow_special)
        prompt.allow_special.blockSignals(False)
        prompt.set_text(session.prompt, submit=False)
        prompt.chat.set_state(session.system, session.turns, session.draft)
        prompt.set_mode(session.mode, submit=False)
        info = window.state.info
        model_panel = window.panel("model")
        if info is None or info.source != session.model or model_panel.device.currentText() != session.device \
                or info.dtype != session.dtype:
            if session.model != "builtin":
                model_panel.add_source(session.model)
            model_panel.device.setCurrentText(session.device)
            model_panel.set_dtype(session.dtype)
            # traces the prompt once loaded
            window.traces.load(session.model, session.device, model_panel.load_options())
        elif session.mode == CHAT_MODE:
            window.traces.submit_chat(session.conversation, session.allow_special)
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
            if (self._stage == "trace" and isinstance(asked, TraceRequest) and _asks_for(asked, session)
                    and window.state.info is not None and window.state.info.source == session.model):
                if session.generated_ids:
                    self._stage = "replay"
                    window.traces.replay(session.generated_ids, session.generated_choices)
                else:
                    self._finish_restore()
            elif self._stage == "replay" and result.action == "replay":
                self._finish_restore()
            return  # no autosave of a half-restored session
        if result is not None and result.action == "trace" and result.chat is None:
            recent.add_prompt(self.recent_prompts, self.window.panel("prompt").text())
        running = result is not None and result.action == RUN and result.stop_reason is None
        self._schedule_autosave(CHANGE_DELAY_MS if running else TRACE_DELAY_MS)  # Run to end: every 2 s at most

    def _finish_restore(self) -> None:
        session, path = self._restoring, self._restoring_path
        self._restoring, self._stage = None, ""
        self.window.state.select(position=session.position, layer=session.layer, head=session.head)
        feature = self.window.feature("interventions")
        if feature is not None and (session.interventions or feature.controller.interventions.items):
            feature.controller.set_all(set_from_list(session.interventions))  # the trace runs again under them
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
