"""Destroying a test's Qt objects at a safe moment, not whenever Python's garbage collector runs.

The collector can run inside any Qt call. If it then destroys a dropped widget tree, Qt may need a
signal-slot mutex that the call already holds (Qt takes those mutexes from a small pool, chosen by
address), and the thread waits on itself for ever. The suite hung once that way: inside pyqtgraph's
`addItem`, a `QObject::disconnect` started a collection that destroyed a previous test's QMenu.
So after every widget test, the widgets qtbot scheduled for deletion are deleted and the cycles
are collected, while no Qt call is running."""

from __future__ import annotations

import gc


def destroy_dropped_qt_objects() -> None:
    from PySide6.QtCore import QCoreApplication, QEvent

    if QCoreApplication.instance() is not None:
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
