"""One selection, one truth: after Step, Reset and Undo every panel shows the same token
(the chips, the attention row, the trajectory highlight, the distribution's "after position N",
the logit lens's position)."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt

from tests.desktop.helpers import CAPITAL, raise_dock

pytestmark = pytest.mark.builtin


def shown_positions(window) -> dict[str, int | None]:
    """The token each panel shows as selected, read from what it draws."""
    where = re.match(r"After position (\d+)", window.distribution_panel.where.text())
    return {
        "state": window.state.selection.position,
        "chips": window.prompt_panel.chips.selected(),
        "attention row": window.attention_panel.heatmap.selected_row(),
        "trajectories": window.trajectory_panel.plot.selected(),
        "distribution": int(where.group(1)) if where else None,
    }


def agree(window) -> bool:
    positions = shown_positions(window)
    return len(set(positions.values())) == 1 and not window.client.busy


def settle(window, qtbot) -> dict[str, int | None]:
    """Wait until the worker is idle and every panel has drawn, then read them."""
    try:
        qtbot.waitUntil(lambda: agree(window), timeout=60_000)
    except qtbot.TimeoutError:
        pytest.fail(f"the panels disagree: {shown_positions(window)}")
    return shown_positions(window)


def act(window, qtbot, button: str) -> None:
    with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
        qtbot.mouseClick(window.generation_panel.buttons[button], Qt.MouseButton.LeftButton)


@pytest.fixture
def window(make_window):
    w = make_window(prompt=CAPITAL)
    # Trajectories and distribution are both on screen in the 1920x1080 layout.
    raise_dock(w, "trajectories")
    raise_dock(w, "distribution")
    return w


def test_following_the_last_token_through_step_undo_reset(window, qtbot):
    assert settle(window, qtbot)["state"] == 11
    act(window, qtbot, "step")
    assert settle(window, qtbot)["state"] == 12  # the new token, " Paris", everywhere
    act(window, qtbot, "step")
    assert settle(window, qtbot)["state"] == 13
    act(window, qtbot, "undo")
    assert settle(window, qtbot)["state"] == 12
    act(window, qtbot, "reset")
    assert settle(window, qtbot)["state"] == 11


def test_a_chosen_token_stays_chosen_everywhere(window, qtbot):
    chips = window.prompt_panel.chips
    qtbot.mouseClick(chips.chip(10), Qt.MouseButton.LeftButton)  # " France"
    assert settle(window, qtbot)["state"] == 10
    assert window.distribution_panel.where.text().startswith("After position 10 (␣France)")
    act(window, qtbot, "step")
    positions = settle(window, qtbot)
    assert positions["state"] == 10, positions  # still " France", in every panel
    assert window.distribution_panel.where.text().startswith("After position 10 (␣France)")
    act(window, qtbot, "step")
    act(window, qtbot, "undo")
    assert settle(window, qtbot)["state"] == 10
    act(window, qtbot, "reset")
    assert settle(window, qtbot)["state"] == 10


def test_a_chosen_token_past_the_end_after_reset_moves_to_the_last(window, qtbot):
    act(window, qtbot, "step")
    act(window, qtbot, "step")
    settle(window, qtbot)
    qtbot.mouseClick(window.prompt_panel.chips.chip(12), Qt.MouseButton.LeftButton)  # " Paris", generated
    assert settle(window, qtbot)["state"] == 12
    act(window, qtbot, "reset")  # " Paris" is gone: the selection lands on the last prompt token
    assert settle(window, qtbot)["state"] == 11
    act(window, qtbot, "step")
    assert settle(window, qtbot)["state"] == 12  # and follows the end again
