"""Where the worker's start-up goes, in a fresh process: `python -m bench.startup_profile`.

The window is on screen before any of this starts (the GUI thread imports no torch); the first
trace waits for all of it. Prints one JSON object of cumulative seconds since the start of the
process for each step, the same steps the Load and Trace handlers take.
"""

from __future__ import annotations

import json
import sys
import time

START = time.perf_counter()


def main() -> int:
    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        marks[name] = round(time.perf_counter() - START, 3)

    import torch

    torch.set_num_threads(1)  # as the app does on two cores (desktop/core/requests/tracing.py)
    mark("import torch")
    from model_core.engine.loading import load_model  # transformers' modeling stack comes with it

    mark("import transformers' modeling stack (model_core.engine.loading)")
    from model_core.engine.stepper import Stepper
    from model_core.engine.vocab_labels import vocab_labels

    lm = load_model("builtin", device="cpu")
    mark("load the built-in model (cached)")
    vocab_labels(lm.tokenizer, lm.info.vocab_size)
    stepper = Stepper(lm, lens=False)
    mark("vocabulary labels")
    from desktop.core.presets import DEFAULT_PROMPT

    stepper.start(DEFAULT_PROMPT)
    mark("first trace (first forward)")
    from model_core.analysis.projection import project_residual

    project_residual(stepper.trace.residual)
    mark("trajectories (import scikit-learn, PCA)")
    print("STARTUP_PROFILE " + json.dumps(marks), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
