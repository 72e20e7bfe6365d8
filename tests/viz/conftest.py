"""Fixtures for the viz widget tests: widgets shown at a fixed size so geometry is known."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtWidgets import QWidget

from tests.qt_cleanup import destroy_dropped_qt_objects


@pytest.fixture
def show(qtbot) -> Callable[..., QWidget]:
    """Register a widget with qtbot, show it at ``size`` and wait until it is exposed."""

    def _show(widget: QWidget, size: tuple[int, int] = (800, 600)) -> QWidget:
        qtbot.addWidget(widget)
        widget.resize(*size)
        widget.show()
        qtbot.waitExposed(widget)
        return widget

    return _show


@pytest.fixture(autouse=True)
def qt_objects_destroyed_after_each_test(qtbot):
    """Declared before the test's own fixtures, so this runs after qtbot has closed its widgets."""
    yield
    destroy_dropped_qt_objects()
