"""Colours, colour maps and font styling shared by every viz widget.

Why one module: the same token must look the same in every panel (the last token is the
same red in the trajectory plot and the bars, a generated token the same accent in the
chips and elsewhere), and presentation mode swaps the palette, font size and line width
everywhere at once. Nothing here touches global pyqtgraph configuration, so importing it
has no side effects on other code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPen
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True)
class Palette:
    """The handful of colours the widgets draw with (any string QColor accepts).

    Colours come from colour-blind-safe families (Okabe-Ito, ColorBrewer RdBu) so red/green
    confusion never carries meaning on its own.
    """

    background: str
    foreground: str
    muted: str  # de-emphasised text, filtered-out bars
    surface: str  # chip background: slightly off the page colour
    accent: str  # newly generated tokens
    selection: str  # outline of the selected token / query row
    last_token: str  # the position whose next token is predicted
    token: str  # every other token dot / kept bars
    positive: str  # diverging maps: red end
    negative: str  # diverging maps: blue end
    masked: str  # causal mask (future keys): a neutral grey outside the colour map
    weight_tint: str  # chip tint for weight 1.0 (attention of the selected query)
    # Chat: control tokens (<|im_start|>) and the parts a chat template added that nobody typed.
    control: str = "#5E3C99"  # control tokens' outline and text (Okabe-Ito-like purple)
    control_fill: str = "#E7E0F3"  # control tokens' chip background
    template_mark: str = "#8C8C8C"  # strip under tokens of the template's formatting (role names, newlines)
    system_mark: str = "#D55E00"  # strip under a default system prompt the template added (vermillion)
    generation_mark: str = "#0072B2"  # strip under the generation prompt (blue)
    sampled: str = "#8E44AD"  # generated tokens that were sampled rather than greedy


LIGHT = Palette(
    background="#FFFFFF",
    foreground="#1A1A1A",
    muted="#6B6B6B",  # 5.3:1 on white: de-emphasised, still readable text (WCAG AA)
    surface="#ECEEF2",
    accent="#007A5E",
    selection="#D4006F",
    last_token="#D62728",
    token="#1F77B4",
    positive="#B2182B",
    negative="#2166AC",
    masked="#C8C8C8",
    weight_tint="#F2A900",
)

DARK = Palette(
    background="#121417",
    foreground="#E8E8E8",
    muted="#969BA3",
    surface="#2A2E35",
    accent="#3DDC97",
    selection="#FF4FB0",
    last_token="#FF6A5F",
    token="#5AA9E6",
    positive="#D6604D",
    negative="#4393C3",
    masked="#4A4F57",
    weight_tint="#D99A00",
    control="#C3A6FF",
    control_fill="#342B4A",
    template_mark="#8A9099",
    system_mark="#FF8A3D",
    generation_mark="#56B4E9",
    sampled="#D7A6F0",
)

# Black on white with saturated, dark colours, every text at least 7:1 (WCAG AAA): survives a
# projector's washed-out blacks and a bright room. Okabe-Ito hues, darkened for contrast. The
# window around it differs from Light too (black outlines on every control, black highlight and
# tooltips: desktop/features/themes.py).
HIGH_CONTRAST = Palette(
    background="#FFFFFF",
    foreground="#000000",
    muted="#404040",
    surface="#E4E4E4",
    accent="#004D33",
    selection="#A3005C",
    last_token="#A30000",
    token="#003F8C",
    positive="#A50F15",
    negative="#08519C",
    masked="#9E9E9E",
    weight_tint="#FFB000",
    control="#3D1A78",
    control_fill="#DCD0F0",
    template_mark="#595959",
    system_mark="#B34700",
    generation_mark="#005A8C",
    sampled="#6A1B9A",
)

# Which palette colours are drawn as text on which (WCAG AA asks 4.5:1 of text, 3:1 of the
# lines and shapes a user must see: outlines, dots, bars). tests/viz/test_contrast.py holds
# every theme to them.
TEXT_PAIRS: tuple[tuple[str, str], ...] = (
    ("foreground", "background"),  # every label, tick and title
    ("foreground", "surface"),  # token chips
    ("muted", "background"),  # hint texts in empty fields, filtered-out bars' texts
    ("accent", "background"),  # generated text
    ("accent", "surface"),  # generated token chips
    ("selection", "background"),  # the selected token's label in the trajectories
    ("last_token", "background"),  # the last token's label in the trajectories
    ("control", "control_fill"),  # control tokens' chips (<|im_start|>)
    ("sampled", "background"),  # sampled tokens in the generated text
)
GRAPHIC_PAIRS: tuple[tuple[str, str], ...] = (
    ("selection", "surface"),  # the selected chip's outline
    ("accent", "surface"),  # a generated chip's outline
    ("token", "background"),  # dots and bars
    ("last_token", "background"),
    ("muted", "background"),  # filtered-out bars' outlines, zero lines
    ("system_mark", "surface"),  # the strip under a default system prompt the template added
    ("generation_mark", "surface"),  # the strip under the generation prompt
)


def attention_colormap() -> pg.ColorMap:
    """Sequential map for weights in [0, 1]: viridis is perceptually uniform and colour-blind safe."""
    return pg.colormap.get("viridis")


def diverging_colormap(palette: Palette = LIGHT) -> pg.ColorMap:
    """Blue-white-red map for signed values (Q/K/V strips): white is zero, red positive."""
    return pg.ColorMap(
        pos=[0.0, 0.5, 1.0],
        color=[QColor(palette.negative), QColor("#F7F7F7"), QColor(palette.positive)],
    )


def qcolor(colour: str, alpha: int | None = None) -> QColor:
    """A QColor from a palette entry, optionally with alpha 0..255."""
    c = QColor(colour)
    if alpha is not None:
        c.setAlpha(alpha)
    return c


def blend(a: str | QColor, b: str | QColor, t: float) -> QColor:
    """Linear mix of two colours: t=0 gives a, t=1 gives b (used for weight tints)."""
    ca, cb = QColor(a), QColor(b)
    t = min(max(float(t), 0.0), 1.0)
    return QColor.fromRgbF(
        ca.redF() + (cb.redF() - ca.redF()) * t,
        ca.greenF() + (cb.greenF() - ca.greenF()) * t,
        ca.blueF() + (cb.blueF() - ca.blueF()) * t,
    )


def relative_luminance(colour: str | QColor) -> float:
    """WCAG 2 relative luminance of an (opaque) colour, 0 = black .. 1 = white."""
    return _luminance(QColor(colour).rgb())


@functools.lru_cache(maxsize=4096)
def _luminance(rgb: int) -> float:
    """Cached by colour: every token chip asks for its text's contrast each time it paints, and a
    Run repaints hundreds of chips a second from a few dozen distinct tints."""
    c = QColor.fromRgb(rgb)

    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())


def contrast_ratio(a: str | QColor, b: str | QColor) -> float:
    """WCAG 2 contrast ratio of two colours, 1 (none) .. 21 (black on white)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


# Pure black and white: on any opaque background one of them reaches 4.58:1 (WCAG AA asks 4.5).
_DARK_TEXT, _LIGHT_TEXT = QColor("#000000"), QColor("#FFFFFF")


def readable_text_colour(background: QColor) -> QColor:
    """Black or white, whichever has the higher contrast on ``background`` (WCAG); never below 4.5:1."""
    dark, light = contrast_ratio(_DARK_TEXT, background), contrast_ratio(_LIGHT_TEXT, background)
    return QColor(_DARK_TEXT) if dark >= light else QColor(_LIGHT_TEXT)


def default_font_size() -> float:
    """The application's point size, so widgets follow the user's system setting by default."""
    app = QApplication.instance()
    size = app.font().pointSizeF() if app is not None else -1.0
    return size if size > 0 else 10.0


def make_font(point_size: float, bold: bool = False) -> QFont:
    """The application font at a given point size."""
    app = QApplication.instance()
    font = QFont(app.font()) if app is not None else QFont()
    font.setPointSizeF(point_size)
    font.setBold(bold)
    return font


class Styled:
    """``set_palette`` / ``set_font_size`` / ``set_line_scale`` for a viz widget that restyles
    itself in ``_apply_style()``.

    The theme menu and presentation mode find widgets by these methods. The line scale
    multiplies every line the widget draws (axes, outlines, trails); presentation mode turns
    it up so lines survive a projector. ``pen()`` is how a widget makes a scaled pen.
    """

    _theme: Palette
    _font_size: float
    _line_scale: float = 1.0
    _apply_style: Callable[[], None]  # each widget's own: restyle everything it draws

    def set_palette(self, palette: Palette) -> None:
        self._theme = palette
        self._apply_style()

    def set_font_size(self, point_size: float) -> None:
        """Text, tick and title size in points (presentation mode makes it large)."""
        self._font_size = point_size
        self._apply_style()

    def set_line_scale(self, scale: float) -> None:
        """Multiply every line width by ``scale`` (1 = normal; presentation mode makes it thick)."""
        self._line_scale = scale
        self._apply_style()

    def line_scale(self) -> float:
        return self._line_scale

    def pen(self, colour: object, width: float = 1.0, **kwargs: object) -> QPen:
        """A pyqtgraph pen ``width`` px wide at line scale 1."""
        return pg.mkPen(colour, width=width * self._line_scale, **kwargs)


def style_plot_item(plot: pg.PlotItem, palette: Palette, font_size: float, line_scale: float = 1.0) -> None:
    """Axis pens and tick fonts of a PlotItem in the palette's colours.

    Done in one place so every plot in the app has the same axis weight and tick font.
    """
    font = make_font(font_size)
    for name in ("left", "bottom", "right", "top"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(palette.foreground, width=line_scale))
        axis.setTextPen(pg.mkPen(palette.foreground))
        axis.setTickFont(font)
        axis.label.setFont(font)
        axis.label.setDefaultTextColor(qcolor(palette.foreground))


def set_plot_title(plot: pg.PlotItem, text: str, palette: Palette, font_size: float) -> None:
    """Set a PlotItem title whose row is tall enough for the font.

    PlotItem.setTitle fixes the title row at 30 px, which clips large presentation fonts.
    An empty text keeps the row (a space) so the plot does not jump when the text changes.
    """
    plot.setTitle(text or "&nbsp;", color=palette.foreground, size=f"{font_size:g}pt")
    height = int(QFontMetricsF(make_font(font_size)).height() * 1.5) + 4
    plot.titleLabel.setMaximumHeight(height)
    plot.layout.setRowFixedHeight(0, height)


def style_color_bar(bar: pg.ColorBarItem, palette: Palette, font_size: float, line_scale: float = 1.0) -> None:
    """Colour-bar frame and tick labels in the palette's colours, wide enough for the font.

    Its default pen is white (invisible on LIGHT) and its value axis a fixed 45 px, which
    clips large presentation fonts.
    """
    font = make_font(font_size)
    for name in ("left", "right", "top", "bottom"):
        bar.getAxis(name).setPen(pg.mkPen(palette.foreground, width=line_scale))
    bar.axis.setTextPen(pg.mkPen(palette.foreground))
    bar.axis.setTickFont(font)
    bar.axis.setWidth(int(QFontMetricsF(font).horizontalAdvance("0.00") + 16))
