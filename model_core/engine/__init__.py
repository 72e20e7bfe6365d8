"""The engine: everything that owns torch and transformers — loading, the architecture adapters,
the attention capture, the forward pass, tracing, the stepper, the lens and the probes inside a
block. Only the worker thread (desktop) and the command line import it."""
