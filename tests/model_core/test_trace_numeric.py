"""Every captured array against plain transformers on the same checkpoint.

Tolerances: attention is stored as float16, so 1e-3 absolute; residual stream,
Q/K/V and logits are float32 copies of the same computation, 1e-5 absolute
(relative 1e-5) — differences come only from kernel order.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

from model_core.engine.lens import lens_at, surprisal_bits
from model_core.engine.tracing import run_trace

TEXT = "The capital of Germany is Berlin. The capital of France is"
ATTN_ATOL = 1e-3
F32_ATOL = 1e-5


def reference(folder, ids):
    model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32).eval()
    captured: dict[str, list[torch.Tensor]] = {"qkv": [], "q": [], "k": [], "v": []}
    hooks = []
    if model.config.model_type == "gpt2":
        for block in model.transformer.h:
            hooks.append(block.attn.c_attn.register_forward_hook(lambda m, a, o: captured["qkv"].append(o[0])))
    else:
        for layer in model.model.layers:
            attn = layer.self_attn
            hooks.append(attn.q_proj.register_forward_hook(lambda m, a, o: captured["q"].append(o[0])))
            hooks.append(attn.k_proj.register_forward_hook(lambda m, a, o: captured["k"].append(o[0])))
            hooks.append(attn.v_proj.register_forward_hook(lambda m, a, o: captured["v"].append(o[0])))
    with torch.no_grad():
        out = model(torch.tensor([ids]), output_attentions=True, output_hidden_states=True)
    for h in hooks:
        h.remove()
    return model, out, captured


@pytest.mark.parametrize("which", ["tiny_gpt2", "tiny_llama"])
def test_trace_matches_transformers(which, request):
    lm = request.getfixturevalue(which)
    folder = request.getfixturevalue(which + "_dir")
    trace = run_trace(lm, TEXT)
    ids = trace.tokens.ids.tolist()
    model, out, captured = reference(folder, ids)
    n_layers = model.config.num_hidden_layers

    attention = np.stack([a[0].numpy() for a in out.attentions])
    assert trace.attention.shape == attention.shape
    np.testing.assert_allclose(trace.attention.astype(np.float32), attention, atol=ATTN_ATOL)

    # hidden_states[0..L-1] are the raw residual stream; hidden_states[L] is already final-normed.
    hidden = np.stack([h[0].numpy() for h in out.hidden_states])
    np.testing.assert_allclose(trace.residual[:n_layers], hidden[:n_layers], atol=F32_ATOL, rtol=1e-5)
    with torch.no_grad():
        final = lm.adapter.final_norm(torch.from_numpy(trace.residual[-1])).numpy()
    np.testing.assert_allclose(final, hidden[-1], atol=F32_ATOL, rtol=1e-5)

    np.testing.assert_allclose(trace.next_logits, out.logits[0, -1].numpy(), atol=1e-4, rtol=1e-5)
    # The lens at the last layer must agree with the logits (the classic off-by-a-norm bug).
    np.testing.assert_allclose(
        trace.lens_logprobs[-1], torch.log_softmax(out.logits[0, -1], -1).numpy(), atol=1e-4
    )
    assert trace.lens_ids[-1, 0] == int(out.logits[0, -1].argmax())

    h, kv, dh = lm.info.n_heads, lm.info.n_kv_heads, lm.info.d_head
    t = len(ids)
    if model.config.model_type == "gpt2":
        for layer, qkv in enumerate(captured["qkv"]):
            q, k, v = qkv.split(model.config.n_embd, dim=-1)
            np.testing.assert_allclose(trace.queries[layer], q.view(t, h, dh).transpose(0, 1).numpy(), atol=F32_ATOL)
            np.testing.assert_allclose(trace.keys[layer], k.view(t, h, dh).transpose(0, 1).numpy(), atol=F32_ATOL)
            np.testing.assert_allclose(trace.values[layer], v.view(t, h, dh).transpose(0, 1).numpy(), atol=F32_ATOL)
    else:
        position_ids = torch.arange(t)[None]
        for layer in range(n_layers):
            q = captured["q"][layer].view(t, h, dh).transpose(0, 1)[None]
            k = captured["k"][layer].view(t, kv, dh).transpose(0, 1)[None]
            cos, sin = model.model.rotary_emb(q, position_ids)
            q_rot, k_rot = apply_rotary_pos_emb(q, k, cos, sin)
            np.testing.assert_allclose(trace.queries[layer], q_rot[0].numpy(), atol=1e-4)
            np.testing.assert_allclose(trace.keys[layer], k_rot[0].numpy(), atol=1e-4)
            v = captured["v"][layer].view(t, kv, dh).transpose(0, 1).numpy()
            np.testing.assert_allclose(trace.values[layer], v, atol=F32_ATOL)
        assert list(trace.kv_head_of) == [0, 0, 0, 1, 1, 1]

    # The captured vectors reproduce the attention pattern: softmax(q·k / sqrt(dh)) under the causal mask.
    layer, head = n_layers - 1, h - 1
    q = trace.queries[layer, head]
    k = trace.keys[layer, trace.kv_head_of[head]]
    scores = q @ k.T / np.sqrt(dh)
    scores[np.triu_indices(t, 1)] = -np.inf
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    np.testing.assert_allclose(trace.attention[layer, head].astype(np.float32), weights, atol=ATTN_ATOL)

    # The stream in the middle of each block (after attention, before the MLP): the attention
    # sub-layer's output equals residual + attention output, checked against the model's own modules.
    mids = []
    hooks = [lm.adapter.attention(i).register_forward_hook(
        lambda mod, args, out: mids.append(out[0][0].clone())) for i in range(lm.adapter.n_layers)]
    with torch.no_grad():
        lm.model(torch.tensor([ids]))
    for hook in hooks:
        hook.remove()
    np.testing.assert_allclose(trace.attn_out, torch.stack(mids).numpy(), atol=F32_ATOL, rtol=1e-5)
    with torch.no_grad():
        mid_logits = lm.model.get_output_embeddings()(
            lm.adapter.final_norm(torch.from_numpy(trace.mid_residual[:, -1])))
    assert trace.mid_lens_ids[:, 0].tolist() == mid_logits.argmax(-1).tolist()

    # Surprisal equals -log2 p from the full logits.
    bits = surprisal_bits(lm, trace)
    logp = torch.log_softmax(out.logits[0], -1).numpy()
    expected = -logp[np.arange(t - 1), ids[1:]] / np.log(2)
    assert np.isnan(bits[0])
    np.testing.assert_allclose(bits[1:], expected, atol=1e-4)

    # The lens at any position agrees with the last-position lens where they overlap.
    lens_ids, lens_probs = lens_at(lm, trace, t - 1)
    np.testing.assert_array_equal(lens_ids, trace.lens_ids)
    np.testing.assert_allclose(lens_probs, trace.lens_probs, atol=1e-5)


def test_token_metadata_round_trips(tiny_gpt2, tiny_llama):
    text = " Hello 😀 world — 東京"
    for lm in (tiny_gpt2, tiny_llama):
        trace = run_trace(lm, text)
        assert b"".join(trace.tokens.pieces) == text.encode("utf-8")
        assert trace.text == text
        ends = trace.tokens.offsets[:, 1]
        assert ends[-1] == len(text.encode("utf-8"))
        assert "\ufffd" not in "".join(trace.tokens.labels)
    # The Llama tokenizer adds a BOS control token: empty bytes, marked special.
    trace = run_trace(tiny_llama, text)
    assert trace.tokens.special[0] and trace.tokens.pieces[0] == b""
    assert not trace.tokens.special[1:].any()


def test_special_token_text_stays_plain(tiny_gpt2):
    trace = run_trace(tiny_gpt2, "a <|endoftext|> b")
    eos = tiny_gpt2.tokenizer.eos_token_id
    assert eos not in trace.tokens.ids.tolist()
    assert trace.text == "a <|endoftext|> b"

