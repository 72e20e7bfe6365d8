"""The model process's reading thread hands each request to `prepare_ahead` as it arrives: only a
load of the built-in model starts work ahead (its expansion, tested in
tests/model_core/test_builtin_bundle.py); anything else, or a choice that names nothing, waits."""

from __future__ import annotations

from desktop.core.requests import tracing as t
from model_core.engine import builtin_model


def test_only_a_load_of_the_builtin_model_starts_work_ahead(monkeypatch):
    started = []
    monkeypatch.setattr(builtin_model, "prepare_ahead", lambda: started.append(True))
    t.prepare_ahead(t.LoadRequest(spec="./a-folder-that-is-not-there"))
    t.prepare_ahead(t.LoadRequest(spec="org/model"))
    t.prepare_ahead(t.LoadRequest(spec="no such thing!"))  # not a model: the load will say so
    t.prepare_ahead(t.TraceRequest(text="Hello"))
    assert started == []
    t.prepare_ahead(t.LoadRequest(spec=" Builtin "))
    assert started == [True]
