"""Lessons: guided walkthroughs stored as plain JSON files of steps.

A lesson file looks like::

    {"title": "...", "description": "...",
     "steps": [{"title": "...", "text": "...",
                "prompt": "...", "token": -1, "layer": 3, "head": 0,
                "dock": "attention", "action": "step",
                "settings": {"temperature": 0.7, "top_k": 0, "top_p": 1.0, "seed": 0},
                "trajectory_layer": 0, "play": false}]}

A step may hold a conversation instead of a prompt: ``"chat": [{"role": "system", "content":
"..."}, {"role": "user", "content": "..."}]`` switches the prompt panel to its Chat mode and
traces the conversation through the model's chat template (a first system turn becomes the
system prompt; none: the template decides). ``"run_mode": "greedy"`` or ``"sampled"`` sets how
Run to end chooses tokens. The settings may also hold ``min_p``, ``repetition_penalty``,
``frequency_penalty``, ``presence_penalty``, ``stop`` (a list of texts) and ``logit_bias`` (a list
of [token id, bias] pairs).

Every step field but ``title`` and ``text`` is optional. ``token`` and ``layer`` count from
the end when negative (-1 = the last token / the last layer). ``dock`` is a key of
the window's docks; an unknown key is skipped. ``action`` is one of step, sample, undo,
reset, run. Applying a step that sets a prompt waits for its trace (and the projection
that follows it, so every panel has caught up) before it runs the action, and waits for
the action's trace in the same way before it applies the selection, so "token": -1
after "action": "step" means the token just generated.

``"interventions": [{"type": "ablation", "kind": "head", "layer": 23, "head": 4, "mode": "zero"},
{"type": "temperature", "temperature": 2.0, "layer": null}]`` puts exactly these interventions in
effect from that step on (``[]`` removes them all: the model as trained); the trace runs again under them.

Built-in lessons live in assets/lessons/; "Open lesson…" loads a lecturer's own file.
A file that cannot be used raises ``LessonError`` with a message for the window's banner.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from desktop.core.requests.tracing import ACTIONS
from model_core.analysis.sampling import SamplingSettings, bias_table
from model_core.errors import PromptError
from model_core.types.chat import Conversation, check_conversation, conversation
from model_core.types.interventions import InterventionError, InterventionSet, set_from_list

SETTING_FIELDS = {"temperature": float, "top_k": int, "top_p": float, "seed": int, "min_p": float,
                  "repetition_penalty": float, "frequency_penalty": float, "presence_penalty": float,
                  "stop": list, "logit_bias": list}
STEP_FIELDS = {
    "title": str, "text": str, "prompt": str, "token": int, "layer": int, "head": int, "dock": str,
    "action": str, "settings": dict, "trajectory_layer": int, "play": bool, "chat": list, "run_mode": str,
    "interventions": list,
}
RUN_MODES = ("greedy", "sampled")


class LessonError(ValueError):
    """A lesson file that cannot be used; the message says which file and what is wrong."""


@dataclass(frozen=True)
class LessonStep:
    title: str
    text: str
    prompt: str | None = None
    token: int | None = None  # negative: from the end
    layer: int | None = None  # negative: from the last layer
    head: int | None = None
    dock: str | None = None  # a key of window.docks
    action: str | None = None  # one of ACTIONS
    settings: tuple[tuple[str, float | int], ...] = ()  # (field, value) of SamplingSettings
    trajectory_layer: int | None = None  # the trajectory slider (0 = embeddings; negative: from the end)
    play: bool = False  # play the trajectory animation
    chat: Conversation | None = None  # a conversation to trace in the chat mode (instead of a prompt)
    run_mode: str | None = None  # "greedy" or "sampled": how Run to end chooses
    interventions: InterventionSet | None = None  # the interventions in effect from this step on ([]: none)


@dataclass(frozen=True)
class Lesson:
    title: str
    description: str
    steps: tuple[LessonStep, ...]
    source: str = ""  # file name, for messages


def _is(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def parse_lesson(data: Any, source: str = "lesson") -> Lesson:
    """Check a decoded JSON document and turn it into a Lesson (LessonError if it is not one)."""
    def fail(why: str) -> LessonError:
        return LessonError(f"Cannot use the lesson file {source}: {why}")

    if not isinstance(data, dict):
        raise fail("it must be a JSON object with \"title\" and \"steps\".")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise fail("it has no \"title\" (a short text).")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise fail("\"description\" must be text.")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise fail("\"steps\" must be a non-empty list of steps.")
    steps = []
    for n, raw in enumerate(raw_steps, start=1):
        if not isinstance(raw, dict):
            raise fail(f"step {n} must be an object with \"title\" and \"text\".")
        for key in ("title", "text"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise fail(f"step {n} has no \"{key}\".")
        unknown = sorted(set(raw) - set(STEP_FIELDS))
        if unknown:
            raise fail(f"step {n} has unknown field(s) {', '.join(unknown)}; "
                       f"known fields are {', '.join(STEP_FIELDS)}.")
        for key, kind in STEP_FIELDS.items():
            if key in raw and raw[key] is not None and not _is(raw[key], kind):
                raise fail(f"step {n}: \"{key}\" must be {_KIND_WORDS[kind]}, not {json.dumps(raw[key])}.")
        action = raw.get("action")
        if action is not None and action not in ACTIONS:
            raise fail(f"step {n}: \"action\" must be one of {', '.join(ACTIONS)}, not \"{action}\".")
        if raw.get("head") is not None and raw["head"] < 0:
            raise fail(f"step {n}: \"head\" must be 0 or more.")
        settings = dict(raw.get("settings") or {})
        for key, value in settings.items():
            if key not in SETTING_FIELDS:
                raise fail(f"step {n}: unknown sampling setting \"{key}\"; use {', '.join(SETTING_FIELDS)}.")
            if not _is(value, SETTING_FIELDS[key]):
                raise fail(f"step {n}: sampling setting \"{key}\" must be {_KIND_WORDS[SETTING_FIELDS[key]]}.")
        try:
            if "stop" in settings:
                if not all(isinstance(t, str) for t in settings["stop"]):
                    raise ValueError("\"stop\" must be a list of texts")
                settings["stop"] = tuple(settings["stop"])
            if "logit_bias" in settings:
                pairs = settings["logit_bias"]
                if not all(isinstance(p, list) and len(p) == 2 and _is(p[0], int) and _is(p[1], float)
                           for p in pairs):
                    raise ValueError("\"logit_bias\" must be a list of [token id, bias] pairs")
                settings["logit_bias"] = bias_table((p[0], p[1]) for p in pairs)
            replace(SamplingSettings(), **settings).validated()
        except ValueError as error:
            raise fail(f"step {n}: {error}.") from None
        chat = None
        if raw.get("chat") is not None:
            if raw.get("prompt") is not None:
                raise fail(f"step {n}: give either \"prompt\" or \"chat\", not both.")
            try:
                chat = check_conversation(conversation(raw["chat"]))
            except (PromptError, AttributeError, TypeError, ValueError) as error:
                raise fail(f"step {n}: \"chat\" must be a list of {{\"role\", \"content\"}} turns ({error})") from None
        run_mode = raw.get("run_mode")
        if run_mode is not None and run_mode not in RUN_MODES:
            raise fail(f"step {n}: \"run_mode\" must be greedy or sampled, not \"{run_mode}\".")
        interventions = None
        if raw.get("interventions") is not None:
            try:
                interventions = set_from_list(raw["interventions"])
            except (InterventionError, AttributeError) as error:
                raise fail(f"step {n}: \"interventions\": {error}") from None
        steps.append(LessonStep(
            title=raw["title"].strip(), text=raw["text"].strip(), prompt=raw.get("prompt"),
            token=raw.get("token"), layer=raw.get("layer"), head=raw.get("head"), dock=raw.get("dock"),
            action=action, settings=tuple(settings.items()), trajectory_layer=raw.get("trajectory_layer"),
            play=bool(raw.get("play", False)), chat=chat, run_mode=run_mode, interventions=interventions,
        ))
    return Lesson(title.strip(), description.strip(), tuple(steps), source)


_KIND_WORDS = {str: "text", int: "a whole number", float: "a number", dict: "an object", bool: "true or false",
               list: "a list"}


def load_lesson(path: str | Path) -> Lesson:
    """Read and check a lesson file; LessonError (never another exception) if it cannot be used."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LessonError(f"Cannot read the lesson file {path.name}: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise LessonError(f"The lesson file {path.name} is not valid JSON: {error.msg} "
                          f"at line {error.lineno}, column {error.colno}.") from None
    return parse_lesson(data, path.name)


def builtin_lessons() -> list[Lesson]:
    """The lessons shipped in assets/lessons/, in file-name order."""
    folder = resources.files("assets").joinpath("lessons")
    lessons = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            lessons.append(parse_lesson(json.loads(entry.read_text(encoding="utf-8")), entry.name))
    return lessons
