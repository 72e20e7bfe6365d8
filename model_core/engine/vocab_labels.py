"""A readable label for every token id, so the window never needs the tokenizer.

Building them decodes the whole vocabulary (about a second for 50k tokens, at every
start), so they are cached on disk, keyed by the tokenizer's own files: a changed
tokenizer gets new labels, and a damaged cache file is simply rebuilt. A model can also carry
its labels beside its tokenizer (`SHIPPED_FILE`, with the key they were built for): the packaged
app's built-in model does, so its first start from an empty cache does not decode the vocabulary
on the way to the first trace.
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
SHIPPED_FILE = "logitscope-vocab-labels.json"  # {"key": ..., "labels": [...]} beside the tokenizer's files
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


def _folder(tokenizer) -> Path:
    return Path(str(getattr(tokenizer, "name_or_path", "") or ""))


def _cache_key(tokenizer, vocab_size: int) -> str | None:
    """A digest of the tokenizer's files, or None when they are not in a folder (nothing to key on)."""
    folder = _folder(tokenizer)
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


def _valid(labels: object, size: int) -> bool:
    return isinstance(labels, list) and len(labels) == size and all(isinstance(x, str) for x in labels)


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, ValueError):
        return None  # unreadable or damaged: rebuilt (and the cache rewritten)


def vocab_labels(tokenizer, vocab_size: int) -> tuple[str, ...]:
    """`build_vocab_labels`, from the labels shipped beside the tokenizer or the on-disk cache when
    the tokenizer's files are the ones they were built for."""
    key = _cache_key(tokenizer, vocab_size)
    size = max(vocab_size, len(tokenizer))
    if key:
        shipped = _read_json(_folder(tokenizer) / SHIPPED_FILE)
        if isinstance(shipped, dict) and shipped.get("key") == key and _valid(shipped.get("labels"), size):
            return tuple(shipped["labels"])
    path = cache_root() / "vocab-labels" / f"{key}.json" if key else None
    if path is not None:
        cached = _read_json(path)
        if _valid(cached, size):
            return tuple(cached)
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


def ship_vocab_labels(tokenizer, vocab_size: int, folder: Path) -> Path:
    """Write the labels into `folder` (a copy of the tokenizer's folder that will be shipped), with
    the key of the tokenizer's files: `vocab_labels` uses them wherever those files are unchanged."""
    key = _cache_key(tokenizer, vocab_size)
    if key is None:
        raise ValueError(f"{_folder(tokenizer)} holds no tokenizer files to key the labels on")
    path = folder / SHIPPED_FILE
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"key": key, "labels": list(build_vocab_labels(tokenizer, vocab_size))},
                              ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return path
