"""Python's cyclic garbage collector runs in the GUI thread, between two events, and nowhere else.

Left to itself, the collector starts in whichever thread allocates past its threshold, in the middle
of whatever that thread is doing. Qt objects dropped in a reference cycle (a replaced plot item and
its context menu, a closed dialog) are destroyed by that collection, and two things can go wrong:

- it runs in the model's worker thread, and Qt widgets are destroyed outside the GUI thread;
- it runs inside a Qt call that holds one of Qt's signal-slot mutexes (pyqtgraph's `addItem` calls
  `QObject::disconnect`), destroying a QObject waits for a mutex from the same small pool, and the
  window hangs for good. The test suite hung that way once (`tests/qt_cleanup.py`).

So automatic collection is switched off and a timer in the GUI thread starts the collections.
pyqtgraph's `GarbageCollector` does the same, but it runs a full collection after every hundred
young ones. With torch and transformers loaded there are about 500,000 tracked objects, and a full
collection takes about 0.5 s: that would freeze the window every couple of minutes.

Start-up is where full collections cost most: the worker's imports of torch and transformers grow the
oldest generation from ~60,000 objects to ~500,000, and CPython collected all of it six or seven times
on the way (1.0-1.3 s of the first trace's wait; measured with `gc.callbacks` on `--smoke-test`).
Those objects are modules, classes and functions that never become garbage. So until the model's
first trace is on screen there are no full collections; then everything alive is frozen
(`gc.freeze`), and later full collections look only at what was made after. A full collection at that
moment found 110-250 unreachable objects (measured), which is all that freezing keeps for good. Asking
for another model thaws everything and collects it once, so whatever the old session dropped goes.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_INTERVAL_MS = 100  # short, so that each collection has little to look at; an idle check costs ~1 us
MIDDLE, OLDEST = 1, 2


class GuiThreadCollector(QObject):
    """While it lives (and until `stop`), automatic collection is off and the GUI thread collects.

    A timer sees in one go what CPython would have handled in many small collections (the worker can
    allocate a hundred thousand objects between two checks while it imports or loads a model). So the
    middle generation is not collected after a fixed number of young collections, as CPython does,
    but once it holds as many objects as CPython would let into it; otherwise each of its collections
    would look at everything made since the last one and stop the window for a quarter of a second.
    A full collection comes as soon as the objects that reached the oldest generation since the last
    one make up a quarter of it (CPython's rule; it also waits for ten middle collections, which here
    may not come while the middle generation has room).
    """

    def __init__(self, parent: QObject | None = None, interval_ms: int = CHECK_INTERVAL_MS) -> None:
        super().__init__(parent)
        young, middle, _ = gc.get_threshold()
        self._young_threshold = young
        self._middle_capacity = young * middle  # CPython: up to `middle` young collections' survivors
        self._long_lived_total = len(gc.get_objects(OLDEST))
        self._long_lived_pending = 0
        self._settled = False  # a model is loaded and shown: what is alive now stays alive
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self._timer.start()

    @property
    def settled(self) -> bool:
        return self._settled

    def settle(self) -> None:
        """The model's first trace is on screen: freeze what start-up (or loading) made."""
        if self._settled:
            return
        gc.collect(MIDDLE)  # the young garbage of the first trace goes first
        gc.freeze()
        self._settled = True
        self._long_lived_total = max(1, len(gc.get_objects(OLDEST)))
        self._long_lived_pending = 0

    def thaw(self) -> None:
        """Another model is on its way: everything frozen can be garbage again, so it is collected now
        (one full collection, while the window says it is loading), and nothing is frozen until the new
        model is on screen."""
        if not self._settled:
            return  # nothing is frozen (start-up, or a load asked for while another was on its way)
        gc.unfreeze()
        gc.collect(OLDEST)
        self._settled = False
        self._long_lived_total = max(1, len(gc.get_objects(OLDEST)))
        self._long_lived_pending = 0

    def stop(self) -> None:
        """Hands collection back to Python (as it was before)."""
        self._timer.stop()
        gc.unfreeze()
        if self._was_enabled:
            gc.enable()

    def collect_due(self) -> int | None:
        """Runs the collection that is due now, if any; returns its generation."""
        young = gc.get_count()[0]
        if young <= self._young_threshold:
            return None
        if self._settled and 4 * self._long_lived_pending >= self._long_lived_total:
            gc.collect(OLDEST)
            self._long_lived_total = max(1, len(gc.get_objects(OLDEST)))
            self._long_lived_pending = 0
            return OLDEST
        if len(gc.get_objects(MIDDLE)) + young > self._middle_capacity:
            moving_up = len(gc.get_objects(0)) + len(gc.get_objects(MIDDLE))
            self._long_lived_pending += max(0, moving_up - gc.collect(MIDDLE))
            return MIDDLE
        gc.collect(0)
        return 0


def collect_garbage_in_gui_thread(app: QObject) -> GuiThreadCollector:
    """Installs the collector for the life of `app` (the QApplication)."""
    collector = GuiThreadCollector(app)
    app.aboutToQuit.connect(collector.stop)
    return collector


def follow_the_model(collector: GuiThreadCollector, window) -> None:
    """Settles once each model's first trace is drawn, thaws when another model is asked for."""
    window.state.projection_changed.connect(collector.settle)
    window.traces.load_asked.connect(collector.thaw)
