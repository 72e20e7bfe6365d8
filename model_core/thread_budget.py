"""How many cores the model's math may use: all but one, which stays with the window.

torch's own pool is not the only one. numpy and scipy each bring an OpenBLAS with a thread per
core, and an OpenBLAS worker spins on its core for a while after every call instead of sleeping.
In the model process the PCA of the trajectories and the logit statistics call into them on every
generated token. On two cores those spinning workers took the window's core: the window thread
spent a third to a half of each long gap runnable but not running (measured with Linux's
schedstat in `bench/event_gaps.py`).

The model process gets the limit in its environment before numpy is imported, so the pools start
at that size and no extra workers exist (`limited_environment`, used by the window's process:
this module imports neither torch nor numpy). `model_core.engine.thread_limits.leave_a_core`
applies the same limit to pools already loaded: it is what covers the model thread when the
model runs in the window's process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# The variables the BLAS and OpenMP runtimes read when they start (numpy's and scipy's OpenBLAS,
# torch's OpenMP, an MKL numpy where one is installed).
POOL_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def model_threads(cores: int | None = None) -> int:
    """All cores but one, at least one: the window keeps a core to itself."""
    cores = os.cpu_count() if cores is None else cores
    return max(1, (cores or 2) - 1)


def limited_environment(base: Mapping[str, str] | None = None, cores: int | None = None) -> dict[str, str]:
    """`base` (the current environment) with each pool's size set to `model_threads`, where the user
    has not set it already: an explicit setting is the user's choice and is kept."""
    env = dict(os.environ if base is None else base)
    for name in POOL_VARIABLES:
        env.setdefault(name, str(model_threads(cores)))
    return env
