"""The anatomy of a loaded model: its parts, their shapes and parameter counts.

`model_anatomy` walks the real modules, as the adapter found them: the token embedding, learned
positions (GPT-2, OPT), an embedding norm (BLOOM), OPT's width projections, each block's norms /
attention / MLP (one block's shapes and count, times N), the final norm and the unembedding
(tied to the embedding or not). The part counts add up exactly to
`sum(p.numel() for p in model.parameters())`, which counts a tied matrix once.

For a mixture of experts the MLP part is the router plus every expert; a token runs through
only k of the E experts, so `Anatomy.active` (the parameters one token uses) is smaller than
`total`, which is the point of the design.

`analysis/model_sizes.py` computes the same numbers from a shape alone (no weights).
"""

from __future__ import annotations

from model_core.analysis.model_sizes import GPT2_STYLE, LLAMA_STYLE
from model_core.engine.adapters import discovery
from model_core.types.model_info import PARALLEL, POST_LN
from model_core.types.probes import Anatomy, Part  # noqa: F401  (also imported from here; defined torch-free)


def _params(module) -> list[tuple[str, object]]:
    return list(module.named_parameters()) if module is not None else []


def _norm_kind(module) -> str:
    return "RMSNorm" if "rms" in type(module).__name__.lower() else "LayerNorm"


def _block_groups(lm) -> list[tuple[str, str, list[str], str]]:
    """(key, title, child names of a block, note) for the parts of block 0, in the order data flows."""
    adapter = lm.adapter
    first = adapter.blocks[0]
    layout = adapter.block_layout
    norms = adapter.norms(0)
    attn_name = discovery.find_attention(first)[0]
    mlp_name, container = discovery.find_mlp_container(first)
    parts = adapter.mlp(0)
    groups: list[tuple[str, str, list[str], str]] = []

    def norm(role: str, key: str, where: str) -> None:
        if role in norms:
            name, module = norms[role]
            groups.append((key, f"{_norm_kind(module)} ({where})", [name], ""))

    shared = layout == PARALLEL and discovery.MLP_IN not in norms
    if layout == POST_LN:
        norm(discovery.ATTN_IN, "norm1", "after attention + residual")
    else:
        norm(discovery.ATTN_IN, "norm1", "before attention and the MLP" if shared else "before attention")
    groups.append(("attention", "Attention", [attn_name], ""))
    norm(discovery.ATTN_OUT, "attn_post_norm", "on attention's output")
    if layout == POST_LN:
        norm(discovery.MLP_IN, "norm2", "after the MLP + residual")
    else:
        norm(discovery.MLP_IN, "norm2", "before the MLP")
    if container is first:  # OPT: the MLP's projections sit on the block
        names = [n for n, child in first.named_children() if child in (parts.up_proj, parts.out_proj)]
        groups.append(("mlp", "MLP", names, ""))
    elif parts.kind == "moe":
        shared_note = " + a shared expert" if parts.shared_expert is not None else ""
        groups.append(("mlp", f"Mixture of {adapter.n_experts} experts ({adapter.experts_per_token} per token)",
                       [mlp_name], f"a router picks {adapter.experts_per_token} of {adapter.n_experts} "
                                   f"experts for each token{shared_note}"))
    else:
        groups.append(("mlp", "MLP (gated)" if parts.gated else "MLP", [mlp_name], ""))
    norm(discovery.MLP_OUT, "mlp_post_norm", "on the MLP's output")
    return groups


def _active_in_mlp(lm, layer: int) -> int | None:
    """Parameters one token uses in block `layer`'s MLP, when it is a mixture of experts."""
    adapter = lm.adapter
    parts = adapter.mlp(layer)
    if parts.kind != "moe":
        return None
    experts = sum(p.numel() for p in parts.experts.parameters())
    total = sum(p.numel() for p in parts.container.parameters())
    return total - experts * (adapter.n_experts - adapter.experts_per_token) // adapter.n_experts


def model_anatomy(lm) -> Anatomy:
    """The parts of a loaded model with real shapes and parameter counts (tied weights counted once)."""
    adapter = lm.adapter
    model, body, blocks = adapter.model, adapter.body, adapter.blocks
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
    emb_named = _params(adapter.embedding)
    scale = adapter.embedding_scale
    parts.append(Part("embedding", "Token embedding", shapes(emb_named), count(emb_named), 1,
                      "one row of width d per vocabulary entry"
                      + (f"; rows are multiplied by {scale:.4g} (√d) as they are read" if scale else "")))
    for name, module in discovery.position_embeddings(body, adapter.embedding):
        named = _params(module)
        parts.append(Part("positions", "Position embedding (learned)", shapes(named), count(named), 1,
                          f"{name}: one row per position up to the context length"))
    for name, module in discovery.embedding_norms(body, blocks):
        named = _params(module)
        parts.append(Part("embedding_norm", f"{_norm_kind(module)} on the embeddings", shapes(named),
                          count(named), 1, f"{name}, before block 0"))
    projections = [(name, m) for name, m in body.named_children() if name in ("project_in", "project_out")
                   and m is not None]
    if projections:
        named = [(f"{name}.{pn}", p) for name, m in projections for pn, p in m.named_parameters()]
        parts.append(Part("projections", "Width projections", shapes(named), count(named), 1,
                          "project_in before block 0, project_out before the unembedding"))

    # Blocks: the first block gives the shapes; the counts cover every block.
    for key, title, names, note in _block_groups(lm):
        named_first = [(f"{c}.{pn}" if len(names) > 1 else pn, p)
                       for c in names for pn, p in getattr(blocks[0], c).named_parameters()]
        each = sum(p.numel() for _n, p in named_first)
        total = sum(count([(pn, p) for c in names if getattr(block, c, None) is not None
                           for pn, p in getattr(block, c).named_parameters()])
                    for block in blocks)
        copies, per_copy = n, each
        if total != each * n:  # blocks of different shapes (dense and MoE blocks mixed): one total for all
            copies, per_copy = 1, total
            note = (note + "; " if note else "") + f"blocks differ in size: the total over all {n}"
        active_each = None
        if key == "mlp" and adapter.moe_layers:
            active = sum(a if (a := _active_in_mlp(lm, i)) is not None
                         else sum(p.numel() for c in names for p in getattr(blocks[i], c).parameters())
                         for i in range(n))
            active_each = active // copies
        parts.append(Part(key, title, shapes(named_first), per_copy, copies, note, active_each))
    block_rest = sum(count(_params(block)) for block in blocks)  # block params outside the named groups
    named = _params(adapter.final_norm)
    if adapter.final_norm is not None:
        parts.append(Part("final_norm", f"Final {_norm_kind(adapter.final_norm)}", shapes(named), count(named), 1))
    tied = adapter.tied
    named = _params(adapter.unembedding)
    params = count(named)  # a tied matrix was counted with the embedding: 0 here
    note = "tied: the embedding matrix reused, 0 extra parameters" if tied else "its own matrix (not tied)"
    if adapter.logit_transform_text:
        note += f"; then logits = {adapter.logit_transform_text}"
    parts.append(Part("unembedding", "Unembedding (logits)", shapes(named), params, 1, note))
    rest = block_rest + count(list(model.named_parameters()))
    if rest:
        parts.append(Part("other", "Other parameters", (), rest, 1, "parameters outside the parts above"))
    total = sum(p.numel() for p in model.parameters())
    active = total - adapter.skipped_per_token
    style = LLAMA_STYLE if adapter.final_norm is not None and _norm_kind(adapter.final_norm) == "RMSNorm" \
        else GPT2_STYLE
    return Anatomy(lm.info.name, style, n, tuple(parts), total, tied, active,
                   adapter.n_experts, adapter.experts_per_token)
