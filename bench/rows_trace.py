"""Rows 1, 2 and 7: a full trace against a plain transformers forward; one generation step
against `generate` with a KV cache; the same on CUDA when there is a GPU."""

from __future__ import annotations

import statistics
import sys
import time

import torch

from bench.models import builtin_folder, gpt2_small_folder, load_baseline, load_ours, prompt_ids
from bench.timing import interleaved, row

# Up to 64 tokens the target is the floor row's ratio + 0.05 in the same run (FLOOR_MARGIN), at the
# longer lengths no slower than plain transformers.
TRACE_TARGETS = {12: "floor", 64: "floor", 256: 1.0, 1024: 1.0}
FLOOR_MARGIN = 0.05
GEN_PROMPT_TOKENS = 12
GEN_NEW_TOKENS = 32


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def trace_rows(label: str, folder, lengths, targets: dict | None, device: str, quick: bool) -> list[dict]:
    from model_core.engine.lens import with_lens
    from model_core.engine.tracing import trace_ids

    lm = load_ours(folder, device)
    base = load_baseline(folder, device)
    vocab = lm.info.vocab_size if hasattr(lm.info, "vocab_size") else base.config.vocab_size
    rows = []
    for n in lengths:
        ids = prompt_ids(n, vocab)
        input_ids = torch.tensor([ids], device=device)

        def ours(ids=ids):  # what the window shows first; the logit lens follows when its panel is shown
            trace_ids(lm, ids, lens=False)
            _sync(device)

        def baseline(input_ids=input_ids):
            with torch.inference_mode():
                base(input_ids=input_ids, output_attentions=True, output_hidden_states=True)
            _sync(device)

        def body_only(input_ids=input_ids):  # the floor: the baseline without its unembedding
            with torch.inference_mode():
                base.base_model(input_ids=input_ids, output_attentions=True, output_hidden_states=True)
            _sync(device)

        repeats = (3 if n >= 256 else 5) if quick else (3 if n >= 1024 else 5 if n >= 256 else 7)
        target = targets.get(n) if targets else None
        below = []
        if n <= 64:
            f, b2 = interleaved(body_only, baseline, repeats)
            below.append(row(f"  floor: transformers' own body without the unembedding, {n} tokens{_where(device)}",
                             f, b2, None, note="the blocks both sides must run; ours can be no faster than this"))
            if target == "floor":
                target = round(f / b2 + FLOOR_MARGIN, 3)
            below.extend(python_work_rows(label, n, device, lm, ids, body_only, repeats))
        o, b = interleaved(ours, baseline, repeats)
        note = "first display (the logit lens follows on demand)" if n == lengths[0] else None
        if n <= 64 and targets:
            note = (note + "; " if note else "") + f"target: the floor's ratio + {FLOOR_MARGIN}"
        rows.append(row(f"trace {label}, {n} tokens{_where(device)}", o, b, target if target != "floor" else None,
                        note=note))
        rows.extend(below)
        print(f"  … {rows[-1 - len(below)]['name']}: {o:.1f} ms vs {b:.1f} ms", file=sys.stderr, flush=True)
    trace = trace_ids(lm, ids, lens=False)

    def lens():
        with_lens(lm, trace)
        _sync(device)

    lens_ms, _ = interleaved(lens, None, 5)
    rows.append(row(f"  logit lens at the last position, {label}{_where(device)} (follow-up, ms)", lens_ms,
                    note=f"2L+1 rows against the whole vocabulary; computed once its panel is shown ({n} tokens)"))
    return rows


def python_work_rows(label: str, n: int, device: str, lm, ids: list[int], floor, repeats: int) -> list[dict]:
    """What the trace adds around the blocks (capture set-up, stacking, copies, the finiteness check,
    the token table), timed inside each trace: the trace's time less its own body call and its
    one-row unembedding, as a share of the floor (target ≤ 5%). A difference of two separately
    timed medians would be lost in this machine's noise; this one is measured within each run.
    The one-row unembedding gets a row of its own: it is the part of the trace the floor leaves out."""
    from model_core.engine.tracing import trace_ids

    adapter = lm.adapter
    body, unembed = adapter.base, adapter.unembed
    inner: dict[str, list[float]] = {"body": [], "unembed": []}

    def timed(fn, kind: str):
        def call(*args, **kwargs):
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            _sync(device)
            inner[kind].append((time.perf_counter() - start) * 1000.0)
            return out
        return call

    outside: list[float] = []
    unembedding: list[float] = []
    adapter.base, adapter.unembed = timed(body, "body"), timed(unembed, "unembed")
    try:
        trace_ids(lm, ids, lens=False)  # warm-up
        for _ in range(max(repeats, 15)):
            for times in inner.values():
                times.clear()
            start = time.perf_counter()
            trace_ids(lm, ids, lens=False)
            _sync(device)
            outside.append((time.perf_counter() - start) * 1000.0 - sum(map(sum, inner.values())))
            unembedding.append(sum(inner["unembed"]))
    finally:
        adapter.base, adapter.unembed = body, unembed
    floor_ms, _ = interleaved(floor, None, repeats)
    return [row(f"  Python work around the blocks, {n} tokens{_where(device)} (ms)", statistics.median(outside),
                floor_ms, 0.05, note="the trace less its body call and its one-row unembedding, per run; "
                                     "ratio = share of the floor"),
            row(f"  one-row unembedding (the next-token logits), {n} tokens{_where(device)} (ms)",
                statistics.median(unembedding), floor_ms, None,
                note="the last position against the whole vocabulary; ratio = share of the floor")]


def _where(device: str) -> str:
    return "" if device == "cpu" else f" [{device}]"


def _prompt_text(tokenizer, n: int) -> str:
    text = " the" * n
    assert len(tokenizer(text)["input_ids"]) == n
    return text


def generation_row(folder, device: str, quick: bool) -> dict:
    """Ours: median Stepper.step() over 32 steps after start(12 tokens).
    Baseline: generate(32 new tokens, greedy, KV cache) / 32. Interleaved per repeat."""
    from model_core.engine.stepper import Stepper

    lm = load_ours(folder, device)
    base = load_baseline(folder, device)
    text = _prompt_text(lm.tokenizer, GEN_PROMPT_TOKENS)
    input_ids = torch.tensor([lm.tokenizer(text)["input_ids"]], device=device)
    eos = base.config.eos_token_id

    def ours_steps() -> list[float]:
        stepper = Stepper(lm, max_new_tokens=GEN_NEW_TOKENS, lens=False)  # as the window's worker runs it
        stepper.start(text)
        times = []
        for _ in range(GEN_NEW_TOKENS):
            if stepper.stop_reason is not None:
                break
            start = time.perf_counter()
            stepper.step()
            _sync(device)
            times.append((time.perf_counter() - start) * 1000.0)
        return times

    def baseline_per_token() -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            out = base.generate(input_ids, max_new_tokens=GEN_NEW_TOKENS, min_new_tokens=GEN_NEW_TOKENS,
                                do_sample=False, pad_token_id=eos)
        _sync(device)
        assert out.shape[1] == input_ids.shape[1] + GEN_NEW_TOKENS
        return (time.perf_counter() - start) * 1000.0 / GEN_NEW_TOKENS

    ours_steps()
    baseline_per_token()  # warm-up
    ours_all: list[float] = []
    base_all: list[float] = []
    for i in range(2 if quick else 3):
        if i % 2 == 0:
            ours_all += ours_steps()
            base_all.append(baseline_per_token())
        else:
            base_all.append(baseline_per_token())
            ours_all += ours_steps()
    o, b = statistics.median(ours_all), statistics.median(base_all)
    print(f"  … generation step{_where(device)}: {o:.1f} ms vs {b:.1f} ms", file=sys.stderr, flush=True)
    return row(f"generation step after 12 tokens, gpt2-small{_where(device)}", o, b, 1.0,
               note=f"{len(ours_all)} steps; generate() of {GEN_NEW_TOKENS} tokens / {GEN_NEW_TOKENS}")


def cpu_rows(quick: bool) -> list[dict]:
    folder = gpt2_small_folder()
    lengths = [12, 64, 256] if quick else [12, 64, 256, 1024]
    rows = trace_rows("gpt2-small", folder, lengths, TRACE_TARGETS, "cpu", quick)
    rows += trace_rows("builtin SmolLM2-135M", builtin_folder(), [12, 64], None, "cpu", quick)
    rows.append(generation_row(folder, "cpu", quick))
    rows.append(kv_cache_row(quick))
    return rows


KV_NEW_TOKENS = 64
KV_TARGET = 0.5  # the KV-cache panel's point: with the cache, 64 new tokens take at most half the time


def kv_cache_row(quick: bool) -> dict:
    """What the KV-cache panel measures, on the built-in model: 64 new tokens with the cache (ours)
    against recomputing the whole sequence for each (baseline), both greedy, the same tokens."""
    from model_core.engine.probes.kv_cache import benchmark_kv_cache
    from model_core.engine.tracing import encode

    lm = load_ours(builtin_folder())
    ids = encode(lm, "Once upon a time")
    runs = [benchmark_kv_cache(lm, ids, KV_NEW_TOKENS) for _ in range(1 if quick else 3)]
    cached = statistics.median(r.cached_total for r in runs) * 1000.0
    recompute = statistics.median(r.recompute_total for r in runs) * 1000.0
    same = all(r.same_tokens for r in runs)
    return row(f"KV cache: {KV_NEW_TOKENS} new tokens, built-in model, cached vs recomputed", cached, recompute,
               KV_TARGET, note="" if same else "the cached and recomputed runs chose different tokens")


def cuda_rows(quick: bool) -> list[dict]:
    if not torch.cuda.is_available():
        return [row("CUDA: trace and generation rows", None, note="no CUDA GPU was available")]
    folder = gpt2_small_folder()
    lengths = [12, 64, 256] if quick else [12, 64, 256, 1024]
    rows = trace_rows("gpt2-small", folder, lengths, TRACE_TARGETS, "cuda", quick)
    rows.append(generation_row(folder, "cuda", quick))
    return rows
