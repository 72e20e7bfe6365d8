"""The anatomy of a loaded model: its parts, their shapes and parameter counts.

`model_anatomy` walks the real modules: embedding, learned positions (GPT-2), each
block's norms / attention / MLP (one block's shapes and count, times N), the final norm
and the unembedding (tied to the embedding or not). The part counts add up exactly to
`sum(p.numel() for p in model.parameters())`, which counts a tied matrix once.

`analysis/model_sizes.py` computes the same numbers from a shape alone (no weights).
"""

from __future__ import annotations

from dataclasses import dataclass

from model_core.analysis.model_sizes import GPT2_STYLE, LLAMA_STYLE


@dataclass(frozen=True)
class Part:
    """One box of the diagram."""

    key: str  # "embedding", "positions", "norm1", "attention", "norm2", "mlp", "final_norm", "unembedding", "other"
    title: str
    shapes: tuple[tuple[str, tuple[int, ...]], ...]  # (parameter name inside the part, shape) of one copy
    params_each: int  # parameters in one copy
    copies: int  # 1, or N for the parts of a block
    note: str = ""

    @property
    def params(self) -> int:
        return self.params_each * self.copies

    def shape_text(self) -> str:
        return ", ".join(f"{name} {'×'.join(str(s) for s in shape)}" for name, shape in self.shapes)


@dataclass(frozen=True)
class Anatomy:
    model_name: str
    style: str  # GPT2_STYLE or LLAMA_STYLE
    n_layers: int
    parts: tuple[Part, ...]
    total: int  # == sum(p.numel() for p in model.parameters())
    tied: bool

    def part(self, key: str) -> Part:
        return next(p for p in self.parts if p.key == key)


def _params(module) -> list[tuple[str, object]]:
    return list(module.named_parameters()) if module is not None else []


def model_anatomy(lm) -> Anatomy:
    """The parts of a loaded model with real shapes and parameter counts (tied weights counted once)."""
    model, adapter = lm.model, lm.adapter
    base = adapter.base(model)
    blocks = adapter.blocks(model)
    n = len(blocks)
    counted: set[int] = set()

    def count(named: list[tuple[str, object]]) -> int:
        total = 0
        for _name, p in named:
            if id(p) not in counted:
                counted.add(id(p))
                total += p.numel()
        return total

    def shapes(named) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return tuple((name.removesuffix(".weight"), tuple(p.shape)) for name, p in named)

    parts: list[Part] = []
    embedding = adapter.embedding(model)
    emb_named = _params(embedding)
    parts.append(Part("embedding", "Token embedding", shapes(emb_named), count(emb_named), 1,
                      "one row of width d per vocabulary entry"))
    positions = getattr(base, "wpe", None)
    if positions is not None:
        named = _params(positions)
        parts.append(Part("positions", "Position embedding (learned)", shapes(named), count(named), 1,
                          "one row per position up to the context length"))

    # Blocks: children named like norms, attention and MLP; the first block gives the shapes.
    first = blocks[0]
    groups: list[tuple[str, str, list[str]]] = []  # (key, title, child names)
    norms = [name for name, child in first.named_children() if "norm" in name.lower() or name.startswith("ln")]
    attn = next(name for name in ("self_attn", "attn", "attention") if hasattr(first, name))
    if norms:
        groups.append(("norm1", f"{adapter.norm_kind} (before attention)", norms[:1]))
    groups.append(("attention", "Attention", [attn]))
    if len(norms) > 1:
        groups.append(("norm2", f"{adapter.norm_kind} (before MLP)", norms[1:]))
    groups.append(("mlp", "MLP", ["mlp"]))
    for key, title, names in groups:
        named_first = [(f"{c}.{pn}" if len(names) > 1 else pn, p)
                       for c in names for pn, p in getattr(first, c).named_parameters()]
        each = sum(p.numel() for _n, p in named_first)
        total = sum(count([(pn, p) for c in names for pn, p in getattr(block, c).named_parameters()])
                    for block in blocks)
        note = ""
        if total != each * n:  # blocks of different shapes (rare): report the average copy
            note = "blocks differ in size"
        parts.append(Part(key, title, shapes(named_first), total // n if total % n == 0 else each, n, note))
    block_rest = sum(count(_params(block)) for block in blocks)  # block params outside the named groups
    final = adapter.final_norm(model)
    named = _params(final)
    parts.append(Part("final_norm", f"Final {adapter.norm_kind}", shapes(named), count(named), 1))
    unembedding = adapter.unembedding(model)
    tied = adapter.tied(model)
    named = _params(unembedding)
    params = count(named)  # a tied matrix was counted with the embedding: 0 here
    parts.append(Part("unembedding", "Unembedding (logits)", shapes(named), params, 1,
                      "tied: the embedding matrix reused, 0 extra parameters" if tied else "its own matrix (not tied)"))
    rest = block_rest + count(list(model.named_parameters()))
    if rest:
        parts.append(Part("other", "Other parameters", (), rest, 1, "parameters outside the parts above"))
    total = sum(p.numel() for p in model.parameters())
    style = LLAMA_STYLE if adapter.norm_kind == "RMSNorm" else GPT2_STYLE
    return Anatomy(lm.info.name, style, n, tuple(parts), total, tied)
