"""The model's math leaves a core to the window: torch's pool and every BLAS pool (numpy's and
scipy's OpenBLAS, which spin on a core after each call) are limited to all cores but one."""

from __future__ import annotations

import torch
from threadpoolctl import threadpool_info, threadpool_limits

from model_core.engine.thread_limits import leave_a_core
from model_core.thread_budget import POOL_VARIABLES, limited_environment, model_threads


def test_all_cores_but_one_and_never_none():
    assert [model_threads(n) for n in (1, 2, 4, 16)] == [1, 1, 3, 15]


def test_the_model_process_environment_sets_each_pool_unless_the_user_did():
    env = limited_environment({"PATH": "/bin", "OMP_NUM_THREADS": "6"}, cores=4)
    assert env["PATH"] == "/bin"
    assert env["OMP_NUM_THREADS"] == "6"  # the user's choice stays
    assert {name: env[name] for name in POOL_VARIABLES if name != "OMP_NUM_THREADS"} == {
        "OPENBLAS_NUM_THREADS": "3", "MKL_NUM_THREADS": "3"}


def test_leave_a_core_limits_torch_and_the_blas_pools_already_loaded(monkeypatch):
    import scipy.linalg  # noqa: F401  (scipy brings a second OpenBLAS, as transformers' imports do)

    monkeypatch.setattr("os.cpu_count", lambda: 2)  # one for the model's math, whatever this machine has
    before_torch = torch.get_num_threads()
    before = {info["prefix"]: info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}
    try:
        assert leave_a_core() == 1
        assert torch.get_num_threads() == 1
        blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
        assert len(blas) >= 2 and all(info["num_threads"] == 1 for info in blas)
    finally:
        torch.set_num_threads(before_torch)
        threadpool_limits(limits=before)
