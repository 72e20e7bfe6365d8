"""Presentation mode and themes on the real window (built-in model, offscreen)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QLabel

from desktop.features import presentation, themes
from viz.theme import DARK, LIGHT

pytestmark = pytest.mark.builtin

CAPITAL = "The capital of Germany is Berlin. The capital of France is"


@pytest.fixture
def window(make_window):
    w = make_window(prompt=CAPITAL)
    yield w
    if w.presentation.active:
        w.presentation.leave()
    w.themes.override(None)


def background(widget) -> str:
    return QApplication.palette().color(QPalette.ColorRole.Base).name().upper() if widget is None else \
        widget._theme.background.upper()


def test_enter_and_leave_restore_everything(window, qtbot):
    app = QApplication.instance()
    mode = window.presentation
    heat = window.attention_panel.heatmap
    bars = window.distribution_panel.bars
    font_before = app.font().pointSizeF()
    heat_before, bars_before = heat._font_size, bars._font_size
    chips_before = window.tokenizer_panel.chips["model"]._font_size
    # plots that once kept their small ticks on a projector: the lens's tracks, the heads' grid
    track, grid = window.lens_panel.track, window.heads_panel.grid
    small_before = (track._font_size, grid._font_size)
    theme_before = heat._theme
    state_before = window.windowState()
    assert window.menuBar().isVisible() and window.statusBar().isVisible()

    mode.enter()  # what F5 does
    assert mode.active and mode.action.isChecked()
    assert app.font().pointSizeF() == pytest.approx(font_before * presentation.FONT_SCALE)
    assert heat._font_size == pytest.approx(heat_before * presentation.FONT_SCALE)
    assert bars._font_size == pytest.approx(bars_before * presentation.FONT_SCALE)
    assert window.tokenizer_panel.chips["model"]._font_size == pytest.approx(chips_before * presentation.FONT_SCALE)
    for plot, before in zip((track, grid), small_before, strict=True):
        assert plot._font_size == pytest.approx(before * presentation.FONT_SCALE)
        tick_font = plot.getPlotItem().getAxis("left").style["tickFont"] if hasattr(plot, "getPlotItem") \
            else plot._plot.getAxis("left").style["tickFont"]
        assert tick_font.pointSizeF() == pytest.approx(before * presentation.FONT_SCALE)
    assert heat._theme is themes.HIGH_CONTRAST and bars._theme is themes.HIGH_CONTRAST
    for bold in (window.mlp_panel.title, window.anatomy_panel.summary):  # no style sheet freezes their size
        qtbot.waitUntil(lambda b=bold: b.font().pointSizeF() == pytest.approx(app.font().pointSizeF()), timeout=2_000)
        assert bold.font().bold()
    assert app.palette().color(QPalette.ColorRole.WindowText).name() == "#000000"
    assert app.palette().color(QPalette.ColorRole.Base).name() == "#ffffff"
    assert not window.menuBar().isVisible() and not window.statusBar().isVisible()
    assert window.windowState() & Qt.WindowState.WindowFullScreen
    legend = mode.legend
    assert legend.isVisible()
    assert ("Space", "step (greedy)") in legend.rows() and ("H", "hide / show this legend") in legend.rows()
    assert legend.geometry().right() < window.width() and legend.geometry().bottom() < window.height()
    qtbot.keyClick(window, Qt.Key.Key_H)
    assert not legend.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_H)
    assert legend.isVisible()

    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not mode.active and not mode.action.isChecked()
    assert app.font().pointSizeF() == pytest.approx(font_before)
    assert heat._font_size == pytest.approx(heat_before) and bars._font_size == pytest.approx(bars_before)
    assert window.tokenizer_panel.chips["model"]._font_size == pytest.approx(chips_before)
    assert (track._font_size, grid._font_size) == pytest.approx(small_before)
    assert heat._theme is theme_before
    assert window.menuBar().isVisible() and window.statusBar().isVisible()
    assert window.windowState() == state_before
    assert not legend.isVisible()


def test_f5_action_is_in_the_view_menu_and_toggles(window):
    action = window.presentation.action
    assert action.shortcut().toString() == "F5"
    view = window.menu("view")
    assert action in view.actions() and action in window.actions()
    action.trigger()
    assert window.presentation.active
    qtbot_free_toggle = window.presentation
    qtbot_free_toggle.toggle()
    assert not window.presentation.active


def test_single_keys_move_the_selection(window, qtbot):
    state = window.state
    window.presentation.enter()
    start = state.selection
    qtbot.keyClick(window, Qt.Key.Key_Up)
    assert state.selection.layer == start.layer + 1
    qtbot.keyClick(window, Qt.Key.Key_Down)
    qtbot.keyClick(window, Qt.Key.Key_Down)
    assert state.selection.layer == start.layer - 1
    qtbot.keyClick(window, Qt.Key.Key_BracketRight)
    assert state.selection.head == start.head + 1
    qtbot.keyClick(window, Qt.Key.Key_BracketLeft)
    assert state.selection.head == start.head
    assert start.position == state.trace.n_tokens - 1
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert state.selection.position == start.position - 1
    qtbot.keyClick(window, Qt.Key.Key_Comma)
    assert state.selection.position == start.position - 2
    qtbot.keyClick(window, Qt.Key.Key_Period)
    assert state.selection.position == start.position - 1
    # Modified keys keep their usual meaning: Alt+Up is the menu's "previous layer", not ours.
    layer = state.selection.layer
    qtbot.keyClick(window, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier)
    assert state.selection.layer == layer
    # Number keys switch the main view; P plays the layer animation (in the trajectories).
    qtbot.keyClick(window, Qt.Key.Key_2)
    assert window.docks["trajectories"].isVisible() and not window.docks["attention"].isVisible()
    qtbot.keyClick(window, Qt.Key.Key_1)
    assert window.docks["attention"].isVisible() and not window.docks["trajectories"].isVisible()
    slider = window.trajectory_panel.slider
    qtbot.keyClick(window, Qt.Key.Key_P)
    assert slider.is_playing() and window.presentation.main_view == "trajectories"
    qtbot.keyClick(window, Qt.Key.Key_P)
    assert not slider.is_playing()


def test_keys_step_sample_undo_reset(window, qtbot):
    state = window.state
    window.presentation.enter()
    n = state.trace.n_tokens
    with qtbot.waitSignal(state.trace_changed, timeout=60_000):
        qtbot.keyClick(window, Qt.Key.Key_Space)
    assert state.trace.n_tokens == n + 1 and state.label(int(state.trace.tokens.ids[-1])) == "␣Paris"
    with qtbot.waitSignal(state.trace_changed, timeout=60_000):
        qtbot.keyClick(window, Qt.Key.Key_S)
    assert state.trace.n_tokens == n + 2
    with qtbot.waitSignal(state.trace_changed, timeout=60_000):
        qtbot.keyClick(window, Qt.Key.Key_U)
    assert state.trace.n_tokens == n + 1
    with qtbot.waitSignal(state.trace_changed, timeout=60_000):
        qtbot.keyClick(window, Qt.Key.Key_Space)
    with qtbot.waitSignal(state.trace_changed, timeout=60_000):
        qtbot.keyClick(window, Qt.Key.Key_Backspace)
    assert state.trace.n_tokens == n + 1
    with qtbot.waitSignal(state.trace_changed, timeout=60_000):
        qtbot.keyClick(window, Qt.Key.Key_R)
    assert state.trace.n_tokens == n and state.result.n_new == 0


def test_typing_in_the_prompt_is_not_a_command(window, qtbot):
    window.presentation.enter()
    editor = window.prompt_panel.editor
    layer = window.state.selection.layer
    editor.setPlainText("")
    qtbot.keyClicks(editor, "spur")  # S, P, U, R would otherwise sample, play, undo, reset
    assert editor.toPlainText() == "spur"
    qtbot.keyClick(editor, Qt.Key.Key_Up)
    assert window.state.selection.layer == layer
    assert not window.trajectory_panel.slider.is_playing()
    qtbot.keyClick(editor, Qt.Key.Key_Escape)  # Esc still leaves, even from the editor
    assert not window.presentation.active


def test_keys_do_nothing_outside_presentation_mode(window, qtbot):
    layer = window.state.selection.layer
    qtbot.keyClick(window, Qt.Key.Key_Up)
    qtbot.keyClick(window, Qt.Key.Key_BracketRight)
    assert window.state.selection.layer == layer


def test_theme_menu_applies_and_remembers(window, isolated_settings):
    controller = window.themes
    heat = window.attention_panel.heatmap
    labels = [a.text() for a in controller.actions.values()]
    assert labels == ["System", "Light", "Dark", "High contrast"]
    try:
        controller.actions["dark"].trigger()
        assert heat._theme is DARK and window.trajectory_panel.plot._theme is DARK
        assert QApplication.palette().color(QPalette.ColorRole.Base).name().upper() == DARK.background
        assert window.settings.value(themes.SETTINGS_KEY) == "dark"
        # Presentation mode borrows high contrast and gives the chosen theme back.
        window.presentation.enter()
        assert heat._theme is themes.HIGH_CONTRAST
        window.presentation.leave()
        assert heat._theme is DARK and controller.theme == "dark"
        controller.actions["light"].trigger()
        assert heat._theme is LIGHT
        assert QApplication.palette().color(QPalette.ColorRole.Base).name().upper() == LIGHT.background
    finally:
        controller.set_theme(themes.SYSTEM)
    assert heat._theme is (DARK if themes.system_is_dark() else LIGHT)


def test_theme_choice_is_restored_in_a_new_window(make_window):
    first = make_window(prompt="Hello")
    first.themes.set_theme("high-contrast")
    first.settings.sync()
    try:
        second = make_window(prompt="Hello", restore=True)
        assert second.themes.theme == "high-contrast"
        assert second.attention_panel.heatmap._theme is themes.HIGH_CONTRAST
    finally:
        first.themes.set_theme(themes.SYSTEM)


def _line_widths(window) -> dict[str, float]:
    traj, heat, bars = window.trajectory_panel.plot, window.attention_panel.heatmap, window.distribution_panel.bars
    return {
        "last trail": traj.last_trail_item.opts["pen"].widthF(),
        "trajectory axis": traj.getPlotItem().getAxis("bottom").pen().widthF(),
        "heatmap selection": heat.selection_item.pen().widthF(),
        "bars axis": bars.getPlotItem().getAxis("bottom").pen().widthF(),
    }


def test_lines_thicken_for_the_projector_and_come_back(window):
    mode = window.presentation
    slider = window.trajectory_panel.slider
    before = _line_widths(window)
    mode.enter()
    assert _line_widths(window) == pytest.approx({k: w * presentation.LINE_SCALE for k, w in before.items()})
    assert slider.line_scale() == presentation.LINE_SCALE and slider._slider.styleSheet()
    assert window.tokenizer_panel.chips["model"].line_scale() == presentation.LINE_SCALE
    mode.leave()
    assert _line_widths(window) == pytest.approx(before)
    assert slider.line_scale() == 1 and not slider._slider.styleSheet()


def test_bar_labels_and_sample_counts_scale_with_the_font(window, qtbot):
    panel = window.distribution_panel
    bars = panel.bars
    normal = bars._font_size
    window.presentation.enter()
    panel.sample_many.click()  # counts make rows taller: labels still keep the font size
    assert bars._font_size == pytest.approx(normal * presentation.FONT_SCALE)

    def full_size_with_counts() -> bool:
        shown = [item for item in bars.text_items() if item.isVisible()]
        return len(shown) >= 5 and "×" in shown[0].toPlainText() and all(
            item.textItem.font().pointSizeF() == pytest.approx(bars._font_size) for item in shown)

    qtbot.waitUntil(full_size_with_counts, timeout=5_000)  # once the full-screen layout has landed


def _in_window(widget, window):
    from PySide6.QtCore import QRect

    return QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())


def test_full_screen_that_no_window_manager_applies_takes_the_screen(window, qtbot):
    """On a bare X server full screen is only a flag: the window kept its size, overhung a
    1366×768 screen by 6 px and cut the legend's second row, and the docks kept the normal split."""
    mode, screen = window.presentation, window.screen().geometry()
    with qtbot.waitSignal(mode.laid_out, timeout=5_000):
        mode.enter()
    window.resize(screen.width() - 200, screen.height() + 6)  # as if no window manager had resized it
    window.setWindowState(window.windowState() | Qt.WindowState.WindowFullScreen)
    assert window.isFullScreen() and window.size() != screen.size()
    with qtbot.waitSignal(mode.laid_out, timeout=5_000):
        mode.fit_docks()  # what entering does once the event loop turns
    assert window.isFullScreen() and window.size() == screen.size()
    legend = _in_window(mode.legend, window)
    assert legend.bottom() == screen.height() - 1  # the whole legend on the screen
    prompt = window.docks["prompt"]
    assert prompt.height() <= prompt.widget().minimumSizeHint().height() + 24 + 1 or \
        prompt.height() <= screen.height() * presentation.PROMPT_SHARE + 1  # the presentation split


def test_a_maximized_window_that_overhangs_the_screen_is_brought_inside(make_window, qtbot, monkeypatch):
    """With no window manager "maximized" is only a flag too (offscreen Qt applies it, so the flag
    is faked here): the window is brought inside the screen instead of trusting the flag."""
    window = make_window(prompt=CAPITAL)
    available = window.screen().availableGeometry()
    window.resize(available.width(), available.height() + 40)
    qtbot.waitUntil(lambda: window.height() == available.height() + 40, timeout=2_000)
    monkeypatch.setattr(window, "isMaximized", lambda: True)
    window.fit_to_screen()
    qtbot.waitUntil(lambda: available.contains(window.frameGeometry()), timeout=2_000)


def test_legend_is_a_bottom_bar_that_covers_no_panel(window, qtbot):
    mode = window.presentation
    mode.enter()
    qtbot.waitUntil(lambda: mode.legend.isVisible() and mode.legend.height() > 0)
    legend = _in_window(mode.legend, window)
    assert not legend.intersects(_in_window(window.distribution_panel.bars, window))
    for key, dock in window.docks.items():
        if dock.isVisible() and not dock.isFloating():
            assert not legend.intersects(_in_window(dock, window)), key
    assert legend.bottom() >= window.height() - 2 and legend.width() >= window.width() - 2  # along the bottom
    assert mode.legend.label.sizeHint().width() <= window.width()  # every key fits across the window
    assert ("H", "hide / show this legend") in mode.legend.rows()


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # offscreen cannot raise the floated dock
def test_distribution_controls_wrap_instead_of_clipping(window, qtbot):
    panel = window.distribution_panel
    window.presentation.enter()
    qtbot.waitUntil(lambda: window.docks["distribution"].isVisible(), timeout=5_000)  # laid out
    dock = window.docks["distribution"]
    dock.setFloating(True)  # e.g. dragged beside the slides: a third of a 1920-pixel projector
    dock.resize(640, 600)
    qtbot.waitUntil(lambda: panel.width() <= 640, timeout=5_000)
    panel.more.setChecked(True)  # the second row of knobs too
    controls = [panel.temperature, panel.top_k, panel.top_p, panel.min_p, panel.seed, panel.more, panel.show_logits,
                panel.n_samples, panel.sample_many, panel.repetition, panel.frequency, panel.presence, panel.stop,
                panel.bias, panel.reset_knobs]
    names = ("Temperature", "Top-k", "Top-p", "Min-p", "Seed", "Rep. penalty", "Freq.", "Pres.", "Stop", "Bias")
    labels = [w for w in panel.findChildren(QLabel) if w.text() in names]
    assert len(labels) == len(names)
    for control in controls + labels:
        box = _in_window(control, panel)
        assert box.left() >= 0 and box.right() < panel.width(), control
        assert control.width() >= control.sizeHint().width(), control  # not squeezed: "Temperature" in full
    lowest = max(_in_window(c, panel).bottom() for c in controls)
    assert _in_window(panel.bars, panel).top() > lowest  # the wrapped rows push the bars down


def test_the_anatomy_calculator_scrolls_instead_of_clipping(window, qtbot):
    """In presentation mode's large font the form is wider than its column: it scrolls sideways
    (it was cut off at a fixed 420 px, values and spin-box arrows lost)."""
    panel = window.anatomy_panel
    window.presentation.enter()
    window.raise_dock("anatomy")
    qtbot.waitUntil(lambda: panel.isVisible() and panel.calculator.width() > 0, timeout=5_000)
    qtbot.wait(50)  # the form has the large font, and its column its new width
    form = panel.calculator
    assert form.width() >= form.minimumSizeHint().width()
    cut = form.width() > panel.calculator_scroll.viewport().width()
    assert not cut or panel.calculator_scroll.horizontalScrollBar().maximum() > 0  # what does not fit, scrolls


def test_generation_controls_take_two_rows_instead_of_clipping(window, qtbot):
    panel = window.generation_panel
    window.presentation.enter()
    qtbot.waitUntil(lambda: window.docks["generation"].isVisible(), timeout=5_000)
    dock = window.docks["generation"]
    dock.setFloating(True)  # a narrow column beside the slides
    dock.resize(560, 400)
    qtbot.waitUntil(lambda: panel.width() <= 560, timeout=5_000)
    controls = [*panel.buttons.values(), panel.run_mode, panel.max_new, panel.counter]
    qtbot.waitUntil(lambda: all(c.width() >= c.sizeHint().width() for c in controls), timeout=5_000)
    for control in controls:  # "Run to end · greedy" and "max 20" in full, inside the panel
        box = _in_window(control, panel)
        assert box.left() >= 0 and box.right() < panel.width(), control
    step, run = _in_window(panel.buttons["step"], panel), _in_window(panel.buttons["run"], panel)
    assert run.top() > step.bottom()  # Run … max on a second row
    dock.resize(1800, 400)  # room again: one row
    qtbot.waitUntil(lambda: _in_window(panel.buttons["run"], panel).top()
                    == _in_window(panel.buttons["step"], panel).top(), timeout=5_000)


def visible_docks(window) -> set[str]:
    return {k for k, d in window.docks.items() if d.isVisible() and not d.visibleRegion().isEmpty()}


def test_presentation_has_its_own_layout_of_few_large_panels(window, qtbot):
    """Prompt on top, one main view, distribution and generation beside it; nothing behind a tab;
    the number keys switch the main view in the same place; leaving gives the layout back."""
    before = visible_docks(window)
    mode = window.presentation
    with qtbot.waitSignal(mode.laid_out, timeout=5_000):
        mode.enter()
    assert visible_docks(window) == {"prompt", "attention", "distribution", "generation"}
    assert not any(window.tabifiedDockWidgets(d) and any(o.isVisible() for o in window.tabifiedDockWidgets(d))
                   for d in window.docks.values() if d.isVisible())  # no tab bars at all
    attention = _in_window(window.docks["attention"], window)
    assert attention.width() > window.width() * 0.5 and attention.height() > window.height() * 0.5
    # The title bar lists the views with their keys; 3 puts the lens in the same place.
    title = window.docks["attention"].titleBarWidget()
    assert "1 Attention" in title.text() and "3 Lens" in title.text()
    qtbot.keyClick(window, Qt.Key.Key_3)
    assert visible_docks(window) == {"prompt", "lens", "distribution", "generation"}
    assert _in_window(window.docks["lens"], window) == attention
    window.raise_dock("kv_cache")  # any other dock (a lesson's, the anatomy's clicks) goes there too
    assert "kv_cache" in visible_docks(window) and "lens" not in visible_docks(window)
    mode.show_view("attention")
    mode.leave()
    qtbot.waitUntil(lambda: visible_docks(window) == before, timeout=5_000)
    assert window.docks["attention"].titleBarWidget() is None


def test_a_lesson_opened_in_presentation_sits_under_the_main_view(window, qtbot):
    mode, player, panel = window.presentation, window.lessons, window.lessons.panel
    mode.enter()
    assert "lesson" not in visible_docks(window)  # no lesson open: no room spent on it
    with qtbot.waitSignal(player.step_applied, timeout=60_000):
        panel.lessons.setCurrentIndex(1)
        panel.lessons.activated.emit(1)
    qtbot.waitUntil(lambda: "lesson" in visible_docks(window), timeout=5_000)
    lesson, main = _in_window(window.docks["lesson"], window), _in_window(window.docks["attention"], window)
    assert lesson.top() > main.bottom() - 2 and lesson.left() == main.left()
    assert lesson.height() >= 80
    with qtbot.waitSignal(player.step_applied, timeout=60_000):
        qtbot.keyClick(window, Qt.Key.Key_N)  # step 2 of the lesson shows a dock: it lands in the main view
    step = player.lesson.steps[player.index]
    if step.dock in presentation.MAIN_VIEWS:
        assert mode.main_view == step.dock and step.dock in visible_docks(window)


def test_font_scale_follows_the_screen_height():
    assert presentation.font_scale_for(1080) == pytest.approx(presentation.FONT_SCALE)
    assert presentation.font_scale_for(2160) == pytest.approx(presentation.FONT_SCALE)  # never more
    assert presentation.font_scale_for(768) == pytest.approx(presentation.MIN_FONT_SCALE)
    assert presentation.MIN_FONT_SCALE < presentation.font_scale_for(900) < presentation.FONT_SCALE


def test_an_export_in_presentation_mode_is_confirmed_on_screen(window, qtbot, tmp_path):
    from desktop.features.export_actions import export_panel_png

    window.presentation.enter()
    assert not window.statusBar().isVisible()
    path = export_panel_png(window, "attention", tmp_path / "attention.png")
    assert path is not None and path.exists()
    legend = window.presentation.legend
    assert legend.isVisible() and "Exported the Attention panel" in legend.label.text()
    assert "Exported the Attention panel" in window.status_label.text()  # there too, for after
