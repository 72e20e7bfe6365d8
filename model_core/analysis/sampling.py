"""Every knob of decoding, made visible: the step of nanoGPT's generate loop, in numpy.

The order is Hugging Face `generate`'s own (`GenerationMixin._get_logits_processor`):

1. logit bias (`SequenceBiasLogitsProcessor` for one-token sequences; a bias of -100 or less bans
   the token outright, like `SuppressTokensLogitsProcessor`),
2. repetition penalty (`RepetitionPenaltyLogitsProcessor`: a logit of a token already in the
   text is divided by the penalty when positive, multiplied when negative),
3. frequency and presence penalties (OpenAI's: minus count × frequency, minus presence once;
   transformers has no processor for these),
4. temperature, then top-k, top-p and min-p (the warpers, in that order; each works on what the
   one before kept, as `TopPLogitsWarper` renormalises over top-k's survivors).

Greedy (temperature 0) takes the most likely token after steps 1-3, as `generate` does without
sampling. Penalties count every token of the text so far, the prompt included (as
`generate` does with `repetition_penalty`).

Why numpy and not transformers' torch processors: the bars reshape on every change of a knob
in the GUI thread, which never imports torch (and must not wait for the worker, which may be
busy generating); the stepper draws from this same function, so what is drawn is what is
sampled. tests/model_core/test_sampling.py checks each step against the torch processors.

`shape_distribution` returns the distribution before and after filtering, so the UI can grey
out what was cut (and say why) instead of hiding it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

BAN = -100.0  # a logit bias this low bans the token (OpenAI's convention: -100 means never)
MAX_REPETITION_PENALTY = 10.0
MAX_FREQUENCY_PENALTY = 2.0  # OpenAI's range for frequency and presence penalties: [-2, 2]
MAX_BIAS = 100.0
MAX_STOP_SEQUENCES = 16

# Why a token cannot be drawn (Distribution.removed_by).
KEPT, BANNED, TOP_K, TOP_P, MIN_P, GREEDY = 0, 1, 2, 3, 4, 5


@dataclass(frozen=True)
class SamplingSettings:
    """How the next token is chosen. temperature 0 means greedy; top_k 0, top_p 1, min_p 0,
    repetition_penalty 1 and frequency/presence 0 mean off."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    logit_bias: tuple[tuple[int, float], ...] = ()  # (token id, bias), sorted by id
    stop: tuple[str, ...] = field(default=())  # stop sequences: generation ends once one appears

    def validated(self) -> SamplingSettings:
        """The settings, or ValueError saying which knob is out of range (and what its range is)."""
        if not (self.temperature >= 0 and np.isfinite(self.temperature)):
            raise ValueError("temperature must be a number ≥ 0")
        if self.top_k < 0:
            raise ValueError("top-k must be ≥ 0 (0 = off)")
        if not (0 < self.top_p <= 1):
            raise ValueError("top-p must be in (0, 1]")
        if not (0 <= self.min_p <= 1):
            raise ValueError("min-p must be in [0, 1] (0 = off)")
        if not (0 < self.repetition_penalty <= MAX_REPETITION_PENALTY):
            raise ValueError(f"repetition penalty must be in (0, {MAX_REPETITION_PENALTY:g}] (1 = off)")
        for name, value in (("frequency", self.frequency_penalty), ("presence", self.presence_penalty)):
            if not (-MAX_FREQUENCY_PENALTY <= value <= MAX_FREQUENCY_PENALTY):
                raise ValueError(f"{name} penalty must be in [-{MAX_FREQUENCY_PENALTY:g}, "
                                 f"{MAX_FREQUENCY_PENALTY:g}] (0 = off)")
        for token_id, bias in self.logit_bias:
            if int(token_id) < 0:
                raise ValueError(f"logit bias: token id {token_id} must be ≥ 0")
            if not (-MAX_BIAS <= bias <= MAX_BIAS):
                raise ValueError(f"logit bias for token {token_id} must be in [-{MAX_BIAS:g}, {MAX_BIAS:g}] "
                                 f"(-{MAX_BIAS:g} bans it)")
        if any(not s for s in self.stop):
            raise ValueError("a stop sequence cannot be empty")
        if len(self.stop) > MAX_STOP_SEQUENCES:
            raise ValueError(f"at most {MAX_STOP_SEQUENCES} stop sequences")
        return self

    @property
    def changes_logits(self) -> bool:
        """True when a knob before the temperature is on (a bias or a penalty)."""
        return bool(self.logit_bias) or self.repetition_penalty != 1.0 or self.frequency_penalty != 0.0 \
            or self.presence_penalty != 0.0

    @property
    def bias(self) -> dict[int, float]:
        return {int(i): float(b) for i, b in self.logit_bias}


def bias_table(entries: Iterable[tuple[int, float]]) -> tuple[tuple[int, float], ...]:
    """Logit-bias entries as the settings hold them: one per token id (the last wins), sorted."""
    table: dict[int, float] = {}
    for token_id, bias in entries:
        table[int(token_id)] = float(bias)
    return tuple(sorted(table.items()))


def parse_bias_entry(text: str) -> tuple[int, float]:
    """'ID=BIAS' (e.g. '7042=-100') -> (7042, -100.0); ValueError with the reason otherwise."""
    head, sep, tail = text.strip().partition("=")
    if not sep:
        raise ValueError(f"logit bias {text.strip()!r} must be written ID=BIAS, e.g. 7042=-100")
    try:
        token_id = int(head.strip())
        bias = float(tail.strip())
    except ValueError:
        raise ValueError(f"logit bias {text.strip()!r} must be a token id and a number, e.g. 7042=-100") from None
    if token_id < 0:
        raise ValueError(f"logit bias {text.strip()!r}: the token id must be ≥ 0")
    if not np.isfinite(bias) or not -MAX_BIAS <= bias <= MAX_BIAS:
        raise ValueError(f"logit bias {text.strip()!r}: the bias must be in [-{MAX_BIAS:g}, {MAX_BIAS:g}]")
    return token_id, bias


def parse_bias_list(text: str) -> tuple[tuple[int, float], ...]:
    """'7042=-100, 12=+2.5' -> ((12, 2.5), (7042, -100.0)); '' -> ()."""
    parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
    return bias_table(parse_bias_entry(p) for p in parts)


def format_bias_list(entries: Sequence[tuple[int, float]]) -> str:
    return ", ".join(f"{i}={b:+g}" for i, b in entries)


_ESCAPES = {"n": "\n", "t": "\t", "|": "|", "\\": "\\"}


def parse_stop_list(text: str) -> tuple[str, ...]:
    """Stop sequences typed on one line: separated by '|', with \\n, \\t, \\| and \\\\ escapes.
    Spaces are kept (a stop sequence may be ' Paris'); empty entries are dropped."""
    out, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            current.append(_ESCAPES[text[i + 1]])
            i += 2
            continue
        if ch == "|":
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    out.append("".join(current))
    return tuple(s for s in out if s)


def format_stop_list(stops: Sequence[str]) -> str:
    def escape(s: str) -> str:
        return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "\\n").replace("\t", "\\t")

    return "|".join(escape(s) for s in stops)


@dataclass(frozen=True)
class Distribution:
    """The next-token distribution at every stage of decoding."""

    logits: np.ndarray  # [V] float32 raw, from the model
    adjusted: np.ndarray  # [V] float32 after logit bias and penalties (-inf: banned)
    base: np.ndarray  # [V] float32 softmax(logits / temperature): the model alone, no other knob (T=0: T=1)
    scaled: np.ndarray  # [V] float32 softmax(adjusted / temperature), before filtering (T=0: T=1 shown)
    shaped: np.ndarray  # [V] float32 after filtering, renormalised (T=0: one-hot at the argmax)
    kept: np.ndarray  # [V] bool: can be drawn
    removed_by: np.ndarray  # [V] int8: KEPT, or the first knob that removed the token
    settings: SamplingSettings = SamplingSettings()
    context_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # [U] distinct ids so far
    context_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # [U] how often each

    def top(self, k: int) -> np.ndarray:
        """Ids of the k most likely tokens before filtering, most likely first."""
        k = min(k, len(self.scaled))
        idx = np.argpartition(-self.scaled, k - 1)[:k]
        return idx[np.argsort(-self.scaled[idx], kind="stable")]

    def rows(self, k: int) -> np.ndarray:
        """The ids to show as bars: the model's own k most likely (so a token pushed down by a
        penalty or banned stays in view, greyed, in its place) and every token with a logit bias.
        Ordered by the larger of the model's and the sampler's probability: a penalty shrinks a bar
        where it stands, a boost lifts a token up (ties: the model's order)."""
        k = min(k, len(self.base))
        own = np.argpartition(-self.base, k - 1)[:k]
        biased = [i for i, _ in self.settings.logit_bias if 0 <= i < len(self.base)]
        ids = np.unique(np.concatenate([own, np.asarray(biased, dtype=own.dtype)]))
        order = np.lexsort((ids, -self.base[ids], -np.maximum(self.base[ids], self.scaled[ids])))
        return ids[order]

    def count(self, token_id: int) -> int:
        """How often the token occurs in the text so far (the penalties' context)."""
        at = int(np.searchsorted(self.context_ids, token_id))
        return int(self.context_counts[at]) if at < len(self.context_ids) and self.context_ids[at] == token_id else 0

    def changed(self, token_id: int) -> bool:
        """True when a bias or a penalty moved this token's logit."""
        return bool(self.adjusted[token_id] != self.logits[token_id])

    def reasons(self, token_id: int) -> list[str]:
        """In words, each knob that changed this token or removed it (empty: none did)."""
        s, out = self.settings, []
        bias = s.bias.get(int(token_id))
        if bias is not None:
            out.append(f"banned by logit bias {bias:g}" if bias <= BAN else f"logit bias {bias:+g}")
        n = self.count(int(token_id))
        if n:
            times = f"{n}× in the text so far"
            if s.repetition_penalty != 1.0:
                out.append(f"repetition penalty {s.repetition_penalty:g} ({times})")
            if s.frequency_penalty != 0.0:
                out.append(f"frequency penalty {s.frequency_penalty:g} × {n} ({times})")
            if s.presence_penalty != 0.0:
                out.append(f"presence penalty {s.presence_penalty:g} ({times})")
        code = int(self.removed_by[token_id])
        if code == TOP_K:
            out.append(f"cut by top-k {s.top_k}")
        elif code == TOP_P:
            out.append(f"cut by top-p {s.top_p:g}")
        elif code == MIN_P:
            out.append(f"cut by min-p {s.min_p:g} (below {s.min_p:g} × the top token's probability)")
        elif code == GREEDY:
            out.append("greedy: only the most likely token is taken")
        return out


def softmax(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.float64) - np.max(x)
    e = np.exp(z)
    return (e / e.sum()).astype(np.float32)


def _leading(scaled: np.ndarray, m: int) -> np.ndarray:
    """At least the m most likely ids, in the order a stable descending sort of all of them gives
    (ties: lower id first; every id tied with the m-th is included, so nothing left out outranks
    anything returned)."""
    if m >= len(scaled):
        return np.argsort(-scaled, kind="stable")
    threshold = np.partition(scaled, len(scaled) - m)[len(scaled) - m]  # the m-th largest
    ids = np.flatnonzero(scaled >= threshold)  # ascending, so the stable sort keeps lower ids first
    return ids[np.argsort(-scaled[ids], kind="stable")]


def context_counts(context: Sequence[int] | np.ndarray | None, vocab: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct ids, counts) of the tokens so far, ids outside the vocabulary dropped."""
    if context is None or len(context) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ids = np.asarray(context, dtype=np.int64).reshape(-1)
    ids = ids[(ids >= 0) & (ids < vocab)]
    return np.unique(ids, return_counts=True)


def adjust_logits(logits: np.ndarray, settings: SamplingSettings, context: Sequence[int] | np.ndarray | None = None,
                  counts: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """[V] float32 logits after logit bias, repetition, frequency and presence penalties (in that order)."""
    x = np.array(logits, dtype=np.float32, copy=True)
    vocab = len(x)
    for token_id, bias in settings.logit_bias:
        if 0 <= token_id < vocab:
            x[token_id] = -np.inf if bias <= BAN else x[token_id] + np.float32(bias)
    ids, n = counts if counts is not None else context_counts(context, vocab)
    if len(ids):
        if settings.repetition_penalty != 1.0:
            penalty = np.float32(settings.repetition_penalty)
            seen = x[ids]
            x[ids] = np.where(seen < 0, seen * penalty, seen / penalty)
        if settings.frequency_penalty != 0.0 or settings.presence_penalty != 0.0:
            x[ids] = x[ids] - (n.astype(np.float32) * np.float32(settings.frequency_penalty)
                               + np.float32(settings.presence_penalty))
    return x


def shape_distribution(logits: np.ndarray, settings: SamplingSettings,
                       context: Sequence[int] | np.ndarray | None = None) -> Distribution:
    """Apply every knob in Hugging Face's order; `context` is the token ids so far (for the penalties).

    Only the leading tokens are sorted (a full sort of a 50k vocabulary costs more than the rest
    and runs on every redraw): top-p keeps the smallest prefix of the sorted order whose mass
    reaches p, so the prefix is grown until it does.
    """
    settings = settings.validated()
    logits = np.asarray(logits, dtype=np.float32)
    vocab = len(logits)
    counts = context_counts(context, vocab)
    adjusted = adjust_logits(logits, settings, counts=counts) if settings.changes_logits else logits
    banned = np.isneginf(adjusted)
    if banned.all():
        raise ValueError("the logit bias bans every token: nothing can be drawn")
    greedy = settings.temperature == 0
    temperature = 1.0 if greedy else settings.temperature
    base = softmax(logits / temperature if temperature != 1.0 else logits)
    scaled = base if adjusted is logits else softmax(adjusted / temperature if temperature != 1.0 else adjusted)
    removed = np.zeros(vocab, dtype=np.int8)
    removed[banned] = BANNED
    if greedy:
        removed[~banned] = GREEDY
        removed[int(np.argmax(adjusted))] = KEPT
    else:
        alive = ~banned
        if 0 < settings.top_k < vocab:  # TopKLogitsWarper: everything below the k-th largest goes (ties stay)
            threshold = np.partition(scaled, vocab - settings.top_k)[vocab - settings.top_k]
            cut = alive & (scaled < threshold)
            removed[cut] = TOP_K
            alive &= ~cut
        if settings.top_p < 1.0:  # TopPLogitsWarper: over what top-k kept, renormalised
            candidates = np.where(alive, scaled, -1.0).astype(np.float32)
            mass = float(scaled[alive].astype(np.float64).sum())
            m = min(256, vocab)
            while True:
                order = _leading(candidates, m)
                cumulative = np.cumsum(np.where(alive[order], scaled[order], 0.0).astype(np.float64)) / mass
                # keep the smallest prefix whose mass reaches top_p (always at least one token);
                # the tolerance keeps a prefix that sums to exactly top_p from losing to float rounding
                cutoff = int(np.searchsorted(cumulative, settings.top_p - 1e-6, side="left")) + 1
                if cutoff > len(order) and m < vocab:
                    m = min(vocab, m * 8)  # the mass is spread out: look further down
                    continue
                break
            keep = np.zeros(vocab, dtype=bool)
            keep[order[:cutoff]] = True
            cut = alive & ~keep
            removed[cut] = TOP_P
            alive &= keep
        if settings.min_p > 0.0:  # MinPLogitsWarper: below min_p times the most likely token goes
            top = float(scaled[alive].max())
            cut = alive & (scaled < np.float32(settings.min_p * top))
            removed[cut] = MIN_P
            alive &= ~cut
    kept = removed == KEPT
    shaped = np.where(kept, scaled, 0.0).astype(np.float64)
    total = shaped.sum()
    if total <= 0:  # every survivor underflowed in float32: the most likely survivor takes it all
        shaped[np.flatnonzero(kept)[np.argmax(adjusted[kept])]] = 1.0
        total = 1.0
    shaped = (shaped / total).astype(np.float32)
    return Distribution(logits=logits, adjusted=adjusted, base=base, scaled=scaled, shaped=shaped, kept=kept,
                        removed_by=removed, settings=settings, context_ids=counts[0], context_counts=counts[1])


def greedy_token(logits: np.ndarray, settings: SamplingSettings | None = None,
                 context: Sequence[int] | np.ndarray | None = None) -> int:
    """The most likely token after logit bias and penalties (greedy decoding obeys them too)."""
    if settings is None or not settings.changes_logits:
        return int(np.argmax(logits))
    adjusted = adjust_logits(logits, settings.validated(), context)
    if np.isneginf(adjusted).all():
        raise ValueError("the logit bias bans every token: nothing can be chosen")
    return int(np.argmax(adjusted))


def draw(distribution: Distribution, rng: np.random.Generator) -> int:
    """Draw one token id from the shaped distribution."""
    p = distribution.shaped.astype(np.float64)
    return int(rng.choice(len(p), p=p / p.sum()))


def draw_many(distribution: Distribution, n: int, rng: np.random.Generator) -> np.ndarray:
    """[V] counts of `n` independent draws: "sample many" next to the probabilities."""
    p = distribution.shaped.astype(np.float64)
    return rng.multinomial(n, p / p.sum())


def rng_for(seed: int, step: int) -> np.random.Generator:
    """The generator for one step: depends only on (seed, step), so undo + redo repeats exactly."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(step)])


def stop_sequence_hit(text: str, before: int, stops: Sequence[str]) -> str | None:
    """The first stop sequence that occurs in `text` and ends after character `before` (the text
    before the newest token), or None. As transformers' `StopStringCriteria`: generation stops at
    the token that completes the stop text, which may also run past it."""
    for stop in stops:
        if stop and text.find(stop, max(0, before - len(stop) + 1)) >= 0:
            return stop
    return None
