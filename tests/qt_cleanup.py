"""Destroying a test's Qt objects at a safe moment, not whenever Python's garbage collector runs.

The collector can run inside any Qt call. If it then destroys a dropped widget tree, Qt may need a
signal-slot mutex that the call already holds (Qt takes those mutexes from a small pool, chosen by
address), and the thread waits on itself for ever. The suite hung once that way: inside pyqtgraph's
`addItem`, a `QObject::disconnect` started a collection that destroyed a previous test's QMenu.
So after every widget test the cycles are collected, while no Qt call is running: a dropped
widget tree is destroyed then. (Flushing the deletions qtbot schedules as well was tried: Qt then
deleted later tests' windows before their fixtures had finished with them.)

What survives that collection is frozen (`gc.freeze`, as the app does once its first trace is on
screen): torch, transformers, the cached models and the session's fixtures are a heap of millions of
objects that never become garbage, and walking it took about 0.4 s at every test's end and at every
full collection inside a test. The next collection looks only at what the next test made."""

from __future__ import annotations

import gc


def destroy_dropped_qt_objects() -> None:
    gc.collect()
    gc.freeze()
