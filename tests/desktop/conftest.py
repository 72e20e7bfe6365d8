"""Desktop tests never write the user's settings: each gets its own .ini file."""

from __future__ import annotations

import pytest

from tests.qt_cleanup import destroy_dropped_qt_objects


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("LOGITSCOPE_SETTINGS", str(path))
    return path


@pytest.fixture
def make_window(qtbot):
    """Open the real main window on a model and wait for its first trace."""
    from desktop.shell.main_window import MainWindow

    windows = []

    def make(model: str = "builtin", prompt: str | None = None, restore: bool = False):
        window = MainWindow(model=model, device="cpu", prompt=prompt, restore=restore)
        qtbot.addWidget(window)
        windows.append(window)
        window.resize(1400, 900)
        window.show()
        with qtbot.waitSignal(window.state.projection_changed, timeout=180_000):
            pass
        return window

    yield make
    for window in windows:
        window.shutdown()


@pytest.fixture(autouse=True)
def qt_objects_destroyed_after_each_test(qtbot):
    """Declared before the test's own fixtures, so this runs after qtbot has closed its widgets."""
    yield
    destroy_dropped_qt_objects()
