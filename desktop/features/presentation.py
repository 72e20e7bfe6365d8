"""Presentation mode for lecture halls: big type, high contrast, full screen, single-key control.

F5 (or View ▸ Presentation mode) toggles it; Esc leaves it. While it is on:

- the window has a layout of its own, designed for a 1280×720 projector and up: fewer,
  larger panels. The prompt and its token chips across the top; one large main view on the
  left (attention first), which the number keys 1–9 switch (``MAIN_VIEWS``; its title bar
  lists them, and a click there switches too), with the lesson under it while one is open;
  the next-token distribution and the generation stacked on the right. No panel hides behind
  a tab, so no tab is squeezed to "M…";
- the application font and every viz widget's font grow by ``font_scale_for`` the screen
  (``FONT_SCALE`` on a 1080-line screen; less on a smaller one, so the text takes the same
  share of the projected picture instead of crowding it), and every viz widget's lines
  (axes, trails, outlines, the layer slider) by ``LINE_SCALE``;
- the high-contrast theme is shown (the remembered theme is untouched);
- the window goes full screen with the menu bar and status bar hidden;
- single keys drive the app (see ``KEYS``), except while a text field has the focus,
  so the prompt can still be typed; a slim bar along the bottom lists the keys (it takes
  its own row, so it covers no panel), H hides it.

Leaving restores the fonts, theme, layout, window state and chrome exactly as they were, and
keeps the window inside the screen.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFont, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSizePolicy,
    QTextEdit,
    QToolBar,
    QWidget,
)

from desktop.core.host import Host
from desktop.core.requests import tracing as t
from desktop.features.themes import HIGH_CONTRAST_THEME

FONT_SCALE = 1.6  # on a 1080-line screen
MIN_FONT_SCALE = 1.2  # however small the screen
REFERENCE_HEIGHT = 1080  # px
LINE_SCALE = 2.0  # 1 px axes and outlines wash out on a projector
SHORT_SCREEN = 900  # px of height below which the normal layout tabs the trajectories and distribution
CHAT_PROMPT_SHARE = 0.36  # of the height: the prompt row in chat mode (the conversation beside its chips)
TOGGLE_KEY = "F5"
NOTICE_MS = 4000  # how long a confirmation replaces the key legend
FULL_SCREEN_WAIT_MS = 400  # then, if no window manager made the window full screen, it sizes itself
# The views the number keys 1-9 put in the main place, in order (unknown keys are skipped); any
# other dock a lesson or a click asks for goes there too.
MAIN_VIEWS = ("attention", "trajectories", "lens", "heads", "qkv", "mlp", "tokenizers", "embeddings", "anatomy")
SHORT_NAMES = {"attention": "Attention", "trajectories": "Trajectories", "lens": "Lens", "heads": "Heads",
               "qkv": "Q/K/V", "mlp": "MLP", "tokenizers": "BPE", "embeddings": "Embeddings", "anatomy": "Anatomy"}
# Always on screen in presentation mode (the lesson only while one is open).
FIXED_DOCKS = ("prompt", "distribution", "generation", "lesson")
# Shares of the screen: the prompt's height, the main view's width, the distribution's part of
# the right-hand column (the generation has the rest) and the lesson's part of the left one.
PROMPT_SHARE, MAIN_SHARE, DISTRIBUTION_SHARE, LESSON_SHARE = 0.24, 0.6, 0.62, 0.24


def font_scale_for(screen_height: int) -> float:
    """How much presentation mode enlarges the text on a screen this many pixels high.

    A projector shows the whole picture on the same wall, so what matters is the share of the
    picture's height a line takes: FONT_SCALE at 1080 lines, proportionally less on a smaller
    screen (never under MIN_FONT_SCALE), so a 1366×768 projector is not crowded out.
    """
    return max(MIN_FONT_SCALE, min(FONT_SCALE, FONT_SCALE * screen_height / REFERENCE_HEIGHT))

K = Qt.Key


@dataclass(frozen=True)
class KeyBinding:
    keys: tuple[int, ...]
    label: str  # how the legend writes the keys
    description: str
    name: str  # the PresentationMode method that runs
    repeat: bool = False  # act on auto-repeat (navigation) or only once per press (generation)


KEYS: tuple[KeyBinding, ...] = (
    KeyBinding((K.Key_Space,), "Space", "step (greedy)", "step"),
    KeyBinding((K.Key_S,), "S", "sample", "sample"),
    KeyBinding((K.Key_U, K.Key_Backspace), "U / ⌫", "undo", "undo"),
    KeyBinding((K.Key_R,), "R", "reset to prompt", "reset"),
    KeyBinding((K.Key_Up,), "↑ / ↓", "next / previous layer", "next_layer", repeat=True),
    KeyBinding((K.Key_Down,), "", "", "previous_layer", repeat=True),
    KeyBinding((K.Key_BracketRight,), "[ / ]", "previous / next head", "next_head", repeat=True),
    KeyBinding((K.Key_BracketLeft,), "", "", "previous_head", repeat=True),
    KeyBinding((K.Key_Right, K.Key_Period), "← / →", "previous / next token", "next_token", repeat=True),
    KeyBinding((K.Key_Left, K.Key_Comma), "", "", "previous_token", repeat=True),
    KeyBinding((K.Key_P,), "P", "play / pause layers", "play"),
    KeyBinding((K.Key_N, K.Key_PageDown), "N / B", "next / previous lesson step", "next_lesson_step"),
    KeyBinding((K.Key_B, K.Key_PageUp), "", "", "previous_lesson_step"),
    KeyBinding(tuple(getattr(K, f"Key_{i}") for i in range(1, 10)), "1 – 9", "switch the main view",
               "raise_panel"),
    KeyBinding((K.Key_H,), "H", "hide / show this legend", "toggle_legend"),
    KeyBinding((K.Key_Escape, K.Key_F5), "Esc / F5", "leave presentation mode", "leave"),
)
_BY_KEY: dict[int, KeyBinding] = {key: b for b in KEYS for key in b.keys}
# Esc and F5 work even while typing; everything else is left to a focused text field.
_ALWAYS = {K.Key_Escape, K.Key_F5}


def legend_rows(window: Host | None = None) -> list[tuple[str, str]]:
    """(keys, what they do) for the legend, in order."""
    rows = [(b.label, b.description) for b in KEYS if b.label]
    if window is not None and window.feature("lessons") is None:
        rows = [r for r in rows if "lesson" not in r[1]]
    return rows


def is_text_entry(widget: QWidget | None) -> bool:
    """True for widgets where single keys are typing: editors, spin boxes, editable combos."""
    if widget is None:
        return False
    if isinstance(widget, QLineEdit | QAbstractSpinBox):
        return True
    if isinstance(widget, QPlainTextEdit | QTextEdit):
        return not widget.isReadOnly()
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    parent = widget.parentWidget()  # the viewport of a text edit, the line edit of a spin box
    return isinstance(parent, QPlainTextEdit | QTextEdit | QAbstractSpinBox) and is_text_entry(parent)


class KeyLegend(QToolBar):
    """A slim black bar along the bottom of the window listing the keys.

    A bottom tool bar rather than a box floating over the docks: it takes its own row, so
    the panels shrink a little instead of being covered. Its pairs are laid out in as few
    lines as the window's width allows.
    """

    def __init__(self, window: Host) -> None:
        super().__init__("Presentation keys", window)
        self.setObjectName("presentation-keys")  # saveState() wants every tool bar named
        self.setMovable(False)
        self.setFloatable(False)
        self.toggleViewAction().setVisible(False)
        self.setStyleSheet("QToolBar { border: none; padding: 0; spacing: 0; background: black; }")
        self.label = QLabel()
        self.label.setObjectName("presentation-legend")
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.label.setStyleSheet("#presentation-legend { background: black; color: white; padding: 3px 12px; }")
        self.addWidget(self.label)
        self.notice = ""  # a confirmation shown in place of the keys for a moment
        window.addToolBar(Qt.ToolBarArea.BottomToolBarArea, self)
        self.hide()

    def place(self) -> None:
        """Legend font for the current application font, in as few lines as fit the window."""
        if self.notice:
            return
        font = QApplication.font()
        font.setPointSizeF(font.pointSizeF() * 0.85)
        self.label.setFont(font)
        pairs = self.rows()
        room = self.parentWidget().width() - 8
        for lines in range(1, len(pairs) + 1):
            self.label.setText(_legend_table(pairs, -(-len(pairs) // lines)))
            if self.label.sizeHint().width() <= room:
                break

    def rows(self) -> list[tuple[str, str]]:
        return legend_rows(self.parentWidget())

    def notify(self, text: str, ms: int = NOTICE_MS) -> None:
        """Show a line (an export's confirmation) in place of the keys for a few seconds."""
        self.notice = text
        self.label.setText(f"<b>{html.escape(text)}</b>")
        self.show()
        QTimer.singleShot(ms, self._end_notice)

    def _end_notice(self) -> None:
        self.notice = ""
        window = self.parentWidget()
        mode = window.feature("presentation") if window is not None else None
        self.setVisible(bool(mode is not None and mode.active and mode.legend_visible))
        self.place()


def _legend_table(pairs: list[tuple[str, str]], columns: int) -> str:
    """Rich text: the (keys, action) pairs in a table ``columns`` pairs wide."""
    cells = [f"<td style='padding-right:8px'><b>{k}</b></td><td style='padding-right:26px'>{w}</td>"
             for k, w in pairs]
    rows = ["".join(cells[i : i + columns]) for i in range(0, len(cells), columns)]
    return "<table cellspacing='0'>" + "".join(f"<tr>{r}</tr>" for r in rows) + "</table>"


class ViewSwitcher(QLabel):
    """The main view's title bar in presentation mode: every view with its number key, the one on
    screen in bold; clicking a name switches to it."""

    def __init__(self, mode: PresentationMode, key: str, title: str) -> None:
        super().__init__()
        self.setObjectName("presentation-views")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setContentsMargins(6, 2, 6, 2)
        font = QApplication.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        self.setFont(font)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)  # one line, whatever the width
        self.key = key
        names = []
        for n, view in enumerate(mode.main_views(), start=1):
            name = SHORT_NAMES.get(view, view)
            names.append(f"<b><u>{n} {name}</u></b>" if view == key else
                         f"<a href='{view}' style='text-decoration:none'>{n} {name}</a>")
        current = "" if key in mode.main_views() else f"<b>{title}</b> · "
        self.setText(current + " · ".join(names))
        self.linkActivated.connect(mode.show_view)


class PresentationMode(QObject):
    """Enters and leaves presentation mode and, while on, turns single keys into actions."""

    laid_out = Signal()  # the presentation layout has its sizes for the window's size now

    def __init__(self, window: Host, font_scale: float = FONT_SCALE, line_scale: float = LINE_SCALE) -> None:
        super().__init__(window)
        self.window = window
        self.font_scale = font_scale
        self.scale = font_scale  # the font scale in use (font_scale_for the screen, once entered)
        self.line_scale = line_scale
        self.active = False
        self.legend_visible = True
        self.legend: KeyLegend | None = None
        self.main_view = MAIN_VIEWS[0]  # the dock in the main place (kept for the next time)
        self._refit = QTimer(self, singleShot=True, interval=0)  # the layout's sizes, once a resize has landed
        self._refit.timeout.connect(self._fit_docks)
        self._claim = QTimer(self, singleShot=True, interval=FULL_SCREEN_WAIT_MS)
        self._claim.timeout.connect(self._claim_screen)
        self._saved: dict = {}
        self.action = QAction("Presentation mode", window, checkable=True)
        self.action.setShortcut(QKeySequence(TOGGLE_KEY))
        self.action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.action.setToolTip("Big type, high contrast, full screen and single-key control (F5; Esc leaves)")
        self.action.toggled.connect(self._on_toggled)

    # -- entering and leaving --------------------------------------------------------------

    def toggle(self) -> None:
        self.action.toggle()

    def enter(self) -> None:
        self.action.setChecked(True)

    def leave(self) -> None:
        self.action.setChecked(False)

    def _on_toggled(self, on: bool) -> None:
        if on and not self.active:
            self._enter()
        elif not on and self.active:
            self._leave()

    def _enter(self) -> None:
        window, app = self.window, QApplication.instance()
        widgets = self._font_widgets()
        self._saved = {
            "app_font": QFont(app.font()),
            "window_state": window.windowState(),
            "geometry": window.saveGeometry(),
            "menu_bar": window.menuBar().isVisible(),
            "status_bar": window.statusBar().isVisible(),
            "fonts": {w: getattr(w, "_font_size", None) for w in widgets},
            "line_scales": {w: w.line_scale() for w in self._line_widgets()},
            "layout": window.saveState(),
            "minimum_sizes": {d.widget(): d.widget().minimumSize() for d in window.docks.values()
                              if d.widget() is not None},
        }
        base = self._saved["app_font"].pointSizeF()
        base = base if base > 0 else 10.0
        self.active = True
        self.scale = self.font_scale * font_scale_for(window.screen().geometry().height()) / FONT_SCALE
        font = QFont(self._saved["app_font"])
        font.setPointSizeF(base * self.scale)
        app.setFont(font)
        themes = window.feature("themes")
        if themes is not None:
            themes.override(HIGH_CONTRAST_THEME)
        for widget, size in self._saved["fonts"].items():
            widget.set_font_size((size or base) * self.scale)
        for widget, scale in self._saved["line_scales"].items():
            widget.set_line_scale(scale * self.line_scale)
        # Large type makes every panel's controls row wider than a 1920-pixel projector: let the
        # docks clip their contents instead of pushing the window off the screen.
        for content in self._saved["minimum_sizes"]:
            content.setMinimumSize(1, 1)
        window.menuBar().hide()
        window.statusBar().hide()
        self._arrange()
        window.setWindowState(window.windowState() | Qt.WindowState.WindowFullScreen)
        window.show()
        QTimer.singleShot(0, self._fit_docks)  # once the full-screen size has landed
        if self.legend is None:
            self.legend = KeyLegend(window)
        self.legend.setVisible(self.legend_visible)
        self.legend.place()
        app.installEventFilter(self)
        window.setFocus(Qt.FocusReason.OtherFocusReason)  # single keys work at once

    def _leave(self) -> None:
        window, app = self.window, QApplication.instance()
        app.removeEventFilter(self)
        self.active = False
        saved, self._saved = self._saved, {}
        if self.legend is not None:
            self.legend.hide()
        lessons = window.feature("lessons")
        if lessons is not None:
            lessons.lesson_changed.disconnect(self._place_lesson)
            if lessons.panel is not None:
                lessons.panel.set_compact(False)
        for dock in window.docks.values():
            switcher = dock.titleBarWidget()
            if isinstance(switcher, ViewSwitcher):
                dock.setTitleBarWidget(None)
                switcher.deleteLater()
        app.setFont(saved["app_font"])
        base = saved["app_font"].pointSizeF()
        themes = window.feature("themes")
        if themes is not None:
            themes.override(None)
        for widget, size in saved["fonts"].items():
            widget.set_font_size(size if size is not None else (base if base > 0 else 10.0))
        for widget, scale in saved["line_scales"].items():
            widget.set_line_scale(scale)
        for content, size in saved["minimum_sizes"].items():
            content.setMinimumSize(size)
        window.menuBar().setVisible(saved["menu_bar"])
        window.statusBar().setVisible(saved["status_bar"])
        window.setWindowState(saved["window_state"])
        if not saved["window_state"] & (Qt.WindowState.WindowMaximized | Qt.WindowState.WindowFullScreen):
            window.restoreGeometry(saved["geometry"])
        window.show()
        window.restoreState(saved["layout"])
        fit = getattr(window, "fit_to_screen", None)
        if callable(fit):
            fit()

        def settle() -> None:  # once the normal fonts' sizes have landed: the saved sizes, within the screen
            if self.active:
                return
            window.restoreState(saved["layout"])
            if callable(fit):
                fit()

        QTimer.singleShot(0, settle)

    # -- the presentation layout -------------------------------------------------------------

    def main_views(self) -> list[str]:
        """The docks the number keys switch to, in key order."""
        return [k for k in MAIN_VIEWS if k in self.window.docks]

    def _arrange(self) -> None:
        """Prompt on top; the main view on the left (the lesson under it while one is open);
        distribution and generation on the right; every other dock hidden until asked for."""
        window, docks = self.window, self.window.docks
        if self.main_view not in docks:
            self.main_view = next(iter(self.main_views()), self.main_view)
        for dock in docks.values():
            dock.setFloating(False)
            dock.hide()
        Area = Qt.DockWidgetArea
        if "prompt" in docks:
            window.addDockWidget(Area.TopDockWidgetArea, docks["prompt"])
        right = [docks[k] for k in ("distribution", "generation") if k in docks]
        for dock in right:
            window.addDockWidget(Area.RightDockWidgetArea, dock, Qt.Orientation.Vertical)
        for key, dock in docks.items():
            if key not in FIXED_DOCKS:
                window.addDockWidget(Area.LeftDockWidgetArea, dock)
                dock.setTitleBarWidget(ViewSwitcher(self, key, dock.windowTitle().replace("&&", "&")))
        for key in ("prompt", "distribution", "generation"):
            if key in docks:
                docks[key].show()
        if self.main_view in docks:
            docks[self.main_view].show()
        lessons = window.feature("lessons")
        if lessons is not None:
            lessons.lesson_changed.connect(self._place_lesson)
            if lessons.panel is not None:
                lessons.panel.set_compact(True)
        self._place_lesson()

    def _place_lesson(self) -> None:
        """The lesson under the main view while one is open; hidden otherwise."""
        window = self.window
        lesson, lessons = window.docks.get("lesson"), window.feature("lessons")
        if lesson is None:
            return
        if lessons is None or lessons.lesson is None:
            lesson.hide()
            return
        above = window.docks.get(self.main_view)
        if not lesson.isVisible() and above is not None:
            window.splitDockWidget(above, lesson, Qt.Orientation.Vertical)
            lesson.show()
            QTimer.singleShot(0, self._fit_docks)

    def show_view(self, key: str) -> bool:
        """Put dock `key` in the main place (or, for a dock always shown, just raise it).
        False when there is no such dock."""
        window, docks = self.window, self.window.docks
        dock = docks.get(key)
        if dock is None:
            return False
        if key in FIXED_DOCKS:
            if key == "lesson":
                self._place_lesson()
            dock.raise_()
            return True
        old = docks.get(self.main_view)
        self.main_view = key
        if old is not None and old is not dock:
            if not isinstance(dock.titleBarWidget(), ViewSwitcher):
                dock.setTitleBarWidget(ViewSwitcher(self, key, dock.windowTitle().replace("&&", "&")))
            window.tabifyDockWidget(old, dock)  # into the very same place ...
            dock.show()
            old.hide()  # ... which then holds one dock again: no tab bar
        dock.show()
        dock.raise_()
        return True

    def fit_docks(self) -> None:
        """Lay the docks out for presentation again (the prompt switched between text and chat)."""
        self._fit_docks()

    def _fit_docks(self) -> None:
        """The presentation layout's sizes, once the full-screen size has landed: the prompt tall
        enough for its editor and a row or two of large chips, the main view the larger part of
        the width, the distribution most of the right-hand column."""
        window = self.window
        if not self.active:
            return
        screen = window.screen()
        if window.isFullScreen() and screen is not None and window.size() != screen.geometry().size():
            if not self._claim.isActive():
                self._claim.start()
            return  # the full-screen size is on its way; its resize event lays out again
        docks = window.docks
        legend = self.legend.height() if self.legend is not None and self.legend.isVisible() else 0
        height, width = window.height() - legend, window.width()
        prompt, main = docks.get("prompt"), docks.get(self.main_view)
        top = 0
        if prompt is not None:
            panel = prompt.widget()
            # a conversation beside its chips needs more room than a line of text and its chips
            share = CHAT_PROMPT_SHARE if getattr(panel, "mode", "text") == "chat" else PROMPT_SHARE
            top = max(int(height * share), panel.minimumSizeHint().height() + 24)
            window.resizeDocks([prompt], [top], Qt.Orientation.Vertical)
        side = [d for d in (docks.get("distribution"), docks.get("generation")) if d is not None and d.isVisible()]
        if main is not None and side:
            window.resizeDocks([main, side[0]], [int(width * MAIN_SHARE), int(width * (1 - MAIN_SHARE))],
                               Qt.Orientation.Horizontal)
        room = height - top  # what the prompt leaves
        if len(side) == 2:
            window.resizeDocks(side, [int(room * DISTRIBUTION_SHARE), int(room * (1 - DISTRIBUTION_SHARE))],
                               Qt.Orientation.Vertical)
        lesson = docks.get("lesson")
        if main is not None and lesson is not None and lesson.isVisible():
            window.resizeDocks([main, lesson], [int(room * (1 - LESSON_SHARE)), int(room * LESSON_SHARE)],
                               Qt.Orientation.Vertical)
        if self.legend is not None:
            self.legend.place()
        window.layout().activate()  # the docks take their new sizes now, not on a later turn
        self.laid_out.emit()

    def _claim_screen(self) -> None:
        """Full screen with no window manager (a bare X server, a kiosk) is only a flag: the window
        keeps its size, which may even overhang the screen and cut off the key legend. Take the
        screen's geometry ourselves; the resize that follows lays the docks out."""
        window, screen = self.window, self.window.screen()
        if self.active and window.isFullScreen() and screen is not None \
                and window.size() != screen.geometry().size():
            window.setMinimumSize(1, 1)  # the normal layout's minimum may be taller than the screen
            window.setGeometry(screen.geometry())  # which drops the full-screen state; put it back
            window.setWindowState(window.windowState() | Qt.WindowState.WindowFullScreen)

    def _font_widgets(self) -> list[QWidget]:
        return [w for w in self.window.findChildren(QWidget) if callable(getattr(w, "set_font_size", None))]

    def _line_widgets(self) -> list[QWidget]:
        return [w for w in self.window.findChildren(QWidget) if callable(getattr(w, "set_line_scale", None))]

    # -- keys ------------------------------------------------------------------------------

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.Resize and obj is self.window:
            if self.legend is not None:
                self.legend.place()
            self._refit.start()  # full screen lands late on some platforms: size the layout for it
            return False
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride) or not self.active:
            return False
        if not isinstance(obj, QWidget) or obj.window() is not self.window:
            return False
        binding = self.binding_for(event, obj)
        if binding is None:
            return False
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()  # deliver it as a key press (to us) rather than a menu shortcut
            return True
        if event.isAutoRepeat() and not binding.repeat:
            return True
        self.run(binding.name, event.key())
        return True

    def binding_for(self, event: QKeyEvent, target: QWidget | None = None) -> KeyBinding | None:
        """The binding a key event triggers here, or None (modifiers and text fields pass through)."""
        key = event.key()
        binding = _BY_KEY.get(key)
        if binding is None:
            return None
        modifiers = event.modifiers() & ~(Qt.KeyboardModifier.KeypadModifier | Qt.KeyboardModifier.ShiftModifier)
        if modifiers != Qt.KeyboardModifier.NoModifier:
            return None  # Alt+arrows, Ctrl+R and friends keep their usual meaning
        if key not in _ALWAYS and is_text_entry(target if target is not None else QApplication.focusWidget()):
            return None
        return binding

    def run(self, name: str, key: int = 0) -> None:
        """Run one presentation action by its name (see KEYS)."""
        getattr(self, name)(key) if name == "raise_panel" else getattr(self, name)()

    # -- actions ---------------------------------------------------------------------------

    def step(self) -> None:
        self.window.traces.act(t.STEP)

    def sample(self) -> None:
        self.window.traces.act(t.SAMPLE)

    def undo(self) -> None:
        self.window.traces.act(t.UNDO)

    def reset(self) -> None:
        self.window.traces.act(t.RESET)

    def _select(self, **delta: int) -> None:
        sel = self.window.state.selection
        self.window.state.select(**{k: getattr(sel, k) + v for k, v in delta.items()})

    def next_layer(self) -> None:
        self._select(layer=1)

    def previous_layer(self) -> None:
        self._select(layer=-1)

    def next_head(self) -> None:
        self._select(head=1)

    def previous_head(self) -> None:
        self._select(head=-1)

    def next_token(self) -> None:
        self._select(position=1)

    def previous_token(self) -> None:
        self._select(position=-1)

    def play(self) -> None:
        slider = self.window.panel("trajectories").slider
        self.show_view("trajectories")
        slider.pause() if slider.is_playing() else slider.play()

    def next_lesson_step(self) -> None:
        player = self.window.feature("lessons")
        if player is not None:
            player.next()

    def previous_lesson_step(self) -> None:
        player = self.window.feature("lessons")
        if player is not None:
            player.previous()

    def raise_panel(self, key: int) -> None:
        index = key - K.Key_1
        present = self.main_views()
        if 0 <= index < len(present):
            self.show_view(present[index])

    def notify(self, text: str) -> None:
        """A confirmation the hidden status bar cannot show: in the legend's bar for a moment."""
        if self.legend is None:
            self.legend = KeyLegend(self.window)
        self.legend.notify(text)

    def toggle_legend(self) -> None:
        self.legend_visible = not self.legend_visible
        if self.legend is not None:
            self.legend.setVisible(self.legend_visible)
            self.legend.place()


NAME = "presentation"


def install(host: Host) -> PresentationMode:
    """Add View ▸ Presentation mode (F5)."""
    mode = PresentationMode(host)
    host.add_menu_item("view.presentation", mode.action)
    host.addAction(mode.action)  # F5 also works while the menu bar is hidden
    return mode
