"""The one thread that owns the model: every torch call in the app happens here.

Requests arrive as queued signals carrying frozen dataclasses (`messages.py`);
results leave as signals carrying numpy data. The GUI never calls the model and
this thread never touches a widget. Superseded prompt requests are dropped
before they run, and long work (load, run-to-end) can be cancelled.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from desktop import messages as m
from model_core.errors import Cancelled, LogitscopeError
from model_core.progress import Progress

log = logging.getLogger(__name__)

RUN_PROJECTION_S = 0.25  # during Run to end, at most this often a new trajectory projection


class ModelWorker(QObject):
    """Lives in a QThread; `handle` is its only entry point."""

    loaded = Signal(object)  # LoadedResult
    trace_ready = Signal(object)  # TraceResult
    position_ready = Signal(object)  # PositionResult
    projection_ready = Signal(object)  # ProjectionResult
    surprisal_ready = Signal(object)  # SurprisalResult
    lens_ready = Signal(object)  # LensResult
    lens_grid_ready = Signal(object)  # LensGridResult
    mlp_ready = Signal(object)  # MlpResult
    anatomy_ready = Signal(object)  # AnatomyResult
    embeddings_ready = Signal(object)  # EmbeddingResult
    kv_bench_ready = Signal(object)  # KvBenchResult
    progress = Signal(str, float)  # message, fraction (-1 = unknown)
    failed = Signal(int, str, str)  # request id, what failed ("load", "trace", "step", ...), message
    busy_changed = Signal(bool)

    def __init__(self) -> None:
        super().__init__()
        self._lm = None
        self._stepper = None
        self._trace_id = 0
        self._basis = "shared"
        self._progress = Progress()
        self._cancel_below = 0  # requests with a smaller id were cancelled, even before they started
        self._lock = threading.Lock()
        self.latest_trace_request = 0  # written by the GUI thread; older TraceRequests are skipped

    # -- called from the GUI thread ------------------------------------------------------------

    def cancel(self) -> None:
        """Ask the running long operation, and any already queued, to stop at their next check."""
        with self._lock:
            self._progress.cancel()
            self._cancel_below = m.next_request_id()

    # -- worker thread ---------------------------------------------------------------------------

    def _new_progress(self, request_id: int) -> Progress:
        with self._lock:
            self._progress = Progress(callback=lambda msg, frac: self.progress.emit(msg, frac))
            if request_id < self._cancel_below:  # Cancel was pressed while this request waited in the queue
                self._progress.cancel()
            return self._progress

    @Slot(object)
    def handle(self, request: object) -> None:
        kind = type(request).__name__.removesuffix("Request").lower()
        if isinstance(request, m.TraceRequest) and request.id < self.latest_trace_request:
            return  # the user has typed on since; only the newest prompt is computed
        self.busy_changed.emit(True)
        try:
            self._dispatch(request)
        except Cancelled:
            self.failed.emit(request.id, kind, "Cancelled.")
        except LogitscopeError as exc:
            self.failed.emit(request.id, kind, str(exc))
        except MemoryError:
            self.failed.emit(request.id, kind, "Out of memory: try a shorter prompt or a smaller model.")
        except Exception as exc:  # a bug: keep the app alive, say so, log the traceback
            if type(exc).__name__ == "OutOfMemoryError":
                self.failed.emit(request.id, kind, "The GPU ran out of memory: try a shorter prompt, or the CPU.")
            else:
                log.error("worker failed on %r:\n%s", request, traceback.format_exc())
                self.failed.emit(request.id, kind, f"Internal error ({type(exc).__name__}: {exc}); see the log.")
        finally:
            self.busy_changed.emit(False)

    def _dispatch(self, request: object) -> None:
        if isinstance(request, m.LoadRequest):
            self._load(request)
        elif self._lm is None:
            raise LogitscopeError("No model is loaded yet.")
        elif isinstance(request, m.TraceRequest):
            self._trace(request)
        elif isinstance(request, m.StepRequest):
            self._step(request)
        elif isinstance(request, m.ReplayRequest):
            self._replay(request)
        elif isinstance(request, m.PositionRequest):
            self._position(request)
        elif isinstance(request, m.ProjectionRequest):
            self._basis = request.basis
            self._emit_projection()
        elif isinstance(request, m.LensRequest):
            self._lens(request)
        elif isinstance(request, m.LensGridRequest):
            self._lens_grid(request)
        elif isinstance(request, m.MlpRequest):
            self._mlp(request)
        elif isinstance(request, m.AnatomyRequest):
            self._anatomy(request)
        elif isinstance(request, m.EmbeddingRequest):
            self._embeddings(request)
        elif isinstance(request, m.KvBenchRequest):
            self._kv_bench(request)
        else:
            raise TypeError(f"unknown request {request!r}")

    def _load(self, request: m.LoadRequest) -> None:
        progress = self._new_progress(request.id)
        progress.report("Starting the model engine (torch, transformers)…", -1.0)
        # torch and transformers are imported here, in this thread, the first time: the window is
        # already on screen meanwhile (nothing the GUI thread imports pulls them in).
        import torch

        from model_core.engine.loading import load_model
        from model_core.engine.stepper import Stepper
        from model_core.engine.vocab_labels import vocab_labels

        # Process-wide: leave one core to the GUI thread so the window stays responsive.
        torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
        lm = load_model(request.spec, device=request.device, progress=progress)
        labels = vocab_labels(lm.tokenizer, lm.info.vocab_size)
        self._lm, self._stepper = lm, Stepper(lm, lens=False)  # the lens is asked for (`_lens`) when shown
        self.loaded.emit(m.LoadedResult(request.id, lm.info, labels, lm.eos_ids))

    def _trace(self, request: m.TraceRequest) -> None:
        self._stepper.max_new_tokens = request.max_new_tokens
        trace = self._stepper.start(request.text, allow_special=request.allow_special)
        self._emit_trace(request.id, "trace")
        self._emit_followups(trace)

    def _step(self, request: m.StepRequest) -> None:
        stepper = self._stepper
        stepper.max_new_tokens = request.max_new_tokens
        if request.action == m.STEP:
            stepper.step()
        elif request.action == m.SAMPLE:
            stepper.sample(request.settings)
        elif request.action == m.UNDO:
            stepper.undo()
        elif request.action == m.RESET:
            stepper.reset()
        elif request.action == m.RUN:
            progress = self._new_progress(request.id)
            greedy = request.settings.temperature == 0
            projected = 0.0
            while stepper.stop_reason is None:
                progress.check()
                stepper.step() if greedy else stepper.sample(request.settings)
                self._emit_trace(request.id, request.action)
                # The window redraws a run every 120 ms; a PCA after every token would cost more
                # than the token itself, so the trajectories follow a few times a second.
                if time.perf_counter() - projected > RUN_PROJECTION_S:
                    self._emit_projection()
                    projected = time.perf_counter()
            progress.report("Generation finished.", 1.0)
        self._emit_trace(request.id, request.action)
        self._emit_followups(stepper.trace)

    def _replay(self, request: m.ReplayRequest) -> None:
        stepper = self._stepper
        if any(not 0 <= int(i) < self._lm.info.vocab_size for i in request.token_ids):
            raise LogitscopeError("The session's generated tokens do not belong to this model's vocabulary.")
        progress = self._new_progress(request.id)
        stepper.max_new_tokens = max(request.max_new_tokens, len(request.token_ids))
        stepper.reset()
        for token_id in request.token_ids:
            progress.check()
            stepper.append(int(token_id))
        self._emit_trace(request.id, "replay")
        self._emit_followups(stepper.trace)

    def _emit_trace(self, request_id: int, action: str) -> None:
        self._trace_id += 1
        stepper = self._stepper
        self.trace_ready.emit(m.TraceResult(
            request_id=request_id, trace_id=self._trace_id, trace=stepper.trace, n_new=stepper.n_new,
            max_new_tokens=stepper.max_new_tokens, stop_reason=stepper.stop_reason, action=action,
        ))

    def _emit_followups(self, trace) -> None:
        """Work the first picture need not wait for: the trajectory projection, then surprisal."""
        from model_core.engine.lens import surprisal_bits

        self._emit_projection()
        self.surprisal_ready.emit(m.SurprisalResult(self._trace_id, surprisal_bits(self._lm, trace)))

    def _emit_projection(self) -> None:
        from model_core.analysis.projection import project_residual

        trace = self._stepper.trace
        points = project_residual(trace.residual, self._basis)
        self.projection_ready.emit(m.ProjectionResult(self._trace_id, self._basis, points))

    def _position(self, request: m.PositionRequest) -> None:
        from model_core.engine.forward import final_logits
        from model_core.engine.lens import lens_at

        trace = self._stepper.trace
        position = int(np.clip(request.position, 0, trace.n_tokens - 1))
        lens_ids, lens_probs = lens_at(self._lm, trace, position) if request.lens else (None, None)
        logits = final_logits(self._lm, trace.residual, position)
        self.position_ready.emit(m.PositionResult(request.id, request.trace_id, position, logits, lens_ids, lens_probs))

    def _lens(self, request: m.LensRequest) -> None:
        if request.trace_id != self._trace_id:
            return  # the trace moved on; the panel asks again for the new one
        trace = self._stepper.add_lens()
        self.lens_ready.emit(m.LensResult(request.id, request.trace_id, trace))

    def _lens_grid(self, request: m.LensGridRequest) -> None:
        from model_core.engine.lens import lens_grid

        if request.trace_id != self._trace_id:
            return  # the trace moved on; the panel asks again for the new one
        ids, probs = lens_grid(self._lm, self._stepper.trace)
        self.lens_grid_ready.emit(m.LensGridResult(request.id, request.trace_id, ids, probs))

    # -- inside the block ------------------------------------------------------------------------

    def _mlp(self, request: m.MlpRequest) -> None:
        from model_core.engine.probes.mlp import probe_mlp

        if request.trace_id != self._trace_id:
            return  # the trace moved on; the panel asks again for the new one
        ids = self._stepper.trace.tokens.ids.tolist()
        probe = probe_mlp(self._lm, ids, request.position, request.layer)
        self.mlp_ready.emit(m.MlpResult(request.id, request.trace_id, probe))

    def _anatomy(self, request: m.AnatomyRequest) -> None:
        from model_core.engine.probes.anatomy import model_anatomy

        self.anatomy_ready.emit(m.AnatomyResult(request.id, model_anatomy(self._lm)))

    def _embeddings(self, request: m.EmbeddingRequest) -> None:
        from model_core.engine.probes.embeddings import analogy, nearest_tokens

        try:
            if len(request.texts) == 3:
                words, found = analogy(self._lm, *request.texts, k=request.k)
            else:
                word, found = nearest_tokens(self._lm, request.texts[0], k=request.k)
                words = (word,)
        except LogitscopeError as exc:  # a bad word is said in the panel, not in the banner
            self.embeddings_ready.emit(m.EmbeddingResult(request.id, request.texts, (), np.zeros(0, np.int64), (),
                                                         np.zeros(0, np.float32), str(exc)))
            return
        self.embeddings_ready.emit(m.EmbeddingResult(request.id, request.texts, words, found.ids, found.labels,
                                                     found.similarities))

    def _kv_bench(self, request: m.KvBenchRequest) -> None:
        from model_core.engine.probes.kv_cache import benchmark_kv_cache

        progress = self._new_progress(request.id)
        bench = benchmark_kv_cache(self._lm, self._stepper.trace.tokens.ids.tolist(), request.n_new, progress)
        self.kv_bench_ready.emit(m.KvBenchResult(request.id, bench))
