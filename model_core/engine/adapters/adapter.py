"""One loaded model's parts and the maths around them, in the names the rest of the engine uses.

`ModelAdapter(model, family)` finds, once, where the model keeps its blocks, each block's
attention, MLP, norms and router, the final norm, the embeddings and the unembedding
(`discovery.py`), and combines them with what its family needs (`families.py`). The rest of the
engine asks it, never the model's attribute names:

- `unembed(hidden)`: the final norm (and OPT's project_out), the unembedding and the family's
  final-logit transform (Gemma's softcap, Granite's scaling, Cohere's scale): the one function
  that turns residual vectors into logits, for the next-token bars and the logit lens alike;
- `attention_update(i)` / `mlp_update(i)`: where to read what block i's sub-layers add to the
  residual stream (the attention module's output; the post-attention norm's output in post-norm
  blocks; scaled by Granite's residual_multiplier; minus the residual for BLOOM, whose modules
  add it themselves; nothing for post-LN blocks);
- `mlp(i)`, `norms(i)`, `routers`: the pieces the probes and the MoE capture hook.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from model_core.engine.adapters import discovery
from model_core.engine.adapters.discovery import MlpParts
from model_core.engine.adapters.families import BLOOM_HOOKS, Family
from model_core.types.model_info import PARALLEL, POST_LN, SEQUENTIAL


@dataclass(frozen=True)
class Update:
    """Where to read what one sub-layer adds to the residual stream: a module's forward output,
    times `scale` (Granite), minus the module's second argument when the module adds the residual
    itself (BLOOM)."""

    module: nn.Module
    scale: float | None = None
    minus_residual: bool = False

    def read(self, args: tuple, output) -> torch.Tensor:
        """[N, d] the update for the N positions of a batch-1 forward, from a forward hook's arguments."""
        hidden = output[0] if isinstance(output, tuple) else output
        if self.minus_residual:
            hidden = hidden - args[1]
        if self.scale is not None:
            hidden = hidden * self.scale
        return hidden.reshape(-1, hidden.shape[-1])  # OPT's fc2 returns [B·T, d]; the rest [B, T, d]


def _logit_transform(config) -> tuple[Callable[[torch.Tensor], torch.Tensor] | None, str]:
    """The family's last step from unembedding to logits, read from the config (and its description)."""
    cap = getattr(config, "final_logit_softcapping", None)
    if cap:
        return (lambda z: torch.tanh(z / cap) * cap), f"tanh(z/{cap:g})·{cap:g}"
    scaling = getattr(config, "logits_scaling", None)
    if scaling and scaling != 1:
        return (lambda z: z / scaling), f"z / {scaling:g}"
    scale = getattr(config, "logit_scale", None)
    if scale and scale != 1:
        return (lambda z: z * scale), f"z · {scale:g}"
    return None, ""


def _in_width(module: nn.Module) -> int:
    """The input width of a linear map (nn.Linear, or GPT-2's Conv1D whose weight is [in, out])."""
    if hasattr(module, "in_features"):
        return int(module.in_features)
    return int(module.weight.shape[0])


class ModelAdapter:
    """The parts of one loaded causal LM (see the module docstring). Built once per load."""

    def __init__(self, model: nn.Module, family: Family) -> None:
        self.model = model
        self.family = family
        self.config = config = model.config
        self.n_layers = int(config.num_hidden_layers)
        self.blocks_path, self.blocks = discovery.find_blocks(model, self.n_layers)
        self.base = model.base_model
        self.body = discovery.body_of(model, self.blocks_path)
        self.embedding = model.get_input_embeddings()
        self.unembedding = model.get_output_embeddings()
        self.final_norm = discovery.find_final_norm(self.body, self.blocks)
        project_out = getattr(self.body, "project_out", None)  # OPT-350m: width 1024 -> 512 before the head
        self.project_out = project_out if isinstance(project_out, nn.Module) else None
        self._attention = [discovery.find_attention(block)[1] for block in self.blocks]
        self._mlp = [discovery.mlp_parts(block) for block in self.blocks]
        self._post_norms = all(discovery.post_norm_blocks(block) for block in self.blocks)
        self._transform, self.logit_transform_text = _logit_transform(config)
        multiplier = getattr(config, "residual_multiplier", None)
        self._residual_multiplier = float(multiplier) if multiplier not in (None, 1, 1.0) else None
        self._name_cache: dict[int, str] | None = None

    # -- shape -----------------------------------------------------------------------------------

    @property
    def n_heads(self) -> int:
        return int(self.config.num_attention_heads)

    @property
    def n_kv_heads(self) -> int:
        return int(self.family.n_kv_heads(self.config))

    @property
    def d_model(self) -> int:
        return int(self.config.hidden_size)

    @property
    def d_head(self) -> int:
        return int(getattr(self.config, "head_dim", None) or self.d_model // self.n_heads)

    @property
    def d_mlp(self) -> int:
        """The width of one MLP (one expert's in a mixture of experts)."""
        parts = self._mlp[0]
        if parts.kind == "moe":
            cfg = self.config
            return int(getattr(cfg, "moe_intermediate_size", None) or cfg.intermediate_size)
        return _in_width(parts.out_proj)

    @property
    def dtype(self) -> torch.dtype:
        return self.model.dtype

    @property
    def block_layout(self) -> str:
        if self.family.is_post_ln(self.config):
            return POST_LN
        return PARALLEL if self.family.is_parallel(self.config) else SEQUENTIAL

    @property
    def tied(self) -> bool:
        a, b = self.unembedding.weight, self.embedding.weight
        return a is b or (a.device.type != "meta" and a.data_ptr() == b.data_ptr())

    @property
    def embedding_scale(self) -> float | None:
        """Gemma's √d, applied by the embedding module itself (None when the module returns raw rows)."""
        scale = getattr(self.embedding, "embed_scale", None)
        if scale is None:
            return None
        value = float(scale) if not isinstance(scale, torch.Tensor) else float(scale.float().reshape(-1)[0])
        return None if math.isclose(value, 1.0) else value

    # -- the blocks ------------------------------------------------------------------------------

    def attention(self, layer: int) -> nn.Module:
        return self._attention[layer]

    def attention_out_proj(self, layer: int) -> nn.Module | None:
        """Block `layer`'s attention output projection (o_proj, c_proj, dense, out_proj): its input is
        the heads' outputs side by side, [..., H·dh] (None when discovery finds none)."""
        return discovery.find_attention_out_proj(self._attention[layer])

    def mlp(self, layer: int) -> MlpParts:
        return self._mlp[layer]

    def norms(self, layer: int) -> dict[str, tuple[str, nn.Module]]:
        """role (discovery.ATTN_IN, MLP_IN, ATTN_OUT, MLP_OUT) -> (name, norm) in block `layer`."""
        return discovery.block_norms(self.blocks[layer])

    def attention_update(self, layer: int) -> Update | None:
        """Where block `layer`'s attention update is read; None for post-LN blocks (there is none)."""
        if self.block_layout == POST_LN:
            return None
        if self.family.capture == BLOOM_HOOKS:
            return Update(self._attention[layer], minus_residual=True)
        if self._post_norms:
            return Update(self.blocks[layer].post_attention_layernorm, self._residual_multiplier)
        return Update(self._attention[layer], self._residual_multiplier)

    def mlp_update(self, layer: int) -> Update | None:
        """Where block `layer`'s MLP update is read; None for post-LN blocks."""
        if self.block_layout == POST_LN:
            return None
        parts = self._mlp[layer]
        if self.family.capture == BLOOM_HOOKS:
            return Update(parts.container, minus_residual=True)
        if self._post_norms:
            return Update(self.blocks[layer].post_feedforward_layernorm, self._residual_multiplier)
        module = parts.out_proj if parts.container is self.blocks[layer] else parts.container  # OPT: fc2
        return Update(module, self._residual_multiplier)

    # -- mixture of experts ----------------------------------------------------------------------

    @property
    def moe_layers(self) -> tuple[int, ...]:
        return tuple(i for i, parts in enumerate(self._mlp) if parts.kind == "moe")

    @property
    def n_experts(self) -> int:
        layers = self.moe_layers
        return int(self._mlp[layers[0]].router.num_experts) if layers else 0

    @property
    def experts_per_token(self) -> int:
        layers = self.moe_layers
        return int(self._mlp[layers[0]].router.top_k) if layers else 0

    @property
    def shared_experts(self) -> int:
        layers = self.moe_layers
        return int(layers != () and self._mlp[layers[0]].shared_expert is not None)

    @property
    def skipped_per_token(self) -> int:
        """Parameters of the experts one token does not use: (E − k)/E of every MoE layer's experts."""
        e, k = self.n_experts, self.experts_per_token
        if not e:
            return 0
        experts = sum(p.numel() for layer in self.moe_layers for p in self._mlp[layer].experts.parameters())
        return experts * (e - k) // e

    # -- logits ----------------------------------------------------------------------------------

    def final(self, hidden: torch.Tensor) -> torch.Tensor:
        """The last block's output as the unembedding reads it: the final norm, then OPT's project_out."""
        if self.final_norm is not None:
            hidden = self.final_norm(hidden)
        if self.project_out is not None:
            hidden = self.project_out(hidden)
        return hidden

    def unembed(self, hidden: torch.Tensor) -> torch.Tensor:
        """[N, V] float32 logits for [N, d] residual vectors, exactly as the model makes its own."""
        dtype = self.dtype
        logits = self.unembedding(self.final(hidden.to(dtype))).float()
        return self._transform(logits) if self._transform is not None else logits

    # -- where parameters belong (anatomy, placement) ---------------------------------------------

    def part_of(self, parameter_name: str) -> str:
        """'embedding', 'block 3', 'final norm', 'unembedding', another part of the body by its name
        ('wpe', 'word_embeddings_layernorm') or 'other', for a parameter's full name."""
        prefix = self.blocks_path + "."
        if parameter_name.startswith(prefix):
            return f"block {parameter_name[len(prefix):].split('.')[0]}"
        names = self._names()
        for label, module in (("embedding", self.embedding), ("unembedding", self.unembedding),
                              ("final norm", self.final_norm)):
            name = names.get(id(module)) if module is not None else None
            if name is not None and parameter_name.startswith(name + "."):
                return label
        body = names.get(id(self.body))
        if body is not None and parameter_name.startswith(body + "." if body else ""):
            return parameter_name[len(body) + 1 if body else 0:].split(".")[0]
        return "other"

    def _names(self) -> dict[int, str]:
        """id(module) -> its full name in the model (made once, on first use)."""
        if self._name_cache is None:
            self._name_cache = {id(module): name for name, module in self.model.named_modules()}
        return self._name_cache
