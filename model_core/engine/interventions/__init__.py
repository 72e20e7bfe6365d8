"""Interventions on a loaded model: attention temperature, ablation, steering (hooks.py, applied.py),
the ablation scan (scan.py), activation patching (patching.py) and steering directions (steering.py)."""
