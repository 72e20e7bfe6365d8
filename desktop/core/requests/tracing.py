"""The stepper's requests: load a model, trace a prompt, step / sample / undo / reset, run to the
end, replay saved tokens, and the reads of the current trace (logits and lens at a position, the
trajectory projection, the lens at the last position, the lens grid).

Every request that changes the trace answers with a `TraceResult`, then its follow-ups (the
projection and the surprisal), so the first picture never waits for them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from desktop.core.requests.base import Request, WorkerSession, handles
from model_core.analysis.sampling import SamplingSettings
from model_core.types.chat import NO_TEMPLATE, ChatPrompt, ChatTemplateInfo, Conversation
from model_core.types.model_info import ModelInfo
from model_core.types.stop_reasons import STOP_SEQUENCE
from model_core.types.trace import Trace

RUN_PROJECTION_S = 0.25  # during Run to end, at most this often a new trajectory projection

# Generation actions the stepper understands.
STEP, SAMPLE, UNDO, RESET, RUN = "step", "sample", "undo", "reset", "run"
ACTIONS = (STEP, SAMPLE, UNDO, RESET, RUN)


# -- answers ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedResult:
    info: ModelInfo
    vocab_labels: tuple[str, ...]  # readable label for every token id, so the GUI never needs the tokenizer
    eos_ids: frozenset[int]  # every token that ends generation (end of text, end of turn)
    chat: ChatTemplateInfo = NO_TEMPLATE  # the model's chat template: whether there is one, what it adds


@dataclass(frozen=True)
class TraceResult:
    trace_id: int  # unique per trace handed out (a Run hands out many under one request)
    trace: Trace
    n_new: int
    max_new_tokens: int
    stop_reason: str | None
    action: str = "trace"  # "trace", "replay" or one of ACTIONS
    stop_detail: str = ""  # the end token (<|im_end|>) or the stop sequence that stopped it
    choices: tuple[str, ...] = ()  # [n_new] how each generated token was chosen: greedy, sampled, given
    chat: ChatPrompt | None = None  # the conversation the prompt was rendered from (None: raw text)

    @property
    def reply(self) -> str:
        """The generated text as a turn of the conversation: control tokens left out, and cut before
        a stop sequence that ended it (as chat APIs return it)."""
        text = self.trace.tokens.text(self.trace.n_prompt)
        if self.stop_reason == STOP_SEQUENCE and self.stop_detail and self.stop_detail in text:
            text = text[: text.index(self.stop_detail)]
        return text


@dataclass(frozen=True)
class ProjectionResult:
    trace_id: int
    basis: str
    points: np.ndarray  # [L+1, T, 2]


@dataclass(frozen=True)
class SurprisalResult:
    trace_id: int
    bits: np.ndarray  # [T]


@dataclass(frozen=True)
class PositionResult:
    trace_id: int
    position: int
    logits: np.ndarray  # [V] final-layer logits predicting the token after `position`
    lens_ids: np.ndarray | None = None  # [L+1, k], when asked for
    lens_probs: np.ndarray | None = None  # [L+1, k]


@dataclass(frozen=True)
class LensResult:
    trace_id: int
    trace: Trace  # the same trace with its lens fields filled in


@dataclass(frozen=True)
class LensGridResult:
    trace_id: int
    ids: np.ndarray  # [L+1, T] top-1 token id each layer predicts after each position
    probs: np.ndarray  # [L+1, T] its probability


# -- requests -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadOptions:
    """How to load a model: the number type of its weights and, for a model bigger than the machine,
    a memory budget per device and a folder for what does not fit (accelerate's device map)."""

    dtype: str = "float32"  # model_info.DTYPE_CHOICES
    max_memory: str = ""  # "cpu=2GiB,0=10GiB" (types/memory_sizes.py); "": no budget
    offload_folder: str = ""  # "": nothing waits on disk

    @property
    def big_model(self) -> bool:
        """A budget or an offload folder was given (the advanced options are in use)."""
        return bool(self.max_memory or self.offload_folder)

    def describe(self) -> str:
        """'bfloat16, cpu=2GiB, offload to /tmp/off' (what the status line says while loading)."""
        parts = [self.dtype] + ([self.max_memory] if self.max_memory else []) \
            + ([f"offload to {self.offload_folder}"] if self.offload_folder else [])
        return ", ".join(parts)


@dataclass(frozen=True)
class LoadRequest(Request):
    spec: str
    device: str = "auto"
    options: LoadOptions = LoadOptions()
    needs_model: ClassVar[bool] = False
    kind: ClassVar[str] = "load"


@dataclass(frozen=True)
class TraceRequest(Request):
    """Trace a new prompt: raw `text`, or (when `chat` is given) a conversation rendered by the
    model's chat template (then `text` is unused)."""

    text: str
    allow_special: bool = False
    max_new_tokens: int = 20
    chat: Conversation | None = None
    kind: ClassVar[str] = "trace"


@dataclass(frozen=True)
class StepRequest(Request):
    """One generation action: step, sample, undo or reset."""

    action: str
    settings: SamplingSettings = SamplingSettings()
    max_new_tokens: int = 20
    supersedable: ClassVar[bool] = False  # every press of Step is a token
    kind: ClassVar[str] = "step"


@dataclass(frozen=True)
class RunRequest(Request):
    """Generate until a stop: every token greedy (as Step) or sampled (as Sample). Cancel stops it."""

    settings: SamplingSettings = SamplingSettings()
    max_new_tokens: int = 20
    greedy: bool = True
    supersedable: ClassVar[bool] = False
    kind: ClassVar[str] = "run"


@dataclass(frozen=True)
class ReplayRequest(Request):
    """Append these exact token ids after the traced prompt (reopening a session); one trace comes back."""

    token_ids: tuple[int, ...]
    max_new_tokens: int = 20
    choices: tuple[str, ...] = ()  # how each was chosen when first generated ("given" when unknown)
    settings: SamplingSettings = SamplingSettings()  # for its stop sequences
    supersedable: ClassVar[bool] = False
    kind: ClassVar[str] = "replay"


@dataclass(frozen=True)
class PositionRequest(Request):
    """The final-layer logits, and the logit lens when asked, at one position (unembedding only)."""

    position: int
    trace_id: int
    lens: bool = False
    kind: ClassVar[str] = "position"


@dataclass(frozen=True)
class ProjectionRequest(Request):
    basis: str
    kind: ClassVar[str] = "projection"


@dataclass(frozen=True)
class LensRequest(Request):
    """The logit lens at the last position of a trace, asked for when the lens panel is shown."""

    trace_id: int
    kind: ClassVar[str] = "lens"


@dataclass(frozen=True)
class LensGridRequest(Request):
    """The logit lens's top-1 token at every layer x position of a trace (unembedding only)."""

    trace_id: int
    kind: ClassVar[str] = "lens grid"


# -- handlers (worker thread) ----------------------------------------------------------------------


def import_engine() -> None:
    """Import what `load` needs, ahead of it (the model process does this while the window is built)."""
    import torch  # noqa: F401

    import model_core.engine.loading  # noqa: F401
    import model_core.engine.stepper  # noqa: F401


def prepare_ahead(request: Request) -> None:
    """Start what a load can do before the engine is imported (the model process's reading thread
    calls this as the request arrives): expanding a packaged app's built-in model needs numpy,
    not torch (`builtin_model.prepare_ahead`)."""
    if not isinstance(request, LoadRequest):
        return
    from model_core.engine import builtin_model
    from model_core.engine.model_spec import classify
    from model_core.errors import ModelLoadError

    try:
        if classify(request.spec)[0] == "builtin":
            builtin_model.prepare_ahead()
    except ModelLoadError:
        pass  # the load itself says what is wrong with the choice


@handles(LoadRequest)
def load(session: WorkerSession, request: LoadRequest) -> LoadedResult:
    session.progress.report("Starting the model engine (torch, transformers)…", -1.0)
    # torch and transformers are imported here, in this thread, the first time: the window is
    # already on screen meanwhile (nothing the GUI thread imports pulls them in).
    from model_core.engine.loading import load_model
    from model_core.engine.stepper import Stepper
    from model_core.engine.thread_limits import leave_a_core
    from model_core.engine.vocab_labels import vocab_labels

    leave_a_core()  # process-wide: torch's and every BLAS pool keep off the window's core
    options = request.options
    # A load that cannot fit is refused by the engine before it allocates; the old model stays.
    lm = load_model(request.spec, device=request.device, progress=session.progress, dtype=options.dtype,
                    max_memory=options.max_memory or None, offload_folder=options.offload_folder or None)
    labels = vocab_labels(lm.tokenizer, lm.info.vocab_size)
    session.lm, session.stepper = lm, Stepper(lm, lens=False)  # the lens is asked for (`LensRequest`) when shown
    return LoadedResult(lm.info, labels, lm.stop_ids, lm.chat_template)


def traced(session: WorkerSession, action: str) -> TraceResult:
    """The stepper's current trace as a new answer (a new trace id)."""
    session.trace_id += 1
    stepper = session.stepper
    return TraceResult(trace_id=session.trace_id, trace=stepper.trace, n_new=stepper.n_new,
                       max_new_tokens=stepper.max_new_tokens, stop_reason=stepper.stop_reason, action=action,
                       stop_detail=stepper.stop_detail, choices=stepper.choices, chat=stepper.chat)


def projected(session: WorkerSession) -> ProjectionResult:
    from model_core.analysis.projection import project_residual

    points = project_residual(session.stepper.trace.residual, session.basis)
    return ProjectionResult(session.trace_id, session.basis, points)


def followups(session: WorkerSession) -> Iterator[ProjectionResult | SurprisalResult]:
    """Work the first picture need not wait for: the trajectory projection, then surprisal."""
    from model_core.engine.lens import surprisal_bits

    yield projected(session)
    yield SurprisalResult(session.trace_id, surprisal_bits(session.lm, session.stepper.trace))


@handles(TraceRequest)
def trace_prompt(session: WorkerSession, request: TraceRequest) -> Iterator:
    session.stepper.max_new_tokens = request.max_new_tokens
    if request.chat is not None:
        session.stepper.start_chat(request.chat, allow_special=request.allow_special)
    else:
        session.stepper.start(request.text, allow_special=request.allow_special)
    yield traced(session, "trace")
    yield from followups(session)


@handles(StepRequest)
def step(session: WorkerSession, request: StepRequest) -> Iterator:
    stepper = session.stepper
    stepper.max_new_tokens = request.max_new_tokens
    if request.action == STEP:
        stepper.step(request.settings)
    elif request.action == SAMPLE:
        stepper.sample(request.settings)
    elif request.action == UNDO:
        stepper.undo()
    elif request.action == RESET:
        stepper.reset()
    else:
        raise ValueError(f"unknown generation action {request.action!r}")
    yield traced(session, request.action)
    yield from followups(session)


@handles(RunRequest)
def run(session: WorkerSession, request: RunRequest) -> Iterator:
    stepper, progress = session.stepper, session.progress
    stepper.max_new_tokens = request.max_new_tokens
    greedy = request.greedy or request.settings.temperature == 0
    projected_at = 0.0
    while stepper.stop_reason is None:
        progress.check()
        stepper.step(request.settings) if greedy else stepper.sample(request.settings)
        yield traced(session, RUN)
        # The window redraws a run every 120 ms; a PCA after every token would cost more
        # than the token itself, so the trajectories follow a few times a second.
        if time.perf_counter() - projected_at > RUN_PROJECTION_S:
            yield projected(session)
            projected_at = time.perf_counter()
    progress.report("Generation finished.", 1.0)
    yield traced(session, RUN)
    yield from followups(session)


@handles(ReplayRequest)
def replay(session: WorkerSession, request: ReplayRequest) -> Iterator:
    from model_core.errors import LogitscopeError

    stepper = session.stepper
    if any(not 0 <= int(i) < session.lm.info.vocab_size for i in request.token_ids):
        raise LogitscopeError("The session's generated tokens do not belong to this model's vocabulary.")
    from model_core.engine.stepper import CHOICES, GIVEN

    stepper.max_new_tokens = max(request.max_new_tokens, len(request.token_ids))
    stepper.stop = request.settings.stop
    stepper.reset()
    for n, token_id in enumerate(request.token_ids):
        session.progress.check()
        choice = request.choices[n] if n < len(request.choices) and request.choices[n] in CHOICES else GIVEN
        stepper.append(int(token_id), choice)
    yield traced(session, "replay")
    yield from followups(session)


@handles(PositionRequest)
def position(session: WorkerSession, request: PositionRequest) -> PositionResult:
    from model_core.engine.forward import final_logits
    from model_core.engine.lens import lens_at

    trace = session.stepper.trace
    where = int(np.clip(request.position, 0, trace.n_tokens - 1))
    lens_ids, lens_probs = lens_at(session.lm, trace, where) if request.lens else (None, None)
    logits = final_logits(session.lm, trace.residual, where)
    return PositionResult(request.trace_id, where, logits, lens_ids, lens_probs)


@handles(ProjectionRequest)
def projection(session: WorkerSession, request: ProjectionRequest) -> ProjectionResult:
    session.basis = request.basis
    return projected(session)


@handles(LensRequest)
def lens(session: WorkerSession, request: LensRequest) -> LensResult:
    session.check_trace(request.trace_id)
    return LensResult(request.trace_id, session.stepper.add_lens())


@handles(LensGridRequest)
def lens_grid(session: WorkerSession, request: LensGridRequest) -> LensGridResult:
    from model_core.engine.lens import lens_grid as grid

    session.check_trace(request.trace_id)
    ids, probs = grid(session.lm, session.stepper.trace)
    return LensGridResult(request.trace_id, ids, probs)
