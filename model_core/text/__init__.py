"""Tokens and text without torch: readable labels for byte pieces, the bytes behind a Hugging Face
tokenizer's tokens, offline tiktoken encodings, and BPE merge replays."""
