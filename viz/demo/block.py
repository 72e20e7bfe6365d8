"""Inside a block: MLP neurons, the gated MLP's parts, per-layer update sizes, KV-cache timings, the anatomy."""

from __future__ import annotations

import numpy as np

from viz.block_views import AnatomyDiagram, DiagramBox, GroupedBars, SignedBars, StepLines
from viz.demo import fake

D_MLP = 1536  # SmolLM2-135M's MLP width
GATED_SHOWN = 16  # neurons in the gate/up chart, as in the MLP panel


def _silu(x: np.ndarray) -> np.ndarray:
    return x * fake.sigmoid(x)


def _gated_mlp(seed: int = 29) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(silu(gate), up, silu(gate) × up), each [D_MLP]: most neurons near zero, a few firing hard."""
    gen = fake.rng(seed)
    gate = gen.normal(-1.2, 1.1, D_MLP)
    up = gen.normal(0.0, 0.55, D_MLP)
    strong = gen.choice(D_MLP, 12, replace=False)
    gate[strong] = gen.uniform(2.5, 5.0, 12)
    up[strong] = gen.choice([-1, 1], 12) * gen.uniform(0.8, 2.2, 12)
    act = _silu(gate)
    return act, up, act * up


def neurons() -> SignedBars:
    """SignedBars: all 1,536 MLP neurons (silu(gate) × up) of layer 7 at the last token."""
    widget = SignedBars()
    widget.set_values(_gated_mlp()[2], "neuron", "activation")
    widget.resize(760, 320)
    return widget


def gated_mlp() -> GroupedBars:
    """GroupedBars: gate, up and their product for the 16 strongest neurons (a gate near 0 silences one)."""
    gate, up, hidden = _gated_mlp()
    shown = np.argsort(np.abs(hidden))[::-1][:GATED_SHOWN]
    widget = GroupedBars()
    widget.set_series([str(int(i)) for i in shown],
                      {"gate = act_fn(gate_proj·x)": gate[shown], "up = up_proj·x": up[shown],
                       "gate × up": hidden[shown]},
                      "neuron (strongest first)", "value")
    widget.resize(760, 320)
    return widget


def layer_updates() -> GroupedBars:
    """GroupedBars: ‖attention update‖ vs ‖MLP update‖ per layer, layer 7 outlined; MLP 0 and the last are big."""
    gen = fake.rng(31)
    layers = np.arange(fake.N_LAYERS)
    attn = 2.0 + 0.35 * layers + gen.normal(0.0, 0.4, fake.N_LAYERS)
    mlp = 3.0 + 0.5 * layers + gen.normal(0.0, 0.6, fake.N_LAYERS)
    mlp[0], mlp[-1] = 21.0, 14.5  # the first MLP finishes the embedding; the last sharpens the output
    widget = GroupedBars()
    widget.set_series([str(i) for i in layers], {"‖attention update‖": attn, "‖MLP update‖": mlp},
                      "layer", "norm", highlight=7)
    widget.resize(760, 320)
    return widget


def kv_cache() -> StepLines:
    """StepLines: milliseconds per generated token with the KV cache (flat) and recomputing (growing)."""
    gen = fake.rng(37)
    steps = 32
    cached = 13.0 + gen.gamma(2.0, 0.6, steps)
    recompute = 41.0 + 2.3 * np.arange(steps) + gen.gamma(2.0, 1.2, steps)
    cached[0] = recompute[0] = 44.0 + gen.normal(0.0, 1.0)  # step 1 reads the whole prompt either way
    widget = StepLines()
    widget.set_lines({"with cache": cached, "recompute every step": recompute}, "generated token", "milliseconds")
    widget.resize(760, 320)
    return widget


def anatomy() -> AnatomyDiagram:
    """AnatomyDiagram: SmolLM2-135M (Llama style, 30 blocks, tied embeddings), output at the top."""
    n, d, d_kv, d_mlp, vocab = 30, 576, 192, 1536, 49152

    def part(key: str, title: str, kind: str, shapes: list[tuple[str, tuple[int, ...]]]) -> DiagramBox:
        each = sum(int(np.prod(shape)) for _, shape in shapes)
        text = ", ".join(f"{name} {'×'.join(map(str, shape))}" for name, shape in shapes)
        return DiagramBox(key, title, f"{fake.human_count(each)} per block · × {n} = {fake.human_count(each * n)}"
                          f"\n{text}", kind, text)

    block = [
        part("norm1", "RMSNorm (before attention)", "norm", [("weight", (d,))]),
        part("attention", "Attention", "attention", [("q_proj", (d, d)), ("k_proj", (d_kv, d)),
                                                     ("v_proj", (d_kv, d)), ("o_proj", (d, d))]),
        DiagramBox("add", "+ add to the residual stream", "", "add"),
        part("norm2", "RMSNorm (before MLP)", "norm", [("weight", (d,))]),
        part("mlp", "MLP", "mlp", [("gate_proj", (d_mlp, d)), ("up_proj", (d_mlp, d)), ("down_proj", (d, d_mlp))]),
        DiagramBox("add", "+ add to the residual stream", "", "add"),
    ]
    per_block = d + 2 * d * d + 2 * d_kv * d + d + 3 * d_mlp * d
    before = [DiagramBox("embedding", "Token embedding", f"{fake.human_count(vocab * d)} parameters\nweight {vocab}×{d}",
                         "embed", f"weight {vocab}×{d}")]
    after = [DiagramBox("final_norm", "Final RMSNorm", f"{fake.human_count(d)} parameters\nweight {d}", "norm"),
             DiagramBox("unembedding", "Unembedding (logits)", "tied: the embedding matrix reused, 0 extra parameters",
                        "unembed")]
    widget = AnatomyDiagram()
    widget.set_boxes(before, block, after, f"× {n} blocks ({fake.human_count(per_block)} parameters each)")
    widget.resize(560, 620)
    return widget
