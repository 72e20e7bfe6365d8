"""TokenChips: chips show the right tokens, clicks and arrows select, styling follows state."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from viz.theme import DARK, LIGHT
from viz.token_chips import TokenChips

LABELS = ["The", "␣capital", "␣of", "␣France", "␣is"]
IDS = [464, 3139, 286, 4881, 318]


@pytest.fixture
def chips(show) -> TokenChips:
    widget = TokenChips(font_size=11)
    widget.set_tokens(LABELS, IDS, tooltips=[f"id {i}" for i in IDS])
    return show(widget, (600, 200))


def test_one_chip_per_token_with_label_and_id(chips: TokenChips) -> None:
    assert chips.count() == 5
    assert [chips.chip(i).label for i in range(5)] == LABELS
    assert [chips.chip(i).token_id for i in range(5)] == IDS
    assert chips.chip(3).toolTip() == "id 4881"
    assert all(chips.chip(i).isVisible() for i in range(5))


def test_fewer_tokens_reuses_and_hides_chips(chips: TokenChips) -> None:
    first = chips.chip(0)
    hidden = chips._chips[4]
    chips.set_tokens(["A", "B"], [1, 2])
    assert chips.count() == 2
    assert chips.chip(0) is first  # reused, not recreated
    assert chips.chip(0).label == "A"
    assert not hidden.isVisible()
    with pytest.raises(IndexError):
        chips.chip(2)


def test_click_emits_index_and_selects(chips: TokenChips, qtbot) -> None:
    with qtbot.waitSignal(chips.chip_clicked, timeout=1000) as blocker:
        qtbot.mouseClick(chips.chip(2), Qt.MouseButton.LeftButton)
    assert blocker.args == [2]
    assert chips.selected() == 2
    assert chips.chip(2).is_selected and not chips.chip(1).is_selected


def test_selected_chip_is_outlined_in_selection_colour(chips: TokenChips) -> None:
    chip = chips.chip(1)
    top_centre = (chip.width() // 2, 1)
    before = chip.grab().toImage().pixelColor(*top_centre)
    chips.set_selected(1)
    after = chip.grab().toImage().pixelColor(*top_centre)
    assert before != QColor(LIGHT.selection)
    assert after == QColor(LIGHT.selection)
    assert chip.border_colour() == QColor(LIGHT.selection)
    chips.set_selected(None)
    assert chip.border_colour() is None and not chip.is_selected


def test_generated_tokens_use_accent(chips: TokenChips) -> None:
    chips.set_tokens(LABELS, IDS, new_from=3)
    assert [chips.chip(i).is_new for i in range(5)] == [False, False, False, True, True]
    assert chips.chip(4).text_colour() == QColor(LIGHT.accent)
    assert chips.chip(4).border_colour() == QColor(LIGHT.accent)
    assert chips.chip(0).text_colour() == QColor(LIGHT.foreground)


def test_weights_tint_backgrounds(chips: TokenChips) -> None:
    chips.set_weights(np.array([0.0, 1.0, 0.5, 0.0, 0.0]))
    assert chips.chip(0).background_colour() == QColor(LIGHT.surface)
    assert chips.chip(1).background_colour() == QColor(LIGHT.weight_tint)
    assert chips.chip(2).background_colour() not in (QColor(LIGHT.surface), QColor(LIGHT.weight_tint))
    pixel = chips.chip(1).grab().toImage().pixelColor(chips.chip(1).width() // 2, chips.chip(1).height() - 4)
    assert pixel == QColor(LIGHT.weight_tint)
    chips.set_weights(None)
    assert chips.chip(1).background_colour() == QColor(LIGHT.surface)
    with pytest.raises(ValueError):
        chips.set_weights(np.ones(4))


def test_arrow_keys_move_selection(chips: TokenChips, qtbot) -> None:
    chips.setFocus()
    chips.set_selected(1)
    with qtbot.waitSignal(chips.chip_clicked, timeout=1000) as blocker:
        qtbot.keyClick(chips, Qt.Key.Key_Right)
    assert blocker.args == [2]
    with qtbot.waitSignal(chips.chip_clicked, timeout=1000) as blocker:
        qtbot.keyClick(chips, Qt.Key.Key_Left)
        qtbot.keyClick(chips, Qt.Key.Key_Left)
    assert chips.selected() == 0
    with qtbot.assertNotEmitted(chips.chip_clicked):
        qtbot.keyClick(chips, Qt.Key.Key_Left)  # already at the first token
    assert chips.selected() == 0


def test_chips_wrap_onto_lines_without_overlap(chips: TokenChips, qtbot) -> None:
    labels = [f"token{i}" for i in range(40)]
    chips.set_tokens(labels, list(range(40)))
    qtbot.waitUntil(lambda: chips.chip(39).y() > chips.chip(0).y(), timeout=1000)
    rects = [chips.chip(i).geometry() for i in range(40)]
    assert all(r.right() < chips._container.width() for r in rects)
    for a in range(40):
        for b in range(a + 1, 40):
            assert not rects[a].intersects(rects[b])


def test_thousand_tokens_reuse_widgets(chips: TokenChips) -> None:
    labels = [f"␣w{i}" for i in range(1024)]
    start = time.perf_counter()
    chips.set_tokens(labels, list(range(1024)))
    pool = list(chips._chips)
    chips.set_tokens(labels + ["␣more"], list(range(1025)), new_from=1024)
    assert chips._chips[:1024] == pool  # only one new chip was made
    assert chips.count() == 1025 and chips.chip(1024).is_new
    assert time.perf_counter() - start < 5.0


def test_set_palette_repaints_in_new_colours(chips: TokenChips) -> None:
    chips.set_palette(DARK)
    assert chips.chip(0).background_colour() == QColor(DARK.surface)
    chips.set_selected(0)
    assert chips.chip(0).border_colour() == QColor(DARK.selection)


def test_control_tokens_and_template_parts_are_drawn_apart(show) -> None:
    from viz.token_chips import MARK_GENERATION, MARK_SYSTEM, MARK_TEMPLATE, chip_legend

    labels = ["<|im_start|>", "system", "You", "Hi", "<|im_end|>", "<|im_start|>", "assistant"]
    control = [True, False, False, False, True, True, False]
    marks = [MARK_TEMPLATE, MARK_TEMPLATE, MARK_SYSTEM, "", MARK_TEMPLATE, MARK_GENERATION, MARK_GENERATION]
    widget = show(TokenChips(font_size=11), (700, 200))
    widget.set_tokens(labels, list(range(7)), control=control, marks=marks)
    start, typed, system = widget.chip(0), widget.chip(3), widget.chip(2)
    assert start.is_control and not typed.is_control
    assert start.background_colour() == QColor(LIGHT.control_fill) != typed.background_colour()
    assert start.border_colour() == QColor(LIGHT.control) and typed.border_colour() is None
    assert start.text_colour() == QColor(LIGHT.control)
    assert system.mark == MARK_SYSTEM and system.mark_colour() == QColor(LIGHT.system_mark)
    assert widget.chip(6).mark_colour() == QColor(LIGHT.generation_mark)
    assert typed.mark == "" and typed.mark_colour() is None
    assert system._label_font().italic() and not typed._label_font().italic()
    # a strip of the system prompt's colour is painted along the bottom of its chip
    image = system.grab().toImage()
    bottom = [image.pixelColor(x, image.height() - 3 - 1) for x in range(4, image.width() - 4)]
    assert any(c.rgb() == QColor(LIGHT.system_mark).rgb() for c in bottom)
    assert "control token" in chip_legend() and "default system prompt" in chip_legend()
    with pytest.raises(ValueError):
        widget.set_tokens(["a"], [1], marks=["nonsense"])
