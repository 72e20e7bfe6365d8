"""Probes inside one block and of the whole model: MLP neurons, anatomy, embeddings, the KV cache."""
