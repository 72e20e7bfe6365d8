"""A closed window lets its model go, even while Python objects that knew it are still around."""

from __future__ import annotations

import gc
import weakref


def test_a_closed_window_lets_its_model_go(make_window, tiny_gpt2_dir):
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello")
    model = weakref.ref(window.client.worker.session.lm.model)
    window.shutdown()  # the window object itself stays referenced here, as a test's or a slot's would
    gc.collect()
    assert model() is None
