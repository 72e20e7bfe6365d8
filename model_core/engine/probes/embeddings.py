"""Neighbours in the embedding matrix: nearest tokens by cosine similarity, and analogies.

A word may become several tokens (" strawberry" can be two); its vector is then the
mean of its tokens' embedding rows, and every one of those tokens is left out of the
answers, as are the three inputs of an analogy a − b + c.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from model_core.engine.loading import LoadedModel
from model_core.errors import PromptError
from model_core.text.hf_bytes import hf_token_bytes
from model_core.text.token_text import piece_labels
from model_core.types.probes import Neighbours, ResolvedWord  # noqa: F401  (also imported from here; defined torch-free)

NEIGHBOURS = 15


def token_labels(lm: LoadedModel, ids: Sequence[int]) -> tuple[str, ...]:
    """Readable labels (visible spaces, hex for partial UTF-8) for a few ids."""
    special = set(lm.tokenizer.all_special_ids)
    out = []
    for i in ids:
        if i in special:
            out.append(str(lm.tokenizer.convert_ids_to_tokens(int(i))))
        else:
            out.append(piece_labels(hf_token_bytes(lm.tokenizer, [int(i)]))[0])
    return tuple(out)


def resolve_word(lm: LoadedModel, text: str) -> ResolvedWord:
    """Tokenise `text` as typed (a leading space matters: " king" is not "king"), no BOS."""
    if not text:
        raise PromptError("Type a word (a leading space, as in ' king', picks the mid-sentence token).")
    ids = tuple(int(i) for i in lm.tokenizer(text, add_special_tokens=False)["input_ids"])
    if not ids:
        raise PromptError(f"{text!r} produced no tokens.")
    return ResolvedWord(text, ids, token_labels(lm, ids))


_ROWS_CHUNK = 4096  # vocabulary rows read per call when the matrix waits on disk


def _embedding_rows(lm: LoadedModel, ids: Sequence[int] | None = None) -> torch.Tensor:
    """[N, d] float32 embedding rows (every row when `ids` is None). An offloaded matrix is a meta
    tensor until its module runs, so then the rows come from calling the module (Gemma's module
    also scales them by √d, which cosine similarity does not see)."""
    embedding = lm.adapter.embedding
    weight = embedding.weight
    if weight.device.type != "meta":
        return (weight if ids is None else weight[list(ids)]).float()
    wanted = torch.arange(weight.shape[0]) if ids is None else torch.tensor(list(ids))
    return torch.cat([embedding(chunk[None].to(lm.device))[0].float().cpu()
                      for chunk in wanted.split(_ROWS_CHUNK)])


def mid_sentence_form(lm: LoadedModel, text: str) -> str | None:
    """" king" for "king", when that space-prefixed form is a single token and the typed form is not
    the same token.

    A word typed without its leading space is the form that starts a text — often a rarer token,
    or several pieces ("king" may be [k][ing]) — so its neighbours and analogies are junk, while
    the word in the middle of a sentence, " king", is one well-trained token. None when the text
    already starts with a space, or when the spaced form is not one token.
    """
    if not text or text[0].isspace():
        return None
    spaced = " " + text
    ids = lm.tokenizer(spaced, add_special_tokens=False)["input_ids"]
    typed = lm.tokenizer(text, add_special_tokens=False)["input_ids"]
    return spaced if len(ids) == 1 and list(ids) != list(typed) else None


def _unit_matrix(lm: LoadedModel) -> torch.Tensor:
    """[V, d] the embedding rows scaled to length 1 (cached per loaded model)."""
    cached = getattr(lm, "_unit_embeddings", None)
    if cached is not None:
        return cached
    with torch.inference_mode():
        w = _embedding_rows(lm)
        unit = w / w.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    lm._unit_embeddings = unit
    return unit


def _word_vector(lm: LoadedModel, word: ResolvedWord) -> torch.Tensor:
    return _embedding_rows(lm, word.ids).mean(dim=0)  # [d]


def nearest_to_vector(lm: LoadedModel, vector: torch.Tensor, exclude: Sequence[int], k: int = NEIGHBOURS) -> Neighbours:
    """The k rows of the embedding matrix with the highest cosine similarity to `vector`, minus `exclude`."""
    with torch.inference_mode():
        unit = _unit_matrix(lm)
        query = vector.float() / vector.float().norm().clamp_min(1e-12)
        sims = unit @ query  # [V]
        if exclude:
            sims[torch.tensor(sorted(set(exclude)), device=sims.device)] = -torch.inf
        n_real = len(lm.tokenizer)  # padding rows past the tokenizer are not tokens
        if n_real < sims.shape[0]:
            sims[n_real:] = -torch.inf
        top = torch.topk(sims, min(k, sims.shape[0]))
        ids = top.indices.cpu().numpy().astype(np.int64)
        values = top.values.float().cpu().numpy()
    return Neighbours(ids, token_labels(lm, ids.tolist()), values)


def nearest_tokens(lm: LoadedModel, text: str, k: int = NEIGHBOURS) -> tuple[ResolvedWord, Neighbours]:
    """Tokens whose embeddings point the same way as `text`'s (the word's own tokens left out)."""
    word = resolve_word(lm, text)
    with torch.inference_mode():
        vector = _word_vector(lm, word)
    return word, nearest_to_vector(lm, vector, word.ids, k)


def analogy(lm: LoadedModel, a: str, b: str, c: str, k: int = NEIGHBOURS) -> tuple[tuple[ResolvedWord, ...], Neighbours]:
    """Nearest tokens to emb(a) − emb(b) + emb(c), leaving out the three inputs' tokens."""
    words = tuple(resolve_word(lm, t) for t in (a, b, c))
    with torch.inference_mode():
        va, vb, vc = (_word_vector(lm, w) for w in words)
        vector = va - vb + vc
    exclude = [i for w in words for i in w.ids]
    return words, nearest_to_vector(lm, vector, exclude, k)
