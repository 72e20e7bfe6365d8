"""`logitscope FILE` opens a saved session: the model, prompt and generated tokens come back; a file
that cannot be read says why (banner and stderr) and the window still opens; headless, it exits 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.shell.app import build_parser, open_window, setup_application

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    monkeypatch.setenv("LOGITSCOPE_DATA_DIR", str(folder))
    return folder


def test_a_session_named_on_the_command_line_is_reopened(make_window, qtbot, tmp_path, tiny_gpt2_dir):
    first = make_window(model=str(tiny_gpt2_dir), prompt="Hello world, again")
    with qtbot.waitSignal(first.state.projection_changed, timeout=60_000):
        first.generation_action("step")
    ids = first.state.trace.tokens.ids.tolist()
    path = first.sessions.save(tmp_path / "from-cli")
    first.shutdown()

    args = build_parser().parse_args(["--fresh", str(path)])
    window = open_window(args)
    qtbot.addWidget(window)
    try:
        with qtbot.waitSignal(window.sessions.restored, timeout=120_000):
            window.show()
        assert window.state.info.source == str(tiny_gpt2_dir)
        assert window.prompt_panel.text() == "Hello world, again"
        assert window.state.trace.tokens.ids.tolist() == ids  # the stepped token came back too
        assert path.name in window.sessions.recent_sessions.items()[0]
    finally:
        window.shutdown()


def test_a_missing_session_file_is_said_and_the_window_still_opens(qtbot, tmp_path, capsys, tiny_gpt2_dir):
    missing = tmp_path / "nowhere.logitscope.json"
    args = build_parser().parse_args(["--fresh", "--model", str(tiny_gpt2_dir), str(missing)])
    window = open_window(args)
    qtbot.addWidget(window)
    try:
        window.show()
        assert window.banner.text() == f"Could not open the session {missing}: the file does not exist."
        assert "Could not open the session" in capsys.readouterr().err
        with qtbot.waitSignal(window.state.projection_changed, timeout=120_000):
            pass  # the model named beside it still loads and traces
        assert window.state.info.source == str(tiny_gpt2_dir)
    finally:
        window.shutdown()


def test_a_bad_session_file_headless_exits_non_zero_with_a_sentence(tmp_path):
    bad = tmp_path / "bad.logitscope.json"
    bad.write_text("{not json", encoding="utf-8")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT),
               LOGITSCOPE_SETTINGS=str(tmp_path / "settings.ini"), LOGITSCOPE_DATA_DIR=str(tmp_path / "data"))
    result = subprocess.run([sys.executable, "-m", "desktop.entry", "--smoke-test", str(bad)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert f"Could not open the session {bad}: it is not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_application_carries_the_project_icon(qapp):
    setup_application(qapp)
    icon = qapp.windowIcon()
    assert not icon.isNull()
    sizes = {size.width() for size in icon.availableSizes()}
    assert {16, 32, 48, 256} <= sizes
    image = icon.pixmap(48, 48).toImage()
    assert image.pixelColor(24, 24).alpha() == 255  # drawn in the middle
    assert image.pixelColor(0, 0).alpha() == 0  # transparent corner: the tile is rounded
