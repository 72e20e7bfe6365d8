"""Apply the thread budget (`model_core.thread_budget`) to the pools already loaded in this process."""

from __future__ import annotations

from model_core.thread_budget import model_threads


def leave_a_core() -> int:
    """Limit torch and every BLAS loaded so far to `model_threads()`; returns that number.

    threadpoolctl (which scikit-learn brings) finds numpy's and scipy's OpenBLAS wherever they came
    from; by the time a model loads, transformers has imported both."""
    import torch
    from threadpoolctl import threadpool_limits

    n = model_threads()
    torch.set_num_threads(n)
    threadpool_limits(limits=n, user_api="blas")  # not used as a context: the limit stays
    return n
