"""A readable label for every token id, so the window never needs the tokenizer.

Building them decodes the whole vocabulary (about a second for 50k tokens, at every
start), so they are cached on disk, keyed by the tokenizer's own files: a changed
tokenizer gets new labels, and a damaged cache file is simply rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from model_core.engine.cache_dirs import cache_root
from model_core.text.hf_bytes import hf_token_bytes
from model_core.text.token_text import piece_labels

LABELS_VERSION = 1  # bump when the labelling rules (token_text.py) change
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
                   "merges.txt", "added_tokens.json", "tokenizer.model")


def build_vocab_labels(tokenizer, vocab_size: int) -> tuple[str, ...]:
    """Labels for ids 0 .. max(vocab_size, len(tokenizer)) - 1: text pieces, control tokens by name,
    rows of the embedding matrix the tokenizer never produces as '‹unused N›'."""
    size = max(vocab_size, len(tokenizer))
    special = set(tokenizer.all_special_ids)
    ids = [i for i in range(size) if i not in special and i < len(tokenizer)]
    labels = ["" for _ in range(size)]
    for i, label in zip(ids, piece_labels(hf_token_bytes(tokenizer, ids)), strict=True):
        labels[i] = label
    for i in special:
        if i < size:
            labels[i] = tokenizer.convert_ids_to_tokens(i)
    for i in range(len(tokenizer), size):
        labels[i] = f"‹unused {i}›"
    return tuple(labels)


def _cache_key(tokenizer, vocab_size: int) -> str | None:
    """A digest of the tokenizer's files, or None when they are not in a folder (nothing to key on)."""
    folder = Path(str(getattr(tokenizer, "name_or_path", "") or ""))
    if not folder.is_dir():
        return None
    digest = hashlib.sha256(f"{LABELS_VERSION}|{vocab_size}|{len(tokenizer)}".encode())
    found = False
    for name in TOKENIZER_FILES:
        path = folder / name
        if path.is_file():
            found = True
            digest.update(name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:32] if found else None


def vocab_labels(tokenizer, vocab_size: int) -> tuple[str, ...]:
    """`build_vocab_labels`, from the on-disk cache when the tokenizer's files are unchanged."""
    key = _cache_key(tokenizer, vocab_size)
    path = cache_root() / "vocab-labels" / f"{key}.json" if key else None
    if path is not None and path.is_file():
        try:
            labels = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(labels, list) and len(labels) == max(vocab_size, len(tokenizer)) \
                    and all(isinstance(x, str) for x in labels):
                return tuple(labels)
        except (OSError, ValueError):
            pass  # unreadable or damaged: rebuilt and rewritten below
    labels = build_vocab_labels(tokenizer, vocab_size)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(labels, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)  # atomic: a reader never sees half a file
        except OSError:
            pass  # a read-only cache costs a second per start, nothing more
    return labels
