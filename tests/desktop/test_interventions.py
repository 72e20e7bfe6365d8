"""Interventions through the real window: right-click Ablate, the Interventions list (each switchable off),
Reset model back to the original numbers bit for bit, attention temperature in the heatmap's data, the
before → after line, the ablation scan (and its Cancel), patching's length check, sessions and lessons."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from desktop.features.lessons.files import builtin_lessons
from model_core.engine.interventions.applied import applied
from model_core.engine.interventions.scan import ablation_scan
from model_core.engine.tracing import encode, run_trace
from model_core.types.interventions import Ablation, AttentionTemperature, InterventionSet
from tests.desktop.helpers import raise_dock

PROMPT = "The capital of France is Paris. The capital of Germany is"


@pytest.fixture
def window(make_window, tiny_gpt2_dir):
    return make_window(model=str(tiny_gpt2_dir), prompt=PROMPT)


def changed(window, qtbot, do):
    """Do something that sets interventions and wait for the trace run again under them."""
    with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
        do()
    qtbot.waitUntil(lambda: not window.feature("interventions").controller._set.pending, timeout=10_000)


def test_ablate_from_the_heatmap_menu_switch_off_and_reset(window, qtbot, tiny_gpt2):
    feature = window.feature("interventions")
    state, panel = window.state, feature.panel
    original = state.trace
    state.select(layer=1, head=2)
    menu = feature._head_menu(window.attention_panel.heatmap, QPoint(5, 5))
    texts = [a.text() for a in menu.actions() if a.text()]
    assert texts[:2] == ["Ablate head 1.2 (zero)", "Ablate head 1.2 (mean)"] and "Reset model" in texts
    changed(window, qtbot, menu.actions()[0].trigger)
    assert [panel.list.item(i).text() for i in range(panel.list.count())] == ["Ablate head 1.2 (zero)"]
    assert not panel.remove_button.isEnabled()  # nothing selected to remove
    panel.list.setCurrentRow(0)
    assert panel.remove_button.isEnabled()
    with applied(tiny_gpt2, InterventionSet((Ablation("head", 1, 2),))):
        reference = run_trace(tiny_gpt2, PROMPT, lens=False)
    np.testing.assert_allclose(state.trace.next_logits, reference.next_logits, atol=1e-5)
    np.testing.assert_allclose(state.trace.attn_out, reference.attn_out, atol=1e-5)
    qtbot.waitUntil(lambda: feature.comparison_shown() != "", timeout=20_000)  # before → after on the bars
    assert "→" in feature.comparison_shown()

    # Switched off on its own: the numbers are the original ones, the item stays listed.
    changed(window, qtbot, lambda: panel.list.item(0).setCheckState(Qt.CheckState.Unchecked))
    np.testing.assert_array_equal(state.trace.next_logits, original.next_logits)
    assert panel.list.count() == 1 and panel.list.item(0).checkState() == Qt.CheckState.Unchecked
    assert feature.comparison_shown() == ""

    changed(window, qtbot, lambda: panel.list.item(0).setCheckState(Qt.CheckState.Checked))
    changed(window, qtbot, panel.reset_button.click)
    assert panel.list.count() == 0 and "as trained" in panel.message.text()
    assert not panel.remove_button.isEnabled()
    for name, array in original.arrays().items():
        np.testing.assert_array_equal(getattr(state.trace, name), array, err_msg=name)
    np.testing.assert_array_equal(state.trace.next_logits, original.next_logits)


def test_attention_temperature_changes_the_heatmap_and_generation_follows(window, qtbot, tiny_gpt2):
    feature = window.feature("interventions")
    panel, state = feature.panel, window.state
    panel.temperature_spin.setValue(3.0)
    changed(window, qtbot, panel.temperature_apply.click)
    with applied(tiny_gpt2, InterventionSet((AttentionTemperature(3.0),))):
        reference = run_trace(tiny_gpt2, PROMPT, lens=False)
    np.testing.assert_allclose(state.trace.attention.astype(np.float32), reference.attention.astype(np.float32),
                               atol=2e-3)
    raise_dock(window, "attention")
    qtbot.waitUntil(lambda: window.attention_panel.heatmap.image_item.image is not None, timeout=10_000)
    shown = window.attention_panel.heatmap.image_item.image
    sel = state.selection
    plain = run_trace(tiny_gpt2, PROMPT, lens=False).attention[sel.layer, sel.head].astype(np.float32)
    hot = np.nan_to_num(np.asarray(shown, dtype=np.float32))
    np.testing.assert_allclose(np.tril(hot), state.trace.attention[sel.layer, sel.head].astype(np.float32), atol=2e-3)
    assert hot[1:].max(-1).mean() < plain[1:].max(-1).mean()  # the heatmap drawn is flatter
    with qtbot.waitSignal(state.projection_changed, timeout=60_000):
        window.generation_action("step")  # generation goes on under the temperature
    assert state.result.n_new == 1
    # Back to 1.0: the temperature item goes, the model is the trained one.
    panel.temperature_spin.setValue(1.0)
    changed(window, qtbot, panel.temperature_apply.click)
    assert not feature.controller.interventions.items


def test_bad_interventions_say_why_and_change_nothing(window, qtbot):
    feature = window.feature("interventions")
    before = window.state.trace.next_logits.copy()
    with qtbot.waitSignal(feature.controller.failed, timeout=20_000) as blocker:
        feature.controller.add(Ablation("head", 0, 99))
    assert "no head 0.99" in blocker.args[0]
    assert not feature.controller.interventions.items
    np.testing.assert_array_equal(window.state.trace.next_logits, before)


def test_the_scan_equals_the_engine_and_cancel_leaves_nothing(window, qtbot, tiny_gpt2):
    panel = window.feature("interventions").panel
    assert panel.start_scan()
    qtbot.waitUntil(lambda: panel.scan_result is not None, timeout=120_000)
    engine = ablation_scan(tiny_gpt2, encode(tiny_gpt2, PROMPT))
    np.testing.assert_allclose(panel.scan_result.heads, engine.heads, atol=1e-5)
    np.testing.assert_allclose(panel.scan_heads.values(), engine.head_drop, atol=1e-5)
    assert panel.scan_table.rowCount() == engine.heads.size + 2 * tiny_gpt2.info.n_layers
    assert float(panel.scan_table.item(0, 4).text()) == pytest.approx(
        max(engine.head_drop.max(), engine.attention_drop.max(), engine.mlp_drop.max()), abs=1e-4)  # sorted by drop
    panel.scan_heads.cell_clicked.emit(2, 3)
    assert (window.state.selection.layer, window.state.selection.head) == (2, 3)
    changed(window, qtbot, panel.ablate_top.click)
    assert len(window.feature("interventions").controller.interventions) == 5

    panel.scan_result = None
    assert panel.start_scan()
    window.client.cancel()
    qtbot.waitUntil(lambda: not panel._scan_asker.pending, timeout=60_000)
    assert len(window.feature("interventions").controller.interventions) == 5  # nothing half-applied


def test_patching_prompts_of_different_lengths_are_explained(window, qtbot):
    panel = window.feature("interventions").panel
    panel.clean_edit.setText("The capital of France is")
    panel.corrupt_edit.setText("The capital of the United Kingdom is")
    assert panel.start_patching()
    qtbot.waitUntil(lambda: not panel._patch_asker.pending, timeout=60_000)
    panel.tabs.setCurrentIndex(2)
    assert panel.patch_result is None
    assert "same count" in panel.patch_note.text() or "same count" in panel.message.text()


def test_the_grids_keep_room_for_every_layer_in_a_short_dock(window, qtbot):
    """The dock sits behind the distribution, about a third of the window high: the scan and
    patching pages scroll instead of squeezing a layer × position grid into a few pixels."""
    feature = window.feature("interventions")
    raise_dock(window, "interventions")
    for index, grid in ((1, feature.panel.scan_heads), (2, feature.panel.patch_residual)):
        feature.panel.tabs.setCurrentIndex(index)
        qtbot.waitUntil(lambda g=grid: g.isVisible(), timeout=5_000)
        assert grid.height() >= 300, grid.height()
    assert window.height() <= window.screen().availableGeometry().height()


def test_sessions_keep_the_interventions(window, make_window, tiny_gpt2_dir, qtbot, tmp_path):
    feature = window.feature("interventions")
    changed(window, qtbot, lambda: feature.controller.set_all(
        InterventionSet((Ablation("mlp", 1, None, "mean"), AttentionTemperature(2.0, 0, enabled=False)))))
    ablated = window.state.trace.next_logits.copy()
    path = window.sessions.save(tmp_path / "s.logitscope.json")
    second = make_window(model=str(tiny_gpt2_dir), prompt="Hello")
    with qtbot.waitSignal(second.feature("interventions").controller.changed, timeout=180_000):
        assert second.sessions.restore(path)
    qtbot.waitUntil(lambda: second.state.trace is not None and second.state.trace.prompt_text == PROMPT
                    and not second.feature("interventions").controller._set.pending, timeout=60_000)
    assert second.feature("interventions").controller.interventions == feature.controller.interventions
    qtbot.waitUntil(lambda: np.allclose(second.state.trace.next_logits, ablated, atol=1e-5), timeout=30_000)


def test_the_paris_lesson_sets_its_interventions():
    lesson = next(lesson for lesson in builtin_lessons() if lesson.source.startswith("05_"))
    sets = [step.interventions for step in lesson.steps]
    assert sets[0] == InterventionSet() and sets[-1] == InterventionSet()
    assert sets[1].items == (AttentionTemperature(5.0, None),)
    assert len(sets[4]) == 5 and all(item.kind == "head" for item in sets[4])


def test_steering_from_the_panel_and_generation_under_it(window, qtbot, tiny_gpt2):
    from model_core.engine.interventions.steering import steering_from_prompts

    feature = window.feature("interventions")
    panel, state = feature.panel, window.state
    panel.steer_towards.setText(" happy")
    panel.steer_away.setText(" sad")
    panel.steer_layer.setValue(1)
    panel.steer_strength.setValue(12.0)
    changed(window, qtbot, panel.steer_button.click)
    (steering,) = feature.controller.interventions.items
    assert steering.layer == 1 and steering.strength == 12.0 and "' happy'" in steering.source
    expected = steering_from_prompts(tiny_gpt2, " happy", " sad", 1, 12.0)
    np.testing.assert_allclose(steering.vector, expected.vector, atol=1e-5)
    with applied(tiny_gpt2, InterventionSet((expected,))):
        reference = run_trace(tiny_gpt2, PROMPT, lens=False).next_logits
    np.testing.assert_allclose(state.trace.next_logits, reference, atol=1e-4)
    with qtbot.waitSignal(state.projection_changed, timeout=60_000):
        window.generation_action("step")
    assert state.result.n_new == 1


@pytest.mark.builtin
def test_the_paris_lesson_breaks_and_restores_paris_on_the_builtin_model(make_window, qtbot):
    window = make_window(prompt="Hello")
    player = window.lessons
    controller = window.feature("interventions").controller
    player.lesson = next(lesson for lesson in builtin_lessons() if lesson.source.startswith("05_"))

    def go(index):
        with qtbot.waitSignal(player.step_applied, timeout=180_000):
            player.go(index)
        qtbot.waitUntil(lambda: not controller._set.pending, timeout=180_000)
        qtbot.waitUntil(lambda: window.state.projection is not None
                        and window.state.projection.trace_id == window.state.trace_id, timeout=60_000)

    def top():
        logits = window.state.trace.next_logits
        probs = np.exp(logits - logits.max())
        best = int(np.argmax(probs))
        return window.state.label(best), float(probs[best] / probs.sum())

    go(0)
    label, prob = top()
    assert label == "␣Paris" and prob > 0.95
    go(4)
    assert len(controller.interventions) == 5
    assert top()[0] == "␣Germany"  # the five heads the scan ranks first, switched off
    qtbot.waitUntil(lambda: "Paris' 97.6% → 0.5%" in window.feature("interventions").comparison_shown(), timeout=60_000)
    go(7)
    assert not controller.interventions.items
    label, prob = top()
    assert label == "␣Paris" and prob > 0.95


def test_right_click_menus_of_the_mlp_view_grid_and_anatomy(window, qtbot):
    feature = window.feature("interventions")
    window.state.select(layer=2, head=1)
    for key, widget in (("mlp", window.panel("mlp")), ("anatomy", window.panel("anatomy").diagram),
                        ("heads", window.panel("heads").grid)):
        assert widget.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu, key
    mlp = [a.text() for a in feature._mlp_menu(window.panel("mlp"), QPoint()).actions() if a.text()]
    assert mlp[:2] == ["Ablate the MLP of layer 2 (zero)", "Ablate the MLP of layer 2 (mean)"]
    grid = window.panel("heads").grid
    raise_dock(window, "heads")
    qtbot.waitUntil(lambda: grid._shape != (0, 0), timeout=10_000)
    menu = feature._grid_menu(grid, grid.head_center(1, 3).toPoint())
    assert menu.actions()[0].text() == "Ablate head 1.3 (zero)"  # the head under the mouse, not the selected one
    anatomy = feature._block_menu(window.panel("anatomy").diagram, QPoint())
    skip = next(a for a in anatomy.actions() if a.text().startswith("Skip block 2"))
    changed(window, qtbot, skip.trigger)
    assert feature.controller.interventions.items == (Ablation("block", 2),)
    np.testing.assert_allclose(window.state.trace.residual[3], window.state.trace.residual[2], atol=1e-6)
