"""The interventions in effect on a loaded model: set, read, cleared, and lent for one block.

The hooks stay on the model between calls, so every forward pass — the trace, the stepper's
cached steps, the probes, the logit lens — is the intervened model's, without any of them
knowing. Setting a new set removes the old one's hooks first; clearing removes them all, and
the model computes bit for bit what it computed before (tests/model_core/test_interventions.py).
A set that cannot be applied (no such head, T ≤ 0) is refused before any hook is placed, so the
model is never left half-intervened.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from model_core.engine.interventions.hooks import check, install
from model_core.engine.loading import LoadedModel
from model_core.types.interventions import InterventionSet

_installed: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (InterventionSet, HookSet)


def current_interventions(lm: LoadedModel) -> InterventionSet:
    """What the model runs with now (every item, switched on or off)."""
    entry = _installed.get(lm.model)
    return entry[0] if entry is not None else InterventionSet()


def set_interventions(lm: LoadedModel, interventions: InterventionSet) -> InterventionSet:
    """Make `interventions` (its enabled items) the ones in effect; InterventionError leaves the old ones."""
    check(lm, interventions.active)
    clear_interventions(lm)
    if interventions.items:
        hooks = install(lm, [(None, item) for item in interventions.active])
        _installed[lm.model] = (interventions, hooks)
    return interventions


def clear_interventions(lm: LoadedModel) -> None:
    """Back to the model as loaded: every hook removed, every attribute restored (Reset model)."""
    entry = _installed.pop(lm.model, None)
    if entry is not None:
        entry[1].remove()


def needs_full_pass(lm: LoadedModel) -> bool:
    """A mean-ablation is in effect: a new prompt must run from position 0 (its mean is the prompt's)."""
    entry = _installed.get(lm.model)
    return entry is not None and entry[1].needs_full_pass


@contextmanager
def suspended(lm: LoadedModel) -> Iterator[None]:
    """Run the block on the model as trained, keeping the interventions (and the prompt's means) for after:
    the "before" of the distribution's before → after."""
    entry = _installed.get(lm.model)
    if entry is None:
        yield
        return
    values = entry[1].suspend()
    try:
        yield
    finally:
        entry[1].resume(values)


@contextmanager
def applied(lm: LoadedModel, interventions: InterventionSet) -> Iterator[None]:
    """Run the block with `interventions` on top of whatever is in effect, then take them off."""
    check(lm, interventions.active)
    hooks = install(lm, [(None, item) for item in interventions.active])
    try:
        yield
    finally:
        hooks.remove()
