"""The window shows before the model engine loads: nothing the GUI thread imports pulls in torch,
transformers or scikit-learn (those load in the worker thread, seconds later)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "sklearn")


def test_gui_modules_do_not_import_the_model_engine():
    code = ("import json, sys; import desktop.entry, desktop.shell.app, desktop.shell.main_window, "
            "desktop.shell.smoke_test, desktop.core.requests; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
