"""Made-up model data for the demos: numpy only, every generator seeded, shapes as the app passes them.

One prompt runs through every demo, so the same token looks the same everywhere::

    The capital of France is Paris. The capital of Germany is Berlin. The capital of Italy is

Its repeats are what real attention heads and the logit lens latch on to: a previous-token
head, an induction head (the second "␣capital" reads the "␣of" that followed the first),
the first token as an attention sink, "␣Rome" becoming the top guess only in late layers.
Labels follow the app's convention: "␣" marks a leading space. Ids are GPT-2's.
"""

from __future__ import annotations

import numpy as np

PROMPT: tuple[tuple[str, int], ...] = (
    ("The", 464), ("␣capital", 3139), ("␣of", 286), ("␣France", 4881), ("␣is", 318), ("␣Paris", 6342),
    (".", 13), ("␣The", 383), ("␣capital", 3139), ("␣of", 286), ("␣Germany", 4486), ("␣is", 318),
    ("␣Berlin", 11307), (".", 13), ("␣The", 383), ("␣capital", 3139), ("␣of", 286), ("␣Italy", 8031),
    ("␣is", 318),
)
GENERATED: tuple[tuple[str, int], ...] = (("␣Rome", 10598), (".", 13))

LABELS: list[str] = [label for label, _ in PROMPT]
IDS: list[int] = [token_id for _, token_id in PROMPT]
N_LAYERS = 12  # GPT-2 small's depth and width: 12 blocks of 12 heads
N_HEADS = 12


def rng(seed: int) -> np.random.Generator:
    """Every demo draws from its own seeded generator, so each one looks the same every run."""
    return np.random.default_rng(seed)


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    z = logits - np.max(logits, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def induction_targets(labels: list[str]) -> np.ndarray:
    """[T] for each query, the key just after the latest earlier copy of the same token (-1: none)."""
    targets = np.full(len(labels), -1, dtype=np.int64)
    for q, label in enumerate(labels):
        earlier = [j for j in range(q) if labels[j] == label]
        if earlier and earlier[-1] + 1 < q:
            targets[q] = earlier[-1] + 1
    return targets


def attention_pattern(
    labels: list[str],
    gen: np.random.Generator,
    sink: float = 0.0,
    previous: float = 0.0,
    self_: float = 0.0,
    induction: float = 0.0,
    noise: float = 0.6,
) -> np.ndarray:
    """[T, T] causal attention weights (rows sum to 1, zero above the diagonal) from scored ingredients.

    Each argument is a logit bonus: ``sink`` for key 0, ``previous`` for key q-1, ``self_`` for
    key q, ``induction`` for the token after the previous copy of the query's token; ``noise``
    is the spread of content-based scores, shared per key so some tokens draw every query.
    """
    t = len(labels)
    q, k = np.indices((t, t))  # [T, T] each
    logits = gen.normal(0.0, noise, (t, t)) + gen.normal(0.0, noise, t)[None, :]  # [T, T]
    logits[:, 0] += sink
    logits[q - k == 1] += previous
    logits[q == k] += self_
    targets = induction_targets(labels)
    rows = np.flatnonzero(targets >= 0)
    logits[rows, targets[rows]] += induction
    logits[k > q] = -np.inf
    return softmax(logits, axis=1)


DEMO_HEAD = (3, 5)  # (layer, head) the attention and heads demos both feature


def demo_head(labels: list[str]) -> np.ndarray:
    """[T, T] the featured head: a first-token sink, a previous-token diagonal and an induction stripe."""
    return attention_pattern(labels, rng(3), sink=2.2, previous=3.8, induction=3.0, noise=0.5)


def head_zoo(labels: list[str], n_layers: int = N_LAYERS, n_heads: int = N_HEADS, seed: int = 7) -> np.ndarray:
    """[L, H, T, T] a model's worth of heads: early previous-token and self heads, induction heads
    in the middle, and more and more of the late heads parked on the first token (the sink).
    The head at DEMO_HEAD is ``demo_head``."""
    gen = rng(seed)
    out = np.zeros((n_layers, n_heads, len(labels), len(labels)), dtype=np.float32)
    for layer in range(n_layers):
        depth = layer / max(n_layers - 1, 1)  # 0 first block .. 1 last
        for head in range(n_heads):
            kind = gen.random()
            if layer < 3 and kind < 0.35:
                ingredients = {"previous": gen.uniform(3.5, 6.0), "sink": gen.uniform(0, 1.5)}
            elif layer < 2 and kind < 0.6:
                ingredients = {"self_": gen.uniform(2.5, 4.5), "sink": gen.uniform(0, 1)}
            elif 4 <= layer <= 8 and kind < 0.22:
                ingredients = {"induction": gen.uniform(4.5, 6.5), "sink": gen.uniform(1.5, 3.0)}
            elif kind < 0.25 + 0.5 * depth:
                ingredients = {"sink": gen.uniform(3.5, 6.5), "previous": gen.uniform(0, 1.5)}
            else:
                ingredients = {"sink": gen.uniform(0.5, 3.0), "previous": gen.uniform(0, 2.0),
                               "noise": gen.uniform(0.6, 1.4)}
            out[layer, head] = attention_pattern(labels, gen, **ingredients)
    if n_layers > DEMO_HEAD[0] and n_heads > DEMO_HEAD[1]:
        out[DEMO_HEAD] = demo_head(labels)
    return out


def human_count(n: float) -> str:
    """1234 -> '1.2 K', 134515008 -> '134.5 M' (as the anatomy panel writes parameter counts)."""
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f}"


# --- next-token candidates after "... The capital of Italy is" -------------------------------------
# (label, final-layer logit, where in depth 0..1 the token stands out most, how long it does)
NEXT_TOKENS: tuple[tuple[str, float, float, float], ...] = (
    ("␣Rome", 9.4, 1.0, 0.30), ("␣the", 7.2, 0.55, 0.20), ("␣a", 6.9, 0.45, 0.20), ("␣Milan", 6.8, 0.85, 0.15),
    ("␣located", 6.6, 0.70, 0.15), ("␣not", 6.2, 0.40, 0.20), ("␣also", 6.2, 0.50, 0.20),
    ("␣Florence", 6.0, 0.90, 0.15), ("␣Naples", 5.9, 0.90, 0.15), ("␣one", 5.6, 0.50, 0.20),
    ("␣home", 5.4, 0.65, 0.15), ("␣called", 5.3, 0.60, 0.20), ("␣Paris", 5.2, 0.65, 0.10),
    ("␣Berlin", 5.0, 0.62, 0.10), ("␣in", 4.9, 0.35, 0.20), ("␣Venice", 4.9, 0.90, 0.15),
    ("␣known", 4.8, 0.60, 0.20), (",", 4.5, 0.20, 0.20), ("␣is", 2.0, 0.0, 0.25), ("␣Italian", 4.0, 0.30, 0.15),
)
# Sub-word pieces for the junk the logit lens shows at the embeddings and first blocks.
_PIECES = ("con", "ver", "ment", "ing", "ist", "ab", "ter", "ion", "al", "ous", "re", "un", "pre", "ed", "ly",
           "st", "ant", "ic", "ens", "or", "ish", "amp", "ith", "oc", "ud", "ert", "anc", "ow", "ib", "elf")


def junk_labels(n: int, seed: int = 19) -> list[str]:
    """n distinct made-up sub-word tokens ("␣conver", "isting", ...), shuffled."""
    combos = [f"{space}{a}{b}" for space in ("␣", "") for a in _PIECES for b in ("", *_PIECES)]
    order = rng(seed).permutation(len(combos))
    if n > len(combos):
        raise ValueError(f"at most {len(combos)} junk labels")
    return [combos[i] for i in order[:n]]


def lens_distributions(n_layers: int = N_LAYERS, vocab: int = 1500, seed: int = 11) -> tuple[list[str], np.ndarray]:
    """(labels [V], probs [L+1, V]): the logit lens at the last position of the prompt.

    Layer 0 (the embeddings, read through the tied unembedding) mostly predicts the input
    token itself among junk; generic continuations ("␣the", "␣a") rise in the middle blocks,
    and "␣Rome" climbs out of the pack in the last third to about 60 % at the output.
    """
    gen = rng(seed)
    depth = np.linspace(0.0, 1.0, n_layers + 1)  # [L+1]
    n_named, n_junk = len(NEXT_TOKENS), vocab - len(NEXT_TOKENS)
    labels = [name for name, *_ in NEXT_TOKENS] + junk_labels(n_junk)
    logits = np.zeros((n_layers + 1, vocab))  # [L+1, V]
    spread = 0.9 + 1.1 * (1 - depth)  # junk is as likely as anything early on, and fades
    logits[:, n_named:] = gen.normal(0.0, 1.0, (n_layers + 1, n_junk)) * spread[:, None]
    for v, (name, final, peak, width) in enumerate(NEXT_TOKENS):
        bump = np.exp(-0.5 * ((depth - peak) / width) ** 2)  # [L+1] its moment, 1 at the peak
        # Rises to ``final`` at the output, standing out by up to 2.5 around its peak depth.
        logits[:, v] = final * (0.35 + 0.65 * depth) + 2.5 * (bump - bump[-1] * depth)
        if name == "␣Rome":  # recalled late: flat, then a steep climb through the last blocks
            climb = sigmoid((depth - 0.68) * 11)
            logits[:, v] = 2.0 + (final - 2.0) * climb / climb[-1]
        if name == "␣is":  # the input token: what the embeddings "predict" through tied weights
            logits[:, v] = 7.0 * (1 - depth) ** 3 + final
        logits[:-1, v] += gen.normal(0.0, 0.3, n_layers)
    return labels, softmax(logits, axis=1)


# After each prompt position, (top-1 of the final layer, its probability, a middle layer's guess).
NEXT_AFTER: tuple[tuple[str, float, str], ...] = (
    ("␣first", 0.06, "␣same"), ("␣of", 0.71, "␣city"), ("␣the", 0.22, "␣the"), ("␣is", 0.38, ","),
    ("␣Paris", 0.55, "␣the"), (".", 0.47, ","), ("␣The", 0.18, "␣It"), ("␣capital", 0.64, "␣first"),
    ("␣of", 0.97, "␣of"), ("␣Germany", 0.41, "␣the"), ("␣is", 0.86, ","), ("␣Berlin", 0.93, "␣Paris"),
    (".", 0.91, ","), ("␣The", 0.88, "␣The"), ("␣capital", 0.96, "␣capital"), ("␣of", 0.99, "␣of"),
    ("␣Spain", 0.23, "␣the"), ("␣is", 0.92, ","), ("␣Rome", 0.56, "␣the"),  # as lens_distributions
)


def lens_grid(n_layers: int = N_LAYERS, seed: int = 13) -> tuple[list[list[str]], np.ndarray]:
    """(texts [L+1][T], probs [L+1, T]): each layer's top-1 next token after each position, layer 0 first.

    The embeddings echo the input token; middle layers make a generic guess; the final answer
    takes over at a depth that comes earlier where the prompt already showed the pattern.
    """
    gen = rng(seed)
    texts: list[list[str]] = []
    probs = np.zeros((n_layers + 1, len(LABELS)))
    for t, (final, p_final, middle) in enumerate(NEXT_AFTER):
        takeover = gen.uniform(0.45, 0.6) if p_final > 0.8 else gen.uniform(0.6, 0.85)
        column = []
        for layer in range(n_layers + 1):
            f = layer / n_layers
            if f < 0.2:
                column.append(LABELS[t])
                probs[layer, t] = gen.uniform(0.03, 0.2) * (1 - f)
            elif f < takeover:
                column.append(middle)
                probs[layer, t] = gen.uniform(0.03, 0.12)
            else:
                column.append(final)
                probs[layer, t] = p_final * (0.35 + 0.65 * (f - takeover) / max(1 - takeover, 1e-9))
        texts.append(column)
    return [list(row) for row in zip(*texts, strict=True)], np.clip(probs, 0.0, 1.0)


def trajectories(labels: list[str], n_layers: int = N_LAYERS, seed: int = 5) -> np.ndarray:
    """[L+1, T, 2] the residual stream of every token, as a PCA of it would place it, layer by layer.

    Layer 0 is the embedding: copies of the same token start on the same spot. Each block
    pulls a token towards the tokens before it (attention mixes context in) and pushes the
    whole cloud along the layer's direction; the first token drifts far out (its norm grows
    huge: the attention sink), and the last token, which carries the prediction, breaks away
    from the pack in the final blocks.
    """
    gen = rng(seed)
    t = len(labels)
    spots = {label: gen.normal(0.0, 1.0, 2) for label in dict.fromkeys(labels)}
    x = np.array([spots[label] for label in labels])  # [T, 2]
    own = gen.normal(0.0, 0.22, (t, 2))  # [T, 2] where each token's context takes it, layer after layer
    points = [x.copy()]
    heading = gen.normal(0.0, 1.0, 2)
    heading /= np.linalg.norm(heading)
    for layer in range(1, n_layers + 1):
        heading = heading + gen.normal(0.0, 0.5, 2)
        heading /= np.linalg.norm(heading)
        context = np.cumsum(x, axis=0) / np.arange(1, t + 1)[:, None]  # [T, 2] mean of each prefix
        x = x + 0.08 * (context - x) + 0.25 * heading + own + gen.normal(0.0, 0.1, (t, 2))
        x[0] += np.array([-0.35, 0.5]) * (0.3 + 0.05 * layer)  # the sink runs away
        if layer > n_layers * 0.6:
            x[-1] += np.array([0.8, -0.5]) * (layer - n_layers * 0.6) / 2.5
        points.append(x.copy())
    return np.stack(points)  # [L+1, T, 2]


N_EXPERTS = 8  # Mixtral's: 8 experts, 2 chosen per token
EXPERTS_PER_TOKEN = 2
DENSE_LAYERS = (3,)  # a dense block inside the MoE model (Qwen2-MoE's mlp_only_layers)


def moe_routing(n_layers: int = 8, n_experts: int = N_EXPERTS, k: int = EXPERTS_PER_TOKEN,
                seed: int = 17) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ids [L, T, k], weights [L, T, k], probs [L, T, E], shared_gate [L, T, 1]) of a router.

    Each expert has a taste: a direction in a made-up token space, so the same token tends to go
    to the same experts in a layer (the "␣capital"s agree, punctuation has its own expert) while
    layers differ. Weights are Mixtral's: softmax over all experts, top-k, renormalised to sum 1.
    Layer 3 is dense (ids -1, weights 0). The shared-expert gate is a sigmoid of another taste.
    """
    gen = rng(seed)
    t = len(LABELS)
    token_vecs = {label: gen.normal(0.0, 1.0, 6) for label in dict.fromkeys(LABELS)}
    x = np.array([token_vecs[label] for label in LABELS])  # [T, 6]
    position = np.linspace(-1.0, 1.0, t)[:, None]  # [T, 1] a little drift along the prompt
    ids = np.full((n_layers, t, k), -1, dtype=np.int16)
    weights = np.zeros((n_layers, t, k), dtype=np.float32)
    probs = np.zeros((n_layers, t, n_experts), dtype=np.float32)
    shared = np.zeros((n_layers, t, 1), dtype=np.float32)
    for layer in range(n_layers):
        if layer in DENSE_LAYERS:
            continue
        taste = gen.normal(0.0, 1.0, (6, n_experts))  # [6, E]
        logits = 0.7 * x @ taste + 0.6 * position * gen.normal(0.0, 1.0, n_experts)  # [T, E]
        p = softmax(logits, axis=1)
        top = np.argsort(-p, axis=1)[:, :k]  # [T, k]
        w = np.take_along_axis(p, top, axis=1)
        ids[layer], weights[layer], probs[layer] = top, w / w.sum(axis=1, keepdims=True), p
        shared[layer, :, 0] = sigmoid(x @ gen.normal(0.0, 0.8, 6))
    return ids, weights, probs, shared
