"""What the user did to the model: plain, frozen data the window holds, sessions save and lessons set.

An intervention is a description, not hooks: the engine (`model_core/engine/interventions/`)
turns an `InterventionSet` into forward hooks on the loaded model and removes them exactly. Each
item carries `enabled`, so the window can switch one off without forgetting it.

- `AttentionTemperature(T, layer)`: every attention score q·k/√d is divided by T before the
  softmax, in one layer or (layer None) in all of them. T = 1 is the model as trained; T > 1
  flattens attention towards uniform, T < 1 sharpens it towards its top key.
- `Ablation(kind, layer, head, mode)`: remove one head (its slice of the input to the attention
  output projection), one whole attention sub-layer, one MLP or one whole block (the block passes
  its input through unchanged), by zeroing it or replacing it by its mean over the prompt's positions.
- `Steering(layer, vector, strength, source)`: add strength · vector to the residual stream entering
  block `layer` at every position; `source` says where the direction came from, for people.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from model_core.errors import LogitscopeError

HEAD, ATTENTION, MLP, BLOCK = "head", "attention", "mlp", "block"
ABLATION_KINDS = (HEAD, ATTENTION, MLP, BLOCK)
ZERO, MEAN = "zero", "mean"
ABLATION_MODES = (ZERO, MEAN)


class InterventionError(LogitscopeError):
    """An intervention that cannot be applied to this model (no such head, T ≤ 0, ...)."""


@dataclass(frozen=True)
class AttentionTemperature:
    """Divide attention scores by `temperature` before the softmax, in `layer` or every layer."""

    temperature: float
    layer: int | None = None
    enabled: bool = True

    def label(self) -> str:
        where = "all layers" if self.layer is None else f"layer {self.layer}"
        return f"Attention temperature {self.temperature:g} ({where})"


@dataclass(frozen=True)
class Ablation:
    """Remove one part of the model: a head, an attention sub-layer, an MLP or a whole block."""

    kind: str
    layer: int
    head: int | None = None
    mode: str = ZERO
    enabled: bool = True

    def label(self) -> str:
        what = {HEAD: f"head {self.layer}.{self.head}", ATTENTION: f"attention of layer {self.layer}",
                MLP: f"MLP of layer {self.layer}", BLOCK: f"block {self.layer}"}.get(self.kind, self.kind)
        return f"Ablate {what} ({self.mode})"


@dataclass(frozen=True, eq=False)
class Steering:
    """Add `strength` · `vector` to the residual stream entering block `layer`, at every position."""

    layer: int
    vector: tuple[float, ...]
    strength: float = 1.0
    source: str = ""
    enabled: bool = True

    def label(self) -> str:
        source = f" — {self.source}" if self.source else ""
        return f"Steer at layer {self.layer} × {self.strength:g}{source}"

    def __eq__(self, other: object) -> bool:  # the vector is a long tuple: compare it last
        if not isinstance(other, Steering):
            return NotImplemented
        return ((self.layer, self.strength, self.source, self.enabled) ==
                (other.layer, other.strength, other.source, other.enabled) and self.vector == other.vector)

    def __hash__(self) -> int:
        return hash((self.layer, self.strength, self.source, self.enabled, len(self.vector)))


Intervention = AttentionTemperature | Ablation | Steering


@dataclass(frozen=True)
class InterventionSet:
    """The interventions in effect, in the order they were made (the window's Interventions list)."""

    items: tuple[Intervention, ...] = field(default_factory=tuple)

    def __iter__(self) -> Iterator[Intervention]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def active(self) -> tuple[Intervention, ...]:
        """The enabled items: what the model runs with."""
        return tuple(item for item in self.items if item.enabled)

    def with_item(self, item: Intervention) -> InterventionSet:
        """This set plus `item`; an item of the same target (same head, same layer's temperature) is replaced."""
        kept = tuple(old for old in self.items if _target(old) != _target(item))
        return InterventionSet((*kept, item))

    def toggled(self, index: int, enabled: bool) -> InterventionSet:
        items = list(self.items)
        items[index] = replace(items[index], enabled=enabled)
        return InterventionSet(tuple(items))

    def without(self, index: int) -> InterventionSet:
        return InterventionSet(tuple(item for i, item in enumerate(self.items) if i != index))


def _target(item: Intervention) -> tuple:
    if isinstance(item, AttentionTemperature):
        return ("temperature", item.layer)
    if isinstance(item, Ablation):
        return ("ablation", item.kind, item.layer, item.head)
    return ("steering", item.layer)


def validate(items: Iterable[Intervention], n_layers: int, n_heads: int, d_model: int) -> None:
    """InterventionError with a sentence for the first item this model cannot take."""
    for item in items:
        if isinstance(item, AttentionTemperature):
            if not item.temperature > 0:
                raise InterventionError(
                    f"Attention temperature must be above 0 (got {item.temperature:g}): scores are divided by it.")
            _check_layer(item.layer, n_layers, "attention temperature")
        elif isinstance(item, Ablation):
            if item.kind not in ABLATION_KINDS:
                raise InterventionError(f"Unknown ablation '{item.kind}': choose one of {', '.join(ABLATION_KINDS)}.")
            if item.mode not in ABLATION_MODES:
                raise InterventionError(f"Unknown ablation mode '{item.mode}': choose zero or mean.")
            _check_layer(item.layer, n_layers, "ablation")
            if item.kind == HEAD and (item.head is None or not 0 <= item.head < n_heads):
                raise InterventionError(
                    f"There is no head {item.layer}.{item.head}: each layer has heads 0–{n_heads - 1}.")
        elif isinstance(item, Steering):
            _check_layer(item.layer, n_layers, "steering")
            if len(item.vector) != d_model:
                raise InterventionError(
                    f"The steering direction has {len(item.vector)} numbers but the residual stream has {d_model}.")
        else:
            raise InterventionError(f"Not an intervention: {item!r}")


def _check_layer(layer: int | None, n_layers: int, what: str) -> None:
    if layer is not None and not 0 <= layer < n_layers:
        raise InterventionError(f"The {what} layer {layer} does not exist: the model has layers 0–{n_layers - 1}.")


def parse_head(text: str) -> tuple[int, int]:
    """'5.3' -> (5, 3): the layer.head notation of the command line and the window."""
    layer, sep, head = text.strip().partition(".")
    if not sep or not layer.strip().isdigit() or not head.strip().isdigit():
        raise InterventionError(f"'{text}' is not a head: write LAYER.HEAD, e.g. 5.3.")
    return int(layer), int(head)


# -- plain dictionaries (sessions, lessons, --json) ------------------------------------------------


def to_dict(item: Intervention) -> dict:
    if isinstance(item, AttentionTemperature):
        return {"type": "temperature", "temperature": item.temperature, "layer": item.layer, "enabled": item.enabled}
    if isinstance(item, Ablation):
        return {"type": "ablation", "kind": item.kind, "layer": item.layer, "head": item.head, "mode": item.mode,
                "enabled": item.enabled}
    return {"type": "steering", "layer": item.layer, "strength": item.strength, "source": item.source,
            "vector": list(item.vector), "enabled": item.enabled}


def from_dict(data: dict) -> Intervention:
    """The inverse of `to_dict`; InterventionError for anything else (a hand-edited lesson, an old file)."""
    try:
        kind = data["type"]
        enabled = bool(data.get("enabled", True))
        if kind == "temperature":
            layer = data.get("layer")
            return AttentionTemperature(float(data["temperature"]), None if layer is None else int(layer), enabled)
        if kind == "ablation":
            head = data.get("head")
            return Ablation(str(data["kind"]), int(data["layer"]), None if head is None else int(head),
                            str(data.get("mode", ZERO)), enabled)
        if kind == "steering":
            return Steering(int(data["layer"]), tuple(float(x) for x in data["vector"]),
                            float(data.get("strength", 1.0)), str(data.get("source", "")), enabled)
    except (KeyError, TypeError, ValueError) as error:
        raise InterventionError(f"An intervention could not be read ({error}): {data!r:.120}") from error
    raise InterventionError(f"Unknown intervention type {kind!r}.")


def set_to_list(interventions: InterventionSet) -> list[dict]:
    return [to_dict(item) for item in interventions]


def set_from_list(data: Iterable[dict]) -> InterventionSet:
    return InterventionSet(tuple(from_dict(item) for item in data))
