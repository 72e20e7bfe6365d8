"""What the window knows about a model: plain data, no torch, so the GUI can show it before torch loads."""

from __future__ import annotations

from dataclasses import dataclass

BUILTIN = "builtin"
GPT2_FAMILY = ("gpt2", "distilgpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")  # where the model can run; "auto" picks CUDA, then MPS, then CPU
# The number type the weights are loaded in. float32 is what the panels are checked against; the
# half-width types halve the memory and move probabilities by about 1e-2 (tests/model_core/test_big_models.py).
DTYPE_CHOICES = ("float32", "bfloat16", "float16")

# How a block's two sub-layers meet the residual stream; it decides what `Trace.attn_out` means.
SEQUENTIAL = "sequential"  # x + attn(x), then + mlp(...): residual + attn_out is a state the model computes
PARALLEL = "parallel"  # attention and MLP both read the block input: the mid-block stream is never computed
POST_LN = "post-ln"  # norms after each residual add (OPT-350m): no separable attention contribution

BLOCK_LAYOUT_NOTES = {
    SEQUENTIAL: "",
    PARALLEL: ("attention and the MLP read the same input in this model, so 'after attention, before the MLP' "
               "is a stream the model never computes: it shows what attention alone adds"),
    POST_LN: ("this model normalises after each residual add, so what attention adds cannot be separated "
              "from the stream: there is no mid-block state to show"),
}


@dataclass(frozen=True)
class Placement:
    """Where one group of a model's parts lives, and the memory its weights take there."""

    device: str  # "cpu", "cuda:0", "mps" or "disk" (read from the offload folder when used)
    parts: str  # "embedding, blocks 0–11, final norm, unembedding"
    nbytes: int


@dataclass(frozen=True)
class ModelInfo:
    """The facts the model picker shows; plain data so it can cross threads."""

    name: str
    source: str  # "builtin", a hub id, or a folder path
    architecture: str  # the family as people name it: "Llama", "Gemma 2", "Mixtral"
    model_type: str  # transformers' name: "llama", "gemma2", "mixtral"
    n_layers: int
    n_heads: int
    n_kv_heads: int
    d_model: int
    d_head: int
    d_mlp: int
    vocab_size: int
    n_params: int
    context_length: int
    device: str
    dtype: str
    tied_embeddings: bool
    licence: str
    block_layout: str = SEQUENTIAL
    # Mixture of experts: 0 for a dense model. `moe_layers` are the blocks with a router.
    n_experts: int = 0
    experts_per_token: int = 0
    moe_layers: tuple[int, ...] = ()
    shared_experts: int = 0  # experts every token uses (Qwen2-MoE's shared expert)
    n_active_params: int = 0  # parameters one token uses: n_params minus the experts it skips
    placement: tuple[Placement, ...] = ()  # where the parts live; more than one entry when offloaded
    weight_bytes: int = 0
    tested: bool = True  # False: opened through discovery alone, not one of the families in the test suite
    notes: tuple[str, ...] = ()  # what is special about this family (softcapping, ALiBi, …)

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 0

    @property
    def block_layout_note(self) -> str:
        """Why the mid-block views read differently for this model ('' for sequential blocks)."""
        return BLOCK_LAYOUT_NOTES[self.block_layout]

    @property
    def offloaded(self) -> bool:
        return len({p.device for p in self.placement}) > 1 or any(p.device == "disk" for p in self.placement)

    def placement_text(self) -> str:
        """'cpu: embedding, blocks 0–1 (1.2 MB); disk: blocks 2–5, unembedding (3.4 MB)'."""
        return "; ".join(f"{p.device}: {p.parts} ({size_text(p.nbytes)})" for p in self.placement)

    def summary(self) -> str:
        kv = f" ({self.n_kv_heads} key/value)" if self.n_kv_heads != self.n_heads else ""
        moe = (f", {self.n_experts} experts ({self.experts_per_token} per token, "
               f"{self.n_active_params / 1e6:.0f}M active)" if self.is_moe else "")
        return (
            f"{self.name}: {self.architecture}, {self.n_layers} layers, {self.n_heads} heads{kv}, "
            f"width {self.d_model}, vocabulary {self.vocab_size:,}, {self.n_params / 1e6:.0f}M parameters{moe}, "
            f"context {self.context_length:,}, {self.device}"
        )


def size_text(n: int) -> str:
    """Bytes as people read them: '1.5 GB', '3.4 MB', '812 B' (powers of 1000, as disks count)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"
