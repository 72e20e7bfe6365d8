"""Themes on the real window: nothing stays white in Dark, controls stay visible, the lens's cells
stay readable, and menu texts show a literal "&"."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QMenu, QStyle, QStyleOptionButton

from tests.desktop.helpers import CAPITAL, show_lens
from viz.theme import DARK, contrast_ratio

pytestmark = pytest.mark.builtin


@pytest.fixture
def window(make_window):
    w = make_window(prompt=CAPITAL)
    yield w
    w.themes.set_theme("system")


def indicator_contrast(box) -> float:
    """The strongest contrast between the unchecked indicator's pixels and the window colour."""
    option = QStyleOptionButton()
    box.initStyleOption(option)
    rect: QRect = box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, box)
    image = box.grab().toImage()
    ratio = box.devicePixelRatioF()
    window_colour = box.palette().color(QPalette.ColorRole.Window)
    best = 1.0
    for x in range(int(rect.left() * ratio), int((rect.right() + 1) * ratio)):
        for y in range(int(rect.top() * ratio), int((rect.bottom() + 1) * ratio)):
            best = max(best, contrast_ratio(image.pixelColor(x, y), window_colour))
    return best


def test_an_unchecked_box_is_visible_in_dark(window):
    box = window.trajectory_panel.trails
    box.setChecked(False)
    window.themes.set_theme("dark")
    QApplication.processEvents()
    assert indicator_contrast(box) >= 3.0  # WCAG's contrast for a control's edge
    window.themes.set_theme("high-contrast")
    QApplication.processEvents()
    assert indicator_contrast(box) >= 7.0


def test_anatomy_and_lens_follow_the_dark_theme(window, qtbot):
    window.raise_dock("anatomy")
    anatomy = window.anatomy_panel
    qtbot.waitUntil(lambda: anatomy.anatomy is not None, timeout=60_000)
    show_lens(window, qtbot)
    window.themes.set_theme("dark")
    diagram = anatomy.diagram
    assert diagram.backgroundBrush().color() == QColor(DARK.background)
    assert all(diagram.box_fill(kind).lightnessF() < 0.5 for kind in ("embed", "attention", "mlp", "norm", "add"))
    table = window.lens_panel.table
    qtbot.waitUntil(lambda: table.rowCount() > 0, timeout=60_000)
    cells = [table.item(r, c) for r in range(table.rowCount()) for c in range(table.columnCount())]
    assert min(contrast_ratio(i.foreground().color(), i.background().color()) for i in cells) >= 4.5
    assert max(i.background().color().lightnessF() for i in cells[:5]) < 0.95  # not white cells on a dark page


def menu_texts(menu: QMenu, path: str = "") -> list[str]:
    texts = []
    for action in menu.actions():
        if action.isSeparator() or not action.text():
            continue
        texts.append(f"{path}{action.text()}")
        if action.menu() is not None:
            texts += menu_texts(action.menu(), f"{path}{action.text()} ▸ ")
    return texts


def test_generated_text_takes_the_new_themes_colours(window, qtbot):
    panel = window.generation_panel
    with qtbot.waitSignal(window.state.trace_changed, timeout=60_000):
        panel.buttons["step"].click()
    window.themes.set_theme("dark")
    accent = QColor(DARK.accent).name()
    # the counts under the text and the greedy token itself, not the light theme's link blue
    qtbot.waitUntil(lambda: f"color:{accent}" in panel.legend.text(), timeout=5_000)
    assert accent in panel.text.toHtml().lower()


def test_menu_texts_show_a_literal_ampersand(window):
    texts = []
    for top in window.menuBar().actions():
        texts += menu_texts(top.menu())
    # A single "&" before a space is eaten as a shortcut marker: "Prompt _tokens".
    eaten = [t for t in texts if re.search(r"(?<!&)&(?!&)\s", t)]
    assert eaten == []
    assert any("Prompt && tokens" in t for t in texts)  # shown as "Prompt & tokens"
