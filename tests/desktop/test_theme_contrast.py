"""Every theme's text is readable (WCAG AA 4.5:1; high contrast AAA 7:1), its lines and shapes
visible (3:1), and high contrast is a theme of its own, not Light again."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor, QPalette

from desktop.features import themes
from viz.theme import (
    DARK,
    GRAPHIC_PAIRS,
    HIGH_CONTRAST,
    LIGHT,
    TEXT_PAIRS,
    blend,
    contrast_ratio,
    readable_text_colour,
)

PALETTES = {"light": LIGHT, "dark": DARK, "high-contrast": HIGH_CONTRAST}
TEXT_MINIMUM = {"light": 4.5, "dark": 4.5, "high-contrast": 7.0}


def test_contrast_ratio_matches_wcag_reference_values():
    assert contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast_ratio("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)
    assert contrast_ratio("#767676", "#FFFFFF") == pytest.approx(4.54, abs=0.01)  # the classic AA grey


@pytest.mark.parametrize("name", list(PALETTES))
def test_every_text_pair_of_the_viz_palette_is_readable(name):
    palette = PALETTES[name]
    low = {f"{fg} on {bg}": round(contrast_ratio(getattr(palette, fg), getattr(palette, bg)), 2)
           for fg, bg in TEXT_PAIRS}
    assert {k: v for k, v in low.items() if v < TEXT_MINIMUM[name]} == {}


@pytest.mark.parametrize("name", list(PALETTES))
def test_every_line_and_shape_of_the_viz_palette_is_visible(name):
    palette = PALETTES[name]
    low = {f"{fg} on {bg}": round(contrast_ratio(getattr(palette, fg), getattr(palette, bg)), 2)
           for fg, bg in GRAPHIC_PAIRS}
    assert {k: v for k, v in low.items() if v < 3.0} == {}


@pytest.mark.parametrize("name", list(PALETTES))
def test_every_text_pair_of_the_qt_palette_is_readable(qapp, name):
    pal = themes.qt_palette(PALETTES[name], QPalette())
    low = {f"{fg.name} on {bg.name}": round(contrast_ratio(pal.color(fg), pal.color(bg)), 2)
           for fg, bg in themes.QT_TEXT_PAIRS}
    assert {k: v for k, v in low.items() if v < 4.5} == {}


@pytest.mark.parametrize("name", list(PALETTES))
def test_text_on_tinted_cells_and_chips_is_readable(qapp, name):
    """The lens table's cells (page colour -> token colour by probability), the bars' texts inside
    a bar, and the chips tinted by attention: black or white, whichever reads, always >= 4.5:1."""
    palette = PALETTES[name]
    backgrounds = [blend(palette.background, palette.token, float(p) ** 0.5) for p in np.linspace(0, 1, 41)]
    backgrounds += [blend(palette.surface, palette.weight_tint, float(w)) for w in np.linspace(0, 1, 41)]
    backgrounds += [QColor(palette.token), QColor(palette.muted)]
    worst = min(contrast_ratio(readable_text_colour(bg), bg) for bg in backgrounds)
    assert worst >= 4.5


def test_readable_text_colour_reads_on_every_grey(qapp):
    greys = [QColor(v, v, v) for v in range(256)]
    assert min(contrast_ratio(readable_text_colour(g), g) for g in greys) >= 4.5


def test_token_chip_text_stays_readable_on_every_tint(qtbot):
    from viz.token_chips import TokenChips

    for palette in PALETTES.values():
        chips = TokenChips(palette=palette)
        qtbot.addWidget(chips)
        chips.set_tokens(["␣Paris", "␣new"], [1, 2], new_from=1)
        for weight in np.linspace(0, 1, 21):
            chips.set_weights(np.array([weight, weight]))
            for i in (0, 1):
                chip = chips.chip(i)
                assert contrast_ratio(chip.text_colour(), chip.background_colour()) >= 4.5, (palette, weight)


def test_high_contrast_is_clearly_not_light(qapp):
    differing = [f for f in LIGHT.__dataclass_fields__ if getattr(LIGHT, f) != getattr(HIGH_CONTRAST, f)]
    assert len(differing) >= 8
    # Every text of the high-contrast palette reaches AAA; Light's need only reach AA.
    assert min(contrast_ratio(getattr(HIGH_CONTRAST, a), getattr(HIGH_CONTRAST, b)) for a, b in TEXT_PAIRS) >= 7
    assert min(contrast_ratio(getattr(LIGHT, a), getattr(LIGHT, b)) for a, b in TEXT_PAIRS) < 7
    light, high = themes.qt_palette(LIGHT, QPalette()), themes.qt_palette(HIGH_CONTRAST, QPalette())
    roles = QPalette.ColorRole
    assert high.color(roles.Highlight) == QColor("#000000") != light.color(roles.Highlight)
    assert high.color(roles.ToolTipBase) == QColor("#000000") != light.color(roles.ToolTipBase)
    assert high.color(roles.Window) != light.color(roles.Window)
    # Controls get a black outline in high contrast, a light one in dark, none in light.
    assert themes.outline_colour(themes.HIGH_CONTRAST_THEME) == QColor("#000000")
    assert themes.outline_colour(themes.DARK_THEME) == QColor(DARK.muted)
    assert themes.outline_colour(themes.LIGHT_THEME) is None
    assert contrast_ratio(themes.outline_colour(themes.DARK_THEME), themes.qt_palette(DARK).color(roles.Window)) >= 3
