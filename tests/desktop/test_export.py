"""File ▸ Export through the real window: every panel as PNG/SVG/clipboard, the trace as .npz, tokens as CSV."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QGuiApplication, QImage

from desktop.features import export_actions, help_dialogs
from model_core.types.trace import ARRAY_NAMES

pytestmark = pytest.mark.builtin

CAPITAL = "The capital of Germany is Berlin. The capital of France is"


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch):
    monkeypatch.setenv("LOGITSCOPE_DATA_DIR", str(tmp_path / "data"))


def step(window, qtbot):
    with qtbot.waitSignal(window.state.projection_changed, timeout=60_000):
        window.generation_action("step")


def test_every_panel_exports_png_svg_and_clipboard(make_window, qtbot, tmp_path):
    window = make_window(prompt=CAPITAL)
    assert set(window.docks) >= {"prompt", "attention", "trajectories", "distribution", "generation", "model",
                                 "lens", "qkv", "heads", "tokenizers"}
    for key in window.docks:
        widget = export_actions.panel_widget(window, key)
        png = export_actions.export_panel_png(window, key, tmp_path / f"{key}.png")
        image = QImage(str(png))
        assert not image.isNull(), key
        assert (image.width(), image.height()) == (widget.width(), widget.height()), key
        wide = QImage(str(export_actions.export_panel_png(window, key, tmp_path / f"{key}-wide.png", width=321)))
        assert wide.width() == 321, key

        svg = export_actions.export_panel_svg(window, key, tmp_path / f"{key}.svg")
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg"), key
        assert len(list(root.iter())) > 3, key  # something was drawn, not an empty document

        copied = export_actions.copy_panel_image(window, key)
        clip = QGuiApplication.clipboard().image()
        assert not clip.isNull() and clip.size() == copied.size(), key
    assert window.banner.text() == ""


def test_attention_png_shows_the_heatmap(make_window, qtbot, tmp_path):
    window = make_window(prompt=CAPITAL)
    window.docks["attention"].raise_()
    image = QImage(str(export_actions.export_panel_png(window, "attention", tmp_path / "a.png")))
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 20  # a real picture, not a blank rectangle


def test_a_panel_behind_a_tab_exports_the_current_trace(make_window, qtbot, tmp_path):
    """Hidden panels skip redraws; exporting one draws it first, so the file is not a stale picture."""
    window = make_window(prompt=CAPITAL)
    window.docks["qkv"].raise_()  # the attention panel is now behind a tab
    step(window, qtbot)
    panel = window.attention_panel
    assert panel.heatmap.image_item.image.shape == (12, 12)  # not redrawn while hidden
    export_actions.export_panel_png(window, "attention", tmp_path / "a.png")
    assert panel.heatmap.image_item.image.shape == (13, 13)


def test_trace_npz_and_token_csv(make_window, qtbot, tmp_path):
    window = make_window(prompt=CAPITAL)
    step(window, qtbot)
    state = window.state
    qtbot.waitUntil(lambda: state.surprisal is not None and state.surprisal.trace_id == state.result.trace_id,
                    timeout=60_000)
    trace = state.trace
    T, L, H = trace.n_tokens, trace.n_layers, trace.n_heads
    assert T == 13

    assert not trace.has_lens  # computed on demand: the export asks for it
    path = export_actions.export_trace_npz(window, tmp_path / "trace")
    assert path.name == "trace.npz"
    trace = state.trace
    assert trace.has_lens
    with np.load(path, allow_pickle=False) as data:
        # every per-position array of the trace (one list for building, cutting and saving), and the rest
        assert set(data.files) == {*ARRAY_NAMES, "token_ids", "token_text", "n_prompt", "next_logits", "kv_head_of",
                                   "lens_ids", "lens_probs", "mid_lens_ids", "mid_lens_probs"}
        assert int(data["n_prompt"]) == trace.n_prompt
        np.testing.assert_array_equal(data["token_ids"], trace.tokens.ids)
        assert data["attention"].shape == (L, H, T, T)
        assert data["residual"].shape == (L + 1, T, trace.residual.shape[-1])
        assert data["queries"].shape[:3] == (L, H, T)
        assert data["keys"].shape[2] == data["values"].shape[2] == T
        assert data["next_logits"].shape == trace.next_logits.shape
        assert data["lens_ids"].shape == data["lens_probs"].shape == trace.lens_ids.shape
        assert data["kv_head_of"].shape == (H,)
        assert list(data["token_text"]) == trace.tokens.texts

    path = export_actions.export_tokens_csv(window, tmp_path / "tokens.csv")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(export_actions.CSV_COLUMNS)
    assert len(rows) == T
    assert [int(r["id"]) for r in rows] == trace.tokens.ids.tolist()
    assert [int(r["position"]) for r in rows] == list(range(T))
    assert "".join(r["text"] for r in rows[:trace.n_prompt]) == CAPITAL
    assert rows[-1]["text"] == " Paris" and rows[-1]["label"] == "␣Paris"
    assert [r["generated"] for r in rows] == ["0"] * 12 + ["1"]
    assert rows[0]["surprisal"] == ""  # nothing predicts the first token
    bits = [float(r["surprisal"]) for r in rows[1:]]
    np.testing.assert_allclose(bits, state.surprisal.bits[1:], rtol=1e-5)
    assert int(rows[-1]["byte_end"]) == len((CAPITAL + " Paris").encode())


def test_unwritable_paths_go_to_the_banner(make_window, qtbot, tmp_path):
    window = make_window(prompt=CAPITAL)
    missing = tmp_path / "no-such-folder"
    for call in (lambda: export_actions.export_panel_png(window, "attention", missing / "a.png"),
                 lambda: export_actions.export_panel_svg(window, "prompt", missing / "a.svg"),
                 lambda: export_actions.export_trace_npz(window, missing / "a.npz"),
                 lambda: export_actions.export_tokens_csv(window, missing / "a.csv")):
        window.banner.dismiss()
        assert call() is None
        assert window.banner.text().startswith("Could not export"), window.banner.text()
        assert "no-such-folder" in window.banner.text()


def test_exports_into_a_folder_or_onto_a_full_disk_leave_nothing_behind(make_window, qtbot, tmp_path, monkeypatch):
    """A folder given as the file, or a disk that fills up mid-write: a sentence in the banner, the
    earlier file untouched, no half-written or temporary file (issue 18)."""
    import errno

    from viz import export as viz_export

    window = make_window(prompt=CAPITAL)
    folder = tmp_path / "exports"
    folder.mkdir()
    for call in (lambda: export_actions.export_panel_png(window, "attention", folder),
                 lambda: export_actions.export_tokens_csv(window, folder)):
        window.banner.dismiss()
        assert call() is None
        assert "is a folder" in window.banner.text()
    assert list(folder.iterdir()) == []

    target = folder / "attention.png"
    target.write_bytes(b"the earlier picture")

    def full_disk(_widget, path, width=None):
        Path(path).write_bytes(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export_actions, "export_png", full_disk)
    window.banner.dismiss()
    assert export_actions.export_panel_png(window, "attention", target) is None
    assert "the disk is full" in window.banner.text()
    assert target.read_bytes() == b"the earlier picture"
    assert [p.name for p in folder.iterdir()] == ["attention.png"]
    assert viz_export.export_png is not full_disk  # only the export feature's reference was replaced


def test_a_successful_export_says_where_it_went(make_window, qtbot, tmp_path):
    window = make_window(prompt=CAPITAL)
    path = export_actions.export_panel_png(window, "attention", tmp_path / "a.png")
    assert path is not None and path.stat().st_size > 0
    assert window.status_label.text() == f"Exported the Attention panel to {path}."


def test_menus_and_shortcuts_dialog(make_window, qtbot):
    window = make_window(prompt=CAPITAL)
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    texts = [a.text() for a in file_menu.actions() if a.isVisible() and not a.isSeparator()]  # as a user sees it
    for wanted in ("Open session…", "Save session…", "Recent sessions", "Recent prompts", "Export panel",
                   "Export trace (.npz)…", "Export tokens (.csv)…"):
        assert wanted in texts
    assert texts[-1] == "Quit"
    export_menu = next(a.menu() for a in file_menu.actions() if a.text() == "Export panel")
    assert len(export_menu.actions()) == len(window.docks)
    for action in export_menu.actions():
        assert [a.text() for a in action.menu().actions()] == ["PNG…", "SVG…", "Copy image"]

    dialog = window.feature("help").show_shortcuts()
    qtbot.addWidget(dialog)
    rows = dialog.rows()
    by_action = {name: keys for keys, name, _menu in rows}
    assert by_action["Step (greedy)"] == "F8"
    assert by_action["Save session…"] == "Ctrl+S"
    # Every menu action with a shortcut is listed with that shortcut.
    for menu, name, keys in help_dialogs.collect_shortcuts(window):
        assert (keys, name, menu) in rows
