"""Architecture adapters: discovery of a model's parts (`discovery.py`), the families and the maths
discovery cannot see (`families.py`), and the per-model adapter the engine asks (`adapter.py`)."""

from model_core.engine.adapters.adapter import ModelAdapter, Update
from model_core.engine.adapters.families import FAMILIES, Family, family_for, supported_names, untested_family

__all__ = ["FAMILIES", "Family", "ModelAdapter", "Update", "family_for", "supported_names", "untested_family"]
