"""Attribution and comparison exports as CSV text and .npz arrays, written atomically
(`model_core.output_files`), for the window's File ▸ Export and the command line."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from model_core.output_files import write_atomically, write_text_atomically
from model_core.types.attribution import METHOD_TITLES, Attribution


def attribution_csv(result: Attribution, labels: Sequence[str]) -> str:
    """One row per prompt token: position, token, score, then one column per layer where the method has them."""
    out = io.StringIO()
    writer = csv.writer(out)
    layers = [f"layer_{i}" for i in range(result.per_layer.shape[0])]
    writer.writerow(["position", "token", f"{result.method} score for {result.target_label!r}", *layers])
    for t, label in enumerate(labels):
        writer.writerow([t, label, f"{result.scores[t]:.8g}", *(f"{v:.8g}" for v in result.per_layer[:, t])])
    return out.getvalue()


def attribution_arrays(result: Attribution, labels: Sequence[str]) -> dict[str, np.ndarray]:
    return {
        "method": np.array(result.method), "method_title": np.array(METHOD_TITLES[result.method]),
        "target_id": np.array(result.target_id), "target_label": np.array(result.target_label),
        "tokens": np.array(list(labels)), "scores": result.scores, "per_layer": result.per_layer,
        "target_logit": np.array(result.target_logit), "baseline_logit": np.array(result.baseline_logit),
        "completeness_error": np.array(result.completeness_error), "steps": np.array(result.steps),
        "baseline": np.array(result.baseline),
    }


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    return write_atomically(path, write)


def save_attribution(path: str | os.PathLike, result: Attribution, labels: Sequence[str]) -> Path:
    """.npz or .csv by the file's suffix."""
    if str(path).lower().endswith(".csv"):
        return write_text_atomically(path, attribution_csv(result, labels))
    return save_npz(path, attribution_arrays(result, labels))
