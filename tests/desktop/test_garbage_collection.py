"""The cyclic garbage collector runs only in the GUI thread (desktop/shell/garbage_collection.py)."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from desktop.shell.garbage_collection import MIDDLE, OLDEST, GuiThreadCollector


class Node:
    """Garbage that only the cyclic collector can free: it refers to itself."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collector():
    gc.collect()
    collector = GuiThreadCollector(interval_ms=20)
    yield collector
    collector.stop()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def checks(collector: GuiThreadCollector, n: int, survivors: list, per_check: int = 50) -> list[int | None]:
    """`n` timer checks, with garbage cycles and `per_check` lasting objects made before each."""
    generations = []
    for _ in range(n):
        for _ in range(2 * gc.get_threshold()[0]):
            Node()
        survivors += [[] for _ in range(per_check)]
        generations.append(collector.collect_due())
    return generations


def test_cycles_dropped_by_another_thread_are_collected_by_the_gui_thread(qtbot, collector):
    in_gui_thread: list[bool] = []

    def record(phase: str, _info: dict) -> None:
        if phase == "start":
            in_gui_thread.append(threading.current_thread() is threading.main_thread())

    first: dict[str, weakref.ref] = {}

    def drop_cycles() -> None:  # like the worker thread: enough to start many collections
        for i in range(20 * gc.get_threshold()[0]):
            node = Node()
            if i == 0:
                first["node"] = weakref.ref(node)

    gc.callbacks.append(record)
    try:
        thread = threading.Thread(target=drop_cycles)
        thread.start()
        thread.join()
        assert first["node"]() is not None, "a collection ran in the other thread"
        qtbot.waitUntil(lambda: first["node"]() is None, timeout=5000)
    finally:
        gc.callbacks.remove(record)
    assert in_gui_thread and all(in_gui_thread)


def test_no_full_collection_while_start_up_imports_grow_the_oldest_generation(collector):
    """The imports add ~440,000 objects that never become garbage; CPython collected all of them six or
    seven times on the way to the first trace."""
    kept: list = [[] for _ in range(len(gc.get_objects(OLDEST)))]  # the oldest generation doubles
    generations = checks(collector, 200, kept)
    assert MIDDLE in generations and OLDEST not in generations


def test_settling_freezes_what_start_up_made_and_a_new_model_thaws_it(collector):
    dropped_later = Node()
    ref = weakref.ref(dropped_later)
    checks(collector, 30, [])  # it reaches the oldest generation
    collector.settle()
    assert collector.settled and gc.get_freeze_count() > 100_000
    assert len(gc.get_objects(OLDEST)) < 1000  # a full collection now looks at almost nothing
    del dropped_later
    checks(collector, 100, [])
    assert ref() is not None  # frozen: no collection looks at it
    collector.thaw()  # another model is asked for
    assert ref() is None and gc.get_freeze_count() == 0 and not collector.settled


def test_full_collections_stay_rare_until_the_oldest_generation_grows_by_a_quarter(collector):
    """After settling, a full collection looks only at what was made since, but it must still come
    only once that has grown by a quarter, as in CPython."""
    collector.settle()
    base: list = [[] for _ in range(100_000)]
    checks(collector, 5, base)  # they reach the oldest generation
    assert len(gc.get_objects(OLDEST)) >= 100_000
    generations = checks(collector, 300, base)  # 15,000 more lasting objects: under a quarter
    assert {0, MIDDLE} <= set(generations) and OLDEST not in generations

    base += [[] for _ in range(len(gc.get_objects(OLDEST)) // 3)]  # a third more
    assert OLDEST in checks(collector, 300, base)


def test_a_burst_of_objects_between_two_checks_is_looked_at_once_not_twice(collector):
    """Loading a model makes ~100,000 lasting objects in a moment. They go to the oldest generation at
    the next check; kept in the middle one, they would be looked at again ten checks later, which
    stopped the window for 0.25 s."""
    burst = [[] for _ in range(50_000)]
    assert collector.collect_due() == MIDDLE
    assert checks(collector, 20, [], per_check=0) == [0] * 20
    del burst
