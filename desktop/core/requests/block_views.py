"""Inside the block: one layer's MLP neurons, the model's anatomy, embedding neighbours, and the
live KV-cache timing. Each answers the one panel that asked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from desktop.core.requests.base import Request, WorkerSession, handles


@dataclass(frozen=True)
class MlpRequest(Request):
    """One layer's MLP neurons and every layer's sub-layer updates at one position of a trace."""

    trace_id: int
    position: int
    layer: int
    kind: ClassVar[str] = "MLP"


@dataclass(frozen=True)
class AnatomyRequest(Request):
    kind: ClassVar[str] = "anatomy"


@dataclass(frozen=True)
class EmbeddingRequest(Request):
    """Nearest tokens to one word (one text), or the analogy a − b + c (three texts)."""

    texts: tuple[str, ...]
    k: int = 15
    kind: ClassVar[str] = "embeddings"


@dataclass(frozen=True)
class EmbeddingResult:
    texts: tuple[str, ...]
    words: tuple  # model_core.engine.probes.embeddings.ResolvedWord per input: the token(s) each became
    ids: np.ndarray  # [k] int64, most similar first
    labels: tuple[str, ...]
    similarities: np.ndarray  # [k] float32 cosine
    error: str = ""  # a word that could not be resolved, said inline
    # Per input: " king" when "king" was typed without the leading space that its one-token,
    # mid-sentence form has (None when the input already has it, or there is no such token).
    spaced: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class KvBenchRequest(Request):
    """Time N greedy tokens with and without the key/value cache, from the current trace's tokens."""

    n_new: int
    supersedable: ClassVar[bool] = False
    kind: ClassVar[str] = "KV cache timing"


@handles(MlpRequest)
def mlp(session: WorkerSession, request: MlpRequest):
    """-> model_core.engine.probes.mlp.MlpProbe"""
    from model_core.engine.probes.mlp import probe_mlp

    session.check_trace(request.trace_id)
    ids = session.stepper.trace.tokens.ids.tolist()
    return probe_mlp(session.lm, ids, request.position, request.layer)


@handles(AnatomyRequest)
def anatomy(session: WorkerSession, request: AnatomyRequest):
    """-> model_core.engine.probes.anatomy.Anatomy"""
    from model_core.engine.probes.anatomy import model_anatomy

    return model_anatomy(session.lm)


@handles(EmbeddingRequest)
def embeddings(session: WorkerSession, request: EmbeddingRequest) -> EmbeddingResult:
    from model_core.engine.probes.embeddings import analogy, mid_sentence_form, nearest_tokens
    from model_core.errors import LogitscopeError

    spaced = tuple(mid_sentence_form(session.lm, text) for text in request.texts)
    try:
        if len(request.texts) == 3:
            words, found = analogy(session.lm, *request.texts, k=request.k)
        else:
            word, found = nearest_tokens(session.lm, request.texts[0], k=request.k)
            words = (word,)
    except LogitscopeError as exc:  # a bad word is said in the panel, not in the banner
        return EmbeddingResult(request.texts, (), np.zeros(0, np.int64), (), np.zeros(0, np.float32), str(exc),
                               spaced)
    return EmbeddingResult(request.texts, words, found.ids, found.labels, found.similarities, spaced=spaced)


@handles(KvBenchRequest)
def kv_bench(session: WorkerSession, request: KvBenchRequest):
    """-> model_core.engine.probes.kv_cache.KvBench"""
    from model_core.engine.probes.kv_cache import benchmark_kv_cache

    ids = session.stepper.trace.tokens.ids.tolist()
    return benchmark_kv_cache(session.lm, ids, request.n_new, session.progress)
