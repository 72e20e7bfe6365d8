"""Logitscope benchmarks (`make bench`): ratios against plain transformers, measured side by side.

    .venv/bin/python bench/run.py            readable table
    .venv/bin/python bench/run.py --json     one JSON list of {name, ours_ms, baseline_ms, ratio, target, ...}
    .venv/bin/python bench/run.py --quick    fewer repeats, no 1024-token rows
    .venv/bin/python bench/run.py --only start-up,peers   only the sections whose titles contain these words

Every comparison is a ratio (ours / baseline, lower is better) of medians of interleaved
repeats in the same process, because the machine is shared and noisy. `target` is the ratio
to stay under, or for rows without a baseline the absolute value in ms. Memory rows carry
their value in `value` (with `unit`), not in `ours_ms`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _quiet() -> None:
    warnings.filterwarnings("ignore")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def collect(quick: bool, log, only: list[str] | None = None) -> list[dict]:
    from bench import rows_attribution, rows_interventions, rows_models, rows_peers, rows_process, rows_trace

    rows: list[dict] = []
    sections = [
        ("trace and generation on CPU", lambda: rows_trace.cpu_rows(quick)),
        ("trace and generation on CUDA", lambda: rows_trace.cuda_rows(quick)),
        ("trace of a mixture of experts and of an offloaded model", lambda: rows_models.model_rows(quick)),
        ("attribution of one token", lambda: rows_attribution.attribution_rows(quick)),
        ("interventions: ablation, scan, patching", lambda: rows_interventions.intervention_rows(quick)),
        ("window: redraw and responsiveness", lambda: rows_process.gui_rows(quick)),
        ("start-up", lambda: rows_process.startup_rows(quick)),
        ("memory", lambda: rows_process.memory_rows(quick)),
        ("peers: TransformerLens", lambda: rows_peers.peer_rows(quick)),
    ]
    if only:
        sections = [(title, fn) for title, fn in sections if any(word in title for word in only)]
    for title, fn in sections:
        start = time.perf_counter()
        log(f"[bench] {title}…")
        try:
            rows += fn()
        except Exception as exc:  # noqa: BLE001 - one broken section must not hide the others
            import traceback

            traceback.print_exc()
            rows.append({"name": f"{title}: failed", "ours_ms": None, "baseline_ms": None, "ratio": None,
                         "target": None, "note": f"{type(exc).__name__}: {exc}"[:300]})
        log(f"[bench] {title}: {time.perf_counter() - start:.0f} s")
    return rows


def _fmt(v, digits=1) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


def table(rows: list[dict]) -> str:
    width = max(len(r["name"]) for r in rows)
    head = f"{'row':<{width}}  {'ours':>9}  {'baseline':>9}  {'ratio':>6}  {'target':>7}  ok"
    lines = [head, "-" * len(head)]
    for r in rows:
        ours, base = r["ours_ms"], r["baseline_ms"]
        if ours is None and r.get("value") is not None:
            ours, base = r["value"], r.get("baseline_value")
        ratio = r["ratio"] if r["ratio"] is not None else r.get("value_ratio")
        ok = ""
        if r["target"] is not None:
            measured = r["ratio"] if r["ratio"] is not None else r["ours_ms"]
            ok = "–" if measured is None else ("yes" if measured <= r["target"] else "NO")
        lines.append(f"{r['name']:<{width}}  {_fmt(ours):>9}  {_fmt(base):>9}  {_fmt(ratio, 2):>6}  "
                     f"{_fmt(r['target'], 2):>7}  {ok}")
        if r.get("note"):
            lines.append(f"{'':<4}{r['note']}")
    lines.append("ours/baseline in ms unless the row names a unit; ratio = ours / baseline (lower is better); "
                 "target: ratio to stay under, or ms where there is no baseline.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON list of rows")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, skip the 1024-token rows")
    parser.add_argument("--only", help="comma-separated words: run only the sections whose titles contain one")
    args = parser.parse_args(argv)
    _quiet()
    import torch

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    log(f"[bench] torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    start = time.perf_counter()
    rows = collect(args.quick, log, args.only.split(",") if args.only else None)
    log(f"[bench] total {time.perf_counter() - start:.0f} s")
    if args.json:
        print(json.dumps(rows))
    else:
        print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
