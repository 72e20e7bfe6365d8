"""Finding a model's parts from the model itself: blocks, norms, attention, MLP, router, embeddings.

transformers builds every causal LM from the same few pieces under different names
(`transformer.h` / `model.layers` / `gpt_neox.layers` / `model.decoder.layers`; `attn` /
`self_attn` / `attention` / `self_attention`; `ln_f` / `norm` / `final_layernorm`; …). These
functions find them by what they are (a ModuleList with one entry per layer, a child whose class
is an attention module with a `layer_idx`, a norm registered after the blocks) rather than by a
hand-kept table of attribute names. The tests check each finding against plain transformers for
every tested family (tests/model_core/test_families.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from model_core.errors import UnsupportedModelError

# Names of the MLP's last linear map (its input is the neuron activations), of the gate and up
# projections of a gated MLP, and of the activation, in the spellings transformers uses.
_OUT_PROJ = ("down_proj", "c_proj", "fc_out", "dense_4h_to_h", "fc2", "w2")
_IN_PROJ = ("c_fc", "fc_in", "dense_h_to_4h", "fc1", "w1", "up_proj")
_ACT = ("act_fn", "act", "activation_fn", "gelu_impl", "activation")
_MLP_CHILD = ("mlp", "block_sparse_moe", "feed_forward", "moe", "ffn")


def is_norm(module: nn.Module | None) -> bool:
    """LayerNorm, RMSNorm and their per-family subclasses (GemmaRMSNorm, CohereLayerNorm, …)."""
    return module is not None and "norm" in type(module).__name__.lower()


def find_blocks(model: nn.Module, n_layers: int) -> tuple[str, nn.ModuleList]:
    """The list of decoder blocks: the shortest-named ModuleList with one attention block per layer."""
    found = []
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == n_layers and "expert" not in name:
            if all(_attention_child(block) is not None for block in module):
                found.append((name.count("."), name, module))
    if not found:
        raise UnsupportedModelError(
            f"{type(model).__name__} has no list of {n_layers} attention blocks that Logitscope can find."
        )
    _depth, name, blocks = min(found, key=lambda f: f[:2])
    return name, blocks


def _attention_child(block: nn.Module) -> tuple[str, nn.Module] | None:
    for name, child in block.named_children():
        if "attention" in type(child).__name__.lower() and hasattr(child, "layer_idx"):
            return name, child
    for name in ("self_attn", "attn", "attention", "self_attention"):
        child = getattr(block, name, None)
        if isinstance(child, nn.Module):
            return name, child
    return None


def find_attention(block: nn.Module) -> tuple[str, nn.Module]:
    """(name, module) of a block's attention sub-layer."""
    found = _attention_child(block)
    if found is None:
        raise UnsupportedModelError(f"{type(block).__name__} has no attention sub-layer Logitscope can find.")
    return found


_ATTN_OUT_PROJ = ("o_proj", "c_proj", "out_proj", "dense", "wo", "o")


def find_attention_out_proj(attention: nn.Module) -> nn.Module | None:
    """The attention's output projection, whose input is every head's output side by side
    ([..., H·dh]): where a head is ablated or patched. None when the module has none we know."""
    return _child(attention, _ATTN_OUT_PROJ)


def find_mlp_container(block: nn.Module) -> tuple[str, nn.Module]:
    """(name, module) holding a block's MLP; ("", block) when the projections sit on the block (OPT)."""
    for name in _MLP_CHILD:
        child = getattr(block, name, None)
        if isinstance(child, nn.Module):
            return name, child
    for name, child in block.named_children():
        kind = type(child).__name__.lower()
        if kind.endswith(("mlp", "moe", "moeblock", "feedforward")):
            return name, child
    if any(isinstance(getattr(block, n, None), nn.Module) for n in _OUT_PROJ):
        return "", block
    raise UnsupportedModelError(f"{type(block).__name__} has no MLP Logitscope can find.")


def body_of(model: nn.Module, blocks_path: str) -> nn.Module:
    """The module that holds the blocks (model.model, transformer, model.decoder, …)."""
    parent = blocks_path.rpartition(".")[0]
    return model.get_submodule(parent) if parent else model


def find_final_norm(body: nn.Module, blocks: nn.ModuleList) -> nn.Module | None:
    """The norm applied after the last block: a norm child of the body named as final (OPT registers
    its final_layer_norm before the blocks), else the first norm registered after the blocks (before
    them sits an embedding norm, as in BLOOM). None for post-LN models (OPT-350m)."""
    after, first_after = False, None
    for name, child in body.named_children():
        if child is blocks:
            after = True
        elif is_norm(child):
            if "final" in name:
                return child
            if after and first_after is None:
                first_after = child
    return first_after


def embedding_norms(body: nn.Module, blocks: nn.ModuleList) -> list[tuple[str, nn.Module]]:
    """Norms applied to the embeddings before block 0 (BLOOM's word_embeddings_layernorm)."""
    final = find_final_norm(body, blocks)
    found = []
    for name, child in body.named_children():
        if child is blocks:
            break
        if is_norm(child) and child is not final:
            found.append((name, child))
    return found


def position_embeddings(body: nn.Module, token_embedding: nn.Module) -> list[tuple[str, nn.Module]]:
    """Learned position tables (GPT-2's wpe, OPT's embed_positions): embeddings other than the tokens'."""
    return [(name, child) for name, child in body.named_children()
            if isinstance(child, nn.Embedding) and child is not token_embedding]


@dataclass(frozen=True)
class MlpParts:
    """The pieces of one block's MLP that the neuron probe reads.

    kind: "plain" (in → act → out), "gated" (act(gate) * up → out), "gated_fused" (one gate_up
    projection split in two, Phi-3), or "moe" (a router and experts; no neurons of its own).
    """

    kind: str
    container: nn.Module  # the MLP module (the block itself for OPT)
    out_proj: nn.Module | None  # its input is the neuron activations (None for MoE)
    act: nn.Module | None
    gate_proj: nn.Module | None = None
    up_proj: nn.Module | None = None
    gate_up_proj: nn.Module | None = None
    router: nn.Module | None = None
    experts: nn.Module | None = None
    shared_expert: nn.Module | None = None
    shared_expert_gate: nn.Module | None = None

    @property
    def gated(self) -> bool:
        return self.kind in ("gated", "gated_fused")


def _child(module: nn.Module, names: tuple[str, ...]) -> nn.Module | None:
    for name in names:
        child = getattr(module, name, None)
        if isinstance(child, nn.Module):
            return child
    return None


def find_router(container: nn.Module) -> nn.Module | None:
    """A mixture-of-experts router: a child beside `experts` whose class is a router (MixtralTopKRouter,
    Qwen2MoeTopKRouter, GraniteMoeTopKRouter, …). Called, it returns (logits, weights, indices)."""
    if not isinstance(getattr(container, "experts", None), nn.Module):
        return None
    for _name, child in container.named_children():
        if type(child).__name__.lower().endswith("router"):
            return child
    return None


def mlp_parts(block: nn.Module) -> MlpParts:
    """Find the MLP pieces of one block (see MlpParts)."""
    _name, container = find_mlp_container(block)
    act = _child(container, _ACT)
    router = find_router(container)
    if router is not None:
        return MlpParts("moe", container, None, act, router=router, experts=container.experts,
                        shared_expert=_child(container, ("shared_expert", "shared_experts")),
                        shared_expert_gate=_child(container, ("shared_expert_gate",)))
    out_proj = _child(container, _OUT_PROJ)
    if out_proj is None:
        raise UnsupportedModelError(f"{type(container).__name__} has no output projection Logitscope can find.")
    gate_up = _child(container, ("gate_up_proj",))
    if gate_up is not None:
        return MlpParts("gated_fused", container, out_proj, act, gate_up_proj=gate_up)
    gate, up = _child(container, ("gate_proj", "w1")), _child(container, ("up_proj", "w3"))
    if gate is not None and up is not None:
        return MlpParts("gated", container, out_proj, act, gate_proj=gate, up_proj=up)
    return MlpParts("plain", container, out_proj, act, up_proj=_child(container, _IN_PROJ))


# Norm roles inside a block, by the names transformers uses. "post_attention_layernorm" is the
# pre-MLP norm in most families but the norm on attention's output in post-norm ones (Gemma 2/3,
# OLMo 2): the adapter decides that from the block as a whole (`post_norm_blocks`).
ATTN_IN, MLP_IN, ATTN_OUT, MLP_OUT = "attn_in", "mlp_in", "attn_out", "mlp_out"
_ROLE_BY_NAME = {
    "ln_1": ATTN_IN, "input_layernorm": ATTN_IN, "self_attn_layer_norm": ATTN_IN, "ln_attn": ATTN_IN,
    "ln_2": MLP_IN, "pre_feedforward_layernorm": MLP_IN, "ln_mlp": MLP_IN, "final_layer_norm": MLP_IN,
    "post_attention_layernorm": MLP_IN, "post_feedforward_layernorm": MLP_OUT,
}


def post_norm_blocks(block: nn.Module) -> bool:
    """Blocks that normalise each sub-layer's output before adding it (Gemma 2/3, OLMo 2): they
    have a norm after the MLP, so their post_attention_layernorm is the norm after attention."""
    return is_norm(getattr(block, "post_feedforward_layernorm", None))


def block_norms(block: nn.Module) -> dict[str, tuple[str, nn.Module]]:
    """role -> (name, norm) for a block's direct norm children; unknown names get role 'other:<name>'."""
    post = post_norm_blocks(block)
    roles: dict[str, tuple[str, nn.Module]] = {}
    for name, child in block.named_children():
        if not is_norm(child):
            continue
        role = _ROLE_BY_NAME.get(name, f"other:{name}")
        if post and name == "post_attention_layernorm":
            role = ATTN_OUT
        roles[role] = (name, child)
    return roles
