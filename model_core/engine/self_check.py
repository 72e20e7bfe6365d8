"""A model opened through discovery alone is checked once, on load, against plain transformers.

Every family in the test suite is compared with transformers' eager attention there. A model type
outside it gets the same comparison on a few tokens when it loads: our attention function is
the attention the model runs, so if the model's logits with it equal its logits with eager
attention, the weights we record are the weights eager uses (a skipped softcap or sink would
move them); our own unembedding of the last block's output must give those logits too (a final
norm or logit transform discovery missed would not); and every layer must have been recorded
(a family that computes attention in its own modules would not be).
"""

from __future__ import annotations

import torch

from model_core.engine.adapters.resolve import unsupported
from model_core.engine.capture import ATTN_IMPLEMENTATION, block_outputs, recording

PROMPT = "The capital of France is Paris. The capital of Germany is"


def _close(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype) -> bool:
    tolerance = 1e-3 if dtype == torch.float32 else 3e-2  # relative to the logits' scale
    return float((a - b).abs().max()) <= tolerance * (1.0 + float(b.abs().max()))


def check_against_eager(lm) -> None:
    """UnsupportedModelError unless the model's attention, final norm and logits are what we record."""
    model, adapter = lm.model, lm.adapter
    model_type = model.config.model_type
    ids = lm.tokenizer(PROMPT)["input_ids"][:12]
    input_ids = torch.tensor([ids], dtype=torch.long, device=lm.device)
    with torch.inference_mode():
        with recording() as record, block_outputs(adapter.blocks) as stream:
            ours = model(input_ids=input_ids, use_cache=False).logits[0, -1].float()
        if sorted(record.weights) != list(range(adapter.n_layers)):
            raise unsupported(model_type, "its attention does not go through transformers' attention interface, "
                                          "so the weights it uses cannot be recorded")
        if record.keys[0].shape[0] != adapter.n_kv_heads or record.queries[0].shape[-1] != adapter.d_head:
            raise unsupported(model_type, "its heads are not shaped as its config says")
        pipeline = adapter.unembed(stream[-1][-1:])[0]
        if not _close(pipeline, ours, adapter.dtype):
            raise unsupported(model_type, "its output head does more than a final norm and an unembedding")
        model.set_attn_implementation("eager")
        try:
            eager = model(input_ids=input_ids, use_cache=False).logits[0, -1].float()
        finally:
            model.set_attn_implementation(ATTN_IMPLEMENTATION)
        if not _close(ours, eager, adapter.dtype):
            raise unsupported(model_type, "its attention does maths Logitscope does not reproduce")
