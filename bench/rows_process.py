"""Rows measured in child processes, so nothing earlier in the run pollutes them:
3 and 4 (the window, see gui_probe.py), 5 (start-up) and 6 (peak memory)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.models import gpt2_small_folder
from bench.timing import row

ROOT = Path(__file__).resolve().parent.parent


def _env(**extra) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error", HF_HUB_DISABLE_PROGRESS_BARS="1")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _rows_from(out: subprocess.CompletedProcess, what: str) -> list[dict]:
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_ROWS "):
            return json.loads(line[len("BENCH_ROWS "):])
    tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["no output"]
    return [row(what, None, note=f"failed (exit {out.returncode}): {tail[0][:200]}")]


def gui_rows(quick: bool) -> list[dict]:
    args = [sys.executable, "-m", "bench.gui_probe", str(gpt2_small_folder())] + (["--quick"] if quick else [])
    out = subprocess.run(args, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=900)
    return _rows_from(out, "GUI rows (redraw, responsiveness)")


def startup_rows(quick: bool) -> list[dict]:
    """Wall time of `python -m desktop.entry --smoke-test` (built-in model, cached) to the first trace
    on screen, and from the same runs (LOGITSCOPE_T0) when the window, the first trace and the
    trajectories appeared."""
    times: list[float] = []
    marks: dict[str, list[float]] = {}
    failure = None
    for _ in range(1 if quick else 3):
        with tempfile.TemporaryDirectory() as tmp:
            env = _env(LOGITSCOPE_SETTINGS=str(Path(tmp) / "settings.ini"), LOGITSCOPE_T0=repr(time.time()))
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "desktop.entry", "--smoke-test"], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=600)
            elapsed = (time.perf_counter() - start) * 1000
        if out.returncode != 0:
            failure = (out.stderr.strip().splitlines() or ["?"])[-1][:200]
            break
        times.append(elapsed)
        for line in out.stdout.splitlines():
            if line.startswith("startup timings: "):
                for name, seconds in json.loads(line[len("startup timings: "):]).items():
                    marks.setdefault(name, []).append(seconds * 1000)
    name = "start-up: first trace drawn, from process start (ms)"
    if failure or "trace" not in marks:
        return [row(name, None, None, 4000.0, note=f"failed: {failure or 'no start-up timings printed'}")]
    # The headline is the moment: the first trace on screen. The others come from the same runs.
    rows = [row(name, statistics.median(marks["trace"]), None, 4000.0,
                note=f"median of {len(times)} runs of --smoke-test, built-in model cached")]
    labels = {"window": "window on screen", "trajectories": "trajectories drawn"}
    targets = {"window": 1000.0}
    for key, label in labels.items():
        if key in marks:
            rows.append(row(f"  start-up: {label}, from process start (ms)", statistics.median(marks[key]), None,
                            targets.get(key)))
    rows.append(row("  start-up: the whole --smoke-test: every panel checked, then exit (ms)",
                    statistics.median(times), None))
    return rows + startup_profile_rows()


def startup_profile_rows() -> list[dict]:
    """The worker's steps before the first trace, each on its own (bench/startup_profile.py)."""
    out = subprocess.run([sys.executable, "-m", "bench.startup_profile"], cwd=ROOT, env=_env(), capture_output=True,
                         text=True, timeout=600)
    line = next((x for x in out.stdout.splitlines() if x.startswith("STARTUP_PROFILE ")), None)
    if line is None:
        return [row("  start-up profile", None, note=f"failed (exit {out.returncode})")]
    rows, previous = [], 0.0
    for step, seconds in json.loads(line[len("STARTUP_PROFILE "):]).items():
        rows.append(row(f"    worker step: {step} (ms)", (seconds - previous) * 1000, None, None,
                        note="a fresh process, no window; the steps between the window and the first trace"))
        previous = seconds
    return rows


MEMORY_SCRIPT = r"""
import json, resource, sys
import torch
sys.path.insert(0, {root!r})
from bench.models import load_ours, load_baseline, prompt_ids
folder, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def reset_peak():
    # Linux: writing 5 to clear_refs resets the peak RSS (VmHWM), so loading the model's
    # weights (which briefly needs two copies) does not hide the trace's own peak.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
def rss_mb():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
def current_mb():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss_mb()
if mode == "ours":
    from model_core.engine.tracing import trace_ids
    lm = load_ours(folder)
    ids = prompt_ids(n, lm.info.vocab_size)
    import gc; gc.collect(); reset_peak(); before = current_mb()
    trace = trace_ids(lm, ids)
    print(json.dumps(dict(before=before, peak=rss_mb(), nbytes=trace.nbytes)))
else:
    model = load_baseline(folder)
    ids = torch.tensor([prompt_ids(n, model.config.vocab_size)])
    import gc; gc.collect(); reset_peak(); before = current_mb()
    with torch.inference_mode():
        out = model(input_ids=ids, output_attentions=True, output_hidden_states=True)
    print(json.dumps(dict(before=before, peak=rss_mb(), nbytes=None)))
"""


def _memory(mode: str, n: int) -> dict:
    script = MEMORY_SCRIPT.format(root=str(ROOT))
    out = subprocess.run([sys.executable, "-c", script, str(gpt2_small_folder()), mode, str(n)], cwd=ROOT,
                         env=_env(), capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError((out.stderr.strip().splitlines() or ["?"])[-1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def memory_rows(quick: bool) -> list[dict]:
    n = 256 if quick else 1024
    try:
        ours, base = _memory("ours", n), _memory("baseline", n)
    except Exception as exc:  # noqa: BLE001 - report, don't abort the table
        return [row(f"memory: trace of {n} tokens", None, note=f"failed: {exc}")]
    mb = 1024 * 1024
    ours_growth, base_growth = ours["peak"] - ours["before"], base["peak"] - base["before"]
    return [
        row(f"memory: peak RSS, trace of {n} tokens, gpt2-small (MB)", None, None, None, value=round(ours["peak"], 1),
            baseline_value=round(base["peak"], 1), unit="MB",
            note=("baseline = plain forward with attentions+hidden states (its outputs kept alive as ours are); "
                  f"RSS before the forward: ours {ours['before']:.0f} MB, baseline {base['before']:.0f} MB")),
        row(f"memory: peak RSS growth during the trace of {n} tokens (MB)", None, None, None,
            value=round(ours_growth, 1), baseline_value=round(base_growth, 1), unit="MB",
            value_ratio=round(ours_growth / base_growth, 3) if base_growth > 0 else None),
        row(f"memory: trace.nbytes, {n} tokens (MB)", None, None, None, value=round(ours["nbytes"] / mb, 1),
            unit="MB"),
    ]
