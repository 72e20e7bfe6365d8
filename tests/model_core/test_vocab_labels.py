"""Vocabulary labels: the cached copy equals a fresh build, and a damaged cache is rebuilt."""

from __future__ import annotations

import json

from model_core.engine.vocab_labels import build_vocab_labels, vocab_labels


def test_cached_labels_equal_a_fresh_build_and_survive_damage(tiny_gpt2, tmp_path, monkeypatch):
    monkeypatch.setenv("LOGITSCOPE_CACHE_DIR", str(tmp_path))
    tokenizer, size = tiny_gpt2.tokenizer, tiny_gpt2.info.vocab_size
    fresh = build_vocab_labels(tokenizer, size)
    assert len(fresh) == max(size, len(tokenizer))
    assert vocab_labels(tokenizer, size) == fresh  # builds and writes the cache
    files = list((tmp_path / "vocab-labels").glob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text(encoding="utf-8")) == list(fresh)

    files[0].write_text(json.dumps(["tampered"] * len(fresh)), encoding="utf-8")
    assert vocab_labels(tokenizer, size)[0] == "tampered"  # read back from disk, not rebuilt
    files[0].write_text('["half a file', encoding="utf-8")
    assert vocab_labels(tokenizer, size) == fresh  # damaged: rebuilt
    assert json.loads(files[0].read_text(encoding="utf-8")) == list(fresh)  # and rewritten


def test_a_different_vocabulary_size_gets_its_own_labels(tiny_gpt2, tmp_path, monkeypatch):
    monkeypatch.setenv("LOGITSCOPE_CACHE_DIR", str(tmp_path))
    tokenizer, size = tiny_gpt2.tokenizer, tiny_gpt2.info.vocab_size
    vocab_labels(tokenizer, size)
    bigger = vocab_labels(tokenizer, max(size, len(tokenizer)) + 3)
    assert bigger[-1] == f"‹unused {len(bigger) - 1}›"
    assert len(list((tmp_path / "vocab-labels").glob("*.json"))) == 2
