"""viz draws arrays: importing it must not pull in torch, transformers or the app."""

from __future__ import annotations

import subprocess
import sys


def test_viz_imports_no_model_code() -> None:
    code = (
        "import sys\n"
        "import viz.theme, viz.flow_layout, viz.token_chips, viz.attention_heatmap\n"
        "import viz.trajectory_plot, viz.layer_slider, viz.probability_bars, viz.export\n"
        "bad = [m for m in ('torch', 'transformers', 'model_core', 'desktop') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
