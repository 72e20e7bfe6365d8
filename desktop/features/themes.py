"""Light, dark and high-contrast themes for the whole window (View ▸ Theme).

A theme is two things applied together: a QPalette on the QApplication (every Qt widget)
and a viz.theme.Palette given to each viz widget through its ``set_palette``. "System"
follows QStyleHints.colorScheme() and changes with it. The choice is remembered in
QSettings under ``view/theme``. Presentation mode borrows the high-contrast theme for a
while (``override``) without changing the remembered choice.

Colour maps do not change with the theme: viridis (sequential) and blue-white-red
(diverging) stay colour-blind safe and keep their order of lightness on a washed-out
projector.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QColor, QGuiApplication, QPalette, QPen
from PySide6.QtWidgets import QApplication, QMenu, QProxyStyle, QStyle, QStyleFactory, QWidget

from desktop.core.host import Host
from viz.theme import DARK, HIGH_CONTRAST, LIGHT, Palette, readable_text_colour, style_plot_item

SYSTEM, LIGHT_THEME, DARK_THEME, HIGH_CONTRAST_THEME = "system", "light", "dark", "high-contrast"
THEMES: tuple[tuple[str, str], ...] = (
    (SYSTEM, "System"),
    (LIGHT_THEME, "Light"),
    (DARK_THEME, "Dark"),
    (HIGH_CONTRAST_THEME, "High contrast"),
)
SETTINGS_KEY = "view/theme"

def system_is_dark() -> bool:
    """True when the desktop asks for dark colours (QStyleHints.colorScheme())."""
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def viz_palette(theme: str) -> Palette:
    """The viz Palette a theme name stands for ("system" resolves now)."""
    if theme == SYSTEM:
        return DARK if system_is_dark() else LIGHT
    return {LIGHT_THEME: LIGHT, DARK_THEME: DARK, HIGH_CONTRAST_THEME: HIGH_CONTRAST}.get(theme, LIGHT)


# (text, background) roles of a QPalette that Qt draws text with; tests hold each theme to
# WCAG AA (4.5:1) on them.
_R = QPalette.ColorRole
QT_TEXT_PAIRS: tuple[tuple[QPalette.ColorRole, QPalette.ColorRole], ...] = (
    (_R.WindowText, _R.Window), (_R.Text, _R.Base), (_R.Text, _R.AlternateBase), (_R.ButtonText, _R.Button),
    (_R.HighlightedText, _R.Highlight), (_R.ToolTipText, _R.ToolTipBase), (_R.PlaceholderText, _R.Base),
    (_R.Link, _R.Base), (_R.Link, _R.Window), (_R.WindowText, _R.Button),
)


def qt_palette(palette: Palette, base: QPalette | None = None) -> QPalette:
    """A full QPalette built from a viz Palette, so Qt widgets and plots agree.

    High contrast is more than Light with darker colours: a white window, a black selection
    highlight and black tooltips (and, through `ControlOutlines`, a black outline on every control).
    """
    pal = QPalette(base) if base is not None else QPalette()
    bg, fg = QColor(palette.background), QColor(palette.foreground)
    dark = bg.lightnessF() < 0.5
    high_contrast = palette is HIGH_CONTRAST
    window = bg.lighter(135) if dark else (QColor("#FFFFFF") if high_contrast else QColor("#F3F4F6"))
    button = QColor("#FFFFFF") if high_contrast else QColor(palette.surface)
    highlight = QColor(palette.foreground if high_contrast else palette.token)
    tip_base, tip_text = (fg, bg) if high_contrast else (bg, fg)
    roles = QPalette.ColorRole
    colours = {
        roles.Window: window,
        roles.WindowText: fg,
        roles.Base: bg,
        roles.AlternateBase: QColor(palette.surface),
        roles.Text: fg,
        roles.Button: button,
        roles.ButtonText: fg,
        roles.BrightText: QColor(palette.last_token),
        roles.Highlight: highlight,
        roles.HighlightedText: readable_text_colour(highlight),
        roles.ToolTipBase: tip_base,
        roles.ToolTipText: tip_text,
        roles.PlaceholderText: QColor(palette.muted),
        roles.Link: QColor(palette.token if high_contrast else palette.accent),
        roles.LinkVisited: QColor(palette.token if high_contrast else palette.accent),
        roles.Light: button.lighter(150),
        roles.Midlight: button.lighter(115),
        roles.Mid: button.darker(130),
        roles.Dark: button.darker(160),
        roles.Shadow: QColor("#000000"),
    }
    if high_contrast:  # frames and separators drawn from these are black, not grey
        colours.update({roles.Light: QColor("#FFFFFF"), roles.Midlight: QColor("#FFFFFF"),
                        roles.Mid: fg, roles.Dark: fg})
    for role, colour in colours.items():
        pal.setColor(QPalette.ColorGroup.All, role, colour)
    muted = QColor(palette.muted)
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, muted)
    return pal


class ControlOutlines(QProxyStyle):
    """The application's style, plus an outline around check boxes, radio buttons, buttons and
    input fields where the theme asks for one (`colour`).

    Qt's Fusion style draws those edges a shade darker than the window colour: invisible in the
    dark theme (an unchecked box vanished) and grey in high contrast. None: the style's own look.
    """

    _PRIMITIVES = (QStyle.PrimitiveElement.PE_IndicatorCheckBox, QStyle.PrimitiveElement.PE_IndicatorRadioButton,
                   QStyle.PrimitiveElement.PE_FrameLineEdit, QStyle.PrimitiveElement.PE_PanelButtonCommand,
                   QStyle.PrimitiveElement.PE_Frame)  # PE_Frame: the prompt editor, text boxes, tables
    _CONTROLS = (QStyle.ComplexControl.CC_ComboBox, QStyle.ComplexControl.CC_SpinBox)

    def __init__(self, base: QStyle | None) -> None:
        super().__init__(base)
        self.colour: QColor | None = None

    def drawPrimitive(self, element, option, painter, widget=None) -> None:
        super().drawPrimitive(element, option, painter, widget)
        if self.colour is not None and element in self._PRIMITIVES:
            round_ = element == QStyle.PrimitiveElement.PE_IndicatorRadioButton
            self._outline(painter, option.rect, round_)

    def drawComplexControl(self, control, option, painter, widget=None) -> None:
        super().drawComplexControl(control, option, painter, widget)
        if self.colour is not None and control in self._CONTROLS:
            self._outline(painter, option.rect, False)

    def _outline(self, painter, rect, round_: bool) -> None:
        painter.save()
        painter.setRenderHint(painter.RenderHint.Antialiasing, round_)
        painter.setPen(QPen(self.colour, 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        box = rect.adjusted(0, 0, -1, -1)
        painter.drawEllipse(box) if round_ else painter.drawRect(box)
        painter.restore()


_STYLES: list[ControlOutlines] = []  # the Python side of the style the application owns


def outline_style() -> ControlOutlines:
    """The application's ControlOutlines style, installed over its current style on first use."""
    app = QApplication.instance()
    current = app.style()
    if isinstance(current, ControlOutlines):
        return current
    style = ControlOutlines(QStyleFactory.create(current.name()))
    app.setStyle(style)
    _STYLES.append(style)
    return style


def outline_colour(theme: str) -> QColor | None:
    """The control outline a theme draws: grey-white in dark, black in high contrast, none otherwise."""
    if theme == HIGH_CONTRAST_THEME:
        return QColor(HIGH_CONTRAST.foreground)
    if viz_palette(theme) is DARK:
        return QColor(DARK.muted)
    return None


def themed_widgets(root: QWidget) -> list[QWidget]:
    """Widgets under ``root`` that draw with a viz Palette or a pyqtgraph scene."""
    return [w for w in root.findChildren(QWidget)
            if callable(getattr(w, "set_palette", None)) or isinstance(w, pg.GraphicsView)]


def apply_viz_palette(root: QWidget, palette: Palette) -> None:
    """Give every viz widget under ``root`` the palette.

    Widgets without ``set_palette`` that are pyqtgraph views still get the page colour and
    axis colours, so nothing stays white in the dark theme.
    """
    for widget in themed_widgets(root):
        setter = getattr(widget, "set_palette", None)
        if callable(setter):
            setter(palette)
            continue
        if any(callable(getattr(parent, "set_palette", None)) for parent in _ancestors(widget, root)):
            continue  # part of a widget that themes itself
        widget.setBackground(palette.background)
        for item in widget.scene().items():
            if isinstance(item, pg.PlotItem):
                axis = item.getAxis("bottom")
                style_plot_item(item, palette, axis.style.get("tickFont").pointSizeF()
                                if axis.style.get("tickFont") is not None else 9.0)


def _ancestors(widget: QWidget, root: QWidget):
    parent = widget.parentWidget()
    while parent is not None and parent is not root:
        yield parent
        parent = parent.parentWidget()


class ThemeController(QObject):
    """Owns the window's theme: the menu, the remembered choice, and temporary overrides."""

    def __init__(self, window: Host) -> None:
        super().__init__(window)
        self.window = window
        app = QApplication.instance()
        self._style = outline_style()  # before the palette is read: a new style resets it
        self._base_palette = QPalette(app.palette())  # the style's own palette: "Light" starts from it
        self._override: str | None = None
        stored = str(window.settings.value(SETTINGS_KEY, SYSTEM))
        self.theme = stored if stored in dict(THEMES) else SYSTEM
        self.actions: dict[str, QAction] = {}
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_system_changed)

    # -- public ----------------------------------------------------------------------------

    def effective_theme(self) -> str:
        """The theme on screen now: the override while presentation mode holds one."""
        return self._override or self.theme

    def palette(self) -> Palette:
        return viz_palette(self.effective_theme())

    def set_theme(self, theme: str) -> None:
        """Choose and remember a theme (one of THEMES); applied at once unless overridden."""
        if theme not in dict(THEMES):
            raise ValueError(f"unknown theme {theme!r}")
        self.theme = theme
        self.window.settings.setValue(SETTINGS_KEY, theme)
        if theme in self.actions:
            self.actions[theme].setChecked(True)
        self.apply()

    def override(self, theme: str | None) -> None:
        """Show ``theme`` without remembering it (None: back to the chosen one)."""
        self._override = theme
        self.apply()

    def apply(self) -> None:
        palette = self.palette()
        app = QApplication.instance()
        self._style.colour = outline_colour(self.effective_theme())
        if self.effective_theme() == SYSTEM and not system_is_dark():
            app.setPalette(self._base_palette)
        else:
            app.setPalette(qt_palette(palette, self._base_palette))
        apply_viz_palette(self.window, palette)

    def build_menu(self) -> QMenu:
        sub = QMenu("&Theme", self.window)
        group = QActionGroup(self)
        group.setExclusive(True)
        for key, label in THEMES:
            action = QAction(label, self.window, checkable=True)
            action.setChecked(key == self.theme)
            action.triggered.connect(lambda _c=False, k=key: self.set_theme(k))
            group.addAction(action)
            sub.addAction(action)
            self.actions[key] = action
        return sub

    # -- slots -----------------------------------------------------------------------------

    def _on_system_changed(self, _scheme) -> None:
        if self.effective_theme() == SYSTEM:
            self.apply()


NAME = "themes"


def install(host: Host) -> ThemeController:
    """Add View ▸ Theme and apply the remembered theme."""
    controller = ThemeController(host)
    host.add_menu_item("view.theme", controller.build_menu())
    controller.apply()
    return controller
