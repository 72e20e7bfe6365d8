"""One entry point for every attribution method: the CLI, the window's request handler and the
bench call this, so each names the method the same way and gets the same `Attribution`."""

from __future__ import annotations

import numpy as np

from model_core.analysis.attention_flow import flow, rollout
from model_core.engine.attribution.gradients import (
    DEFAULT_STEPS,
    KEEP_FIRST,
    grad_x_input,
    integrated_gradients,
    token_label,
)
from model_core.engine.loading import LoadedModel
from model_core.progress import Progress, silent
from model_core.types.attribution import (
    FLOW,
    GRAD_X_INPUT,
    INTEGRATED_GRADIENTS,
    ROLLOUT,
    Attribution,
    check_method,
)


def attribute(lm: LoadedModel, ids: list[int], target_id: int, method: str, steps: int = DEFAULT_STEPS,
              baseline: str = KEEP_FIRST, progress: Progress | None = None,
              attention: np.ndarray | None = None) -> Attribution:
    """Scores of each of `ids` for `target_id`'s logit after the last one, by `method`.

    Rollout and flow read `attention` [L, H, T, T] (a trace's); without it the prompt is traced.
    """
    check_method(method)
    progress = progress or silent()
    if method == GRAD_X_INPUT:
        return grad_x_input(lm, ids, target_id, progress)
    if method == INTEGRATED_GRADIENTS:
        return integrated_gradients(lm, ids, target_id, steps, progress, baseline)
    if not ids:
        raise ValueError("the prompt is empty; give some text to attribute.")
    from model_core.engine.tracing import trace_ids

    if attention is None or attention.shape[-1] != len(ids):
        progress.report("Tracing the prompt's attention", 0.0)
        trace = trace_ids(lm, ids, lens=False)
        attention, logits = trace.attention, trace.next_logits
    else:
        from model_core.engine.forward import forward_capture

        logits = forward_capture(lm, ids).next_logits
    label = token_label(lm.tokenizer, target_id)
    if method == ROLLOUT:
        rows = rollout(attention).astype(np.float32)
        return Attribution(ROLLOUT, target_id, label, rows[-1], rows, float(logits[target_id]))
    assert method == FLOW
    scores = flow(attention, progress=progress).astype(np.float32)
    return Attribution(FLOW, target_id, label, scores, np.zeros((0, len(ids)), np.float32),
                       float(logits[target_id]))
