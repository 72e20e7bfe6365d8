"""The model's own chat template, and what it added.

Everything here goes through the tokenizer's `apply_chat_template` (transformers renders the
template with its sandboxed Jinja); nothing writes a template by hand. What the template added
is found by comparing renderings of the same conversation:

- the generation prompt is what `add_generation_prompt=True` appends to the rendering without it;
- a default system prompt is what differs from a rendering with an explicit system turn (whose
  content is a marker that cannot occur in real text) when the conversation has none;
- the typed text of each turn is located through a rendering whose contents are markers, so a
  word that also occurs in the template (say "system") is never taken for the user's.

Control tokens the user types inside a turn stay plain text (`sanitize_control_tokens=True`,
transformers' own switch) unless the user asks for them, as for raw prompts.

The tokenizer is passed in (duck-typed): this module imports neither transformers nor torch; it lives in
the engine because it works on the loaded model's tokenizer (and the data types use the text helpers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from model_core.errors import PromptError
from model_core.text.hf_bytes import hf_token_bytes
from model_core.types.chat import (
    ASSISTANT,
    DEFAULT_SYSTEM,
    GENERATION_PROMPT,
    NO_TEMPLATE,
    SYSTEM,
    TEMPLATE,
    TYPED,
    USER,
    ChatPrompt,
    ChatTemplateInfo,
    Conversation,
    Message,
    check_conversation,
    conversation_json,
)

_MARK = "\ue000{}\ue001"  # private-use characters: never in a real conversation, one token run per marker


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).splitlines()[0][:300]


def render(tokenizer: Any, messages: Sequence[Message], generation_prompt: bool = True) -> str:
    """The template's text for `messages`; PromptError when the template refuses them."""
    if not has_chat_template(tokenizer):
        raise PromptError("This model has no chat template, so it cannot be talked to as an assistant.")
    try:
        return tokenizer.apply_chat_template(conversation_json(tuple(messages)), tokenize=False,
                                             add_generation_prompt=generation_prompt)
    except Exception as exc:  # jinja's TemplateError, raise_exception(...) of templates: all a sentence to us
        raise PromptError(f"The model's chat template refused this conversation: {_first_line(exc)}") from exc


def chat_ids(tokenizer: Any, messages: Sequence[Message], allow_special: bool = False) -> list[int]:
    """The token ids `apply_chat_template` gives (with the generation prompt). Control tokens typed in
    a turn stay plain text unless `allow_special`."""
    if not has_chat_template(tokenizer):
        raise PromptError("This model has no chat template, so it cannot be talked to as an assistant.")
    try:
        out = tokenizer.apply_chat_template(conversation_json(tuple(messages)), tokenize=True,
                                            add_generation_prompt=True, return_dict=True,
                                            sanitize_control_tokens=not allow_special)
    except Exception as exc:
        raise PromptError(f"The model's chat template refused this conversation: {_first_line(exc)}") from exc
    return [int(i) for i in out["input_ids"]]


def _try_render(tokenizer: Any, messages: Sequence[Message], generation_prompt: bool = True) -> str | None:
    try:
        return render(tokenizer, messages, generation_prompt)
    except PromptError:
        return None


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _common_suffix(a: str, b: str, limit: int) -> int:
    n = 0
    while n < limit and a[len(a) - 1 - n] == b[len(b) - 1 - n]:
        n += 1
    return n


def default_system_span(tokenizer: Any, conv: Conversation, text: str) -> tuple[int, int] | None:
    """Where in `text` (the rendering of `conv`) the template put a system prompt of its own, or None.

    Compared with the rendering that has an explicit system turn holding a marker: what the two
    renderings do not share is the default prompt on one side and exactly the marker on the other.
    """
    if any(m.role == SYSTEM for m in conv):
        return None
    marker = _MARK.format("system")
    other = _try_render(tokenizer, (Message(SYSTEM, marker), *conv))
    if other is None:
        return None
    start = _common_prefix(text, other)
    end_room = min(len(text), len(other)) - start
    tail = _common_suffix(text, other, end_room)
    if other[start: len(other) - tail] != marker:
        return None  # the template does more than swap the system prompt: no clear span to mark
    end = len(text) - tail
    return (start, end) if text[start:end].strip() else None


def _typed_spans(tokenizer: Any, conv: Conversation, text: str, after: int) -> list[tuple[int, int]]:
    """Where each turn's content sits in `text`: through a rendering with markers for contents
    (checked against the real text), else by searching the text in order from `after`."""
    markers = [_MARK.format(i) for i in range(len(conv))]
    marked = _try_render(tokenizer, tuple(Message(m.role, k) for m, k in zip(conv, markers, strict=True)))
    spans: list[tuple[int, int]] = []
    shift, cursor = 0, after
    for i, m in enumerate(conv):
        found = None
        at = marked.find(markers[i]) if marked is not None else -1
        if at >= 0:
            start = at + shift
            if m.content and text[start: start + len(m.content)] == m.content:
                found = (start, start + len(m.content))
            shift += len(m.content) - len(markers[i])
        if found is None and m.content.strip():
            for needle in (m.content, m.content.strip()):  # templates may trim a turn
                start = text.find(needle, cursor)
                if start >= 0:
                    found = (start, start + len(needle))
                    break
        if found is not None:
            spans.append(found)
            cursor = found[1]
    return spans


def _char_origins(tokenizer: Any, conv: Conversation, text: str) -> tuple[list[str], str]:
    """[len(text)] origin of every character, and the default system prompt's text."""
    origins = [TEMPLATE] * len(text)
    without = _try_render(tokenizer, conv, generation_prompt=False)
    if without is not None and text.startswith(without) and len(text) > len(without):
        origins[len(without):] = [GENERATION_PROMPT] * (len(text) - len(without))
    default = ""
    after = 0
    span = default_system_span(tokenizer, conv, text)
    if span is not None:
        a, b = span
        origins[a:b] = [DEFAULT_SYSTEM] * (b - a)
        default, after = text[a:b], b
    for a, b in _typed_spans(tokenizer, conv, text, after):
        origins[a:b] = [TYPED] * (b - a)
    return origins, default


def _token_char_spans(tokenizer: Any, ids: Sequence[int], text: str) -> list[tuple[int, int]] | None:
    """[T] character span of each token in `text`, by walking the tokens' exact bytes along the
    text's bytes (a SentencePiece prefix space the text does not have is allowed); None if they
    do not spell the text."""
    data = text.encode("utf-8")
    pieces = hf_token_bytes(tokenizer, list(ids))
    byte_spans = []
    at = 0
    for piece in pieces:
        if data.startswith(piece, at):
            byte_spans.append((at, at + len(piece)))
            at += len(piece)
        elif piece.startswith(b" ") and data.startswith(piece[1:], at):
            byte_spans.append((at, at + len(piece) - 1))
            at += len(piece) - 1
        else:
            return None
    if at != len(data):
        return None
    # byte offset -> character offset
    char_at = [0] * (len(data) + 1)
    pos = 0
    for ch_index, ch in enumerate(text):
        n = len(ch.encode("utf-8"))
        for k in range(n):
            char_at[pos + k] = ch_index
        pos += n
    char_at[len(data)] = len(text)
    return [(char_at[a], char_at[b] if b < len(data) else len(text)) for a, b in byte_spans]


def _spans_of(origins: list[str]) -> tuple[tuple[int, int, str], ...]:
    spans = []
    start = 0
    for i in range(1, len(origins) + 1):
        if i == len(origins) or origins[i] != origins[start]:
            spans.append((start, i, origins[start]))
            start = i
    return tuple(spans)


def render_chat(tokenizer: Any, conv: Conversation, allow_special: bool = False) -> ChatPrompt:
    """Render a conversation with the model's template, tokenise it, and say where each token came from."""
    check_conversation(conv)
    text = render(tokenizer, conv)
    ids = chat_ids(tokenizer, conv, allow_special)
    char_origins, default = _char_origins(tokenizer, conv, text)
    spans = _token_char_spans(tokenizer, ids, text)
    origins: list[str] = []
    for k in range(len(ids)):
        if spans is None:
            origins.append("")
            continue
        a, b = spans[k]
        chars = char_origins[a:b]
        if not chars:
            origins.append(TEMPLATE)
            continue
        # a token that straddles typed text and the template's counts as the template's when most of it is
        origins.append(max(set(chars), key=lambda o: (chars.count(o), o != TYPED)))
    return ChatPrompt(conversation=conv, text=text, ids=tuple(ids), origins=tuple(origins),
                      spans=_spans_of(char_origins), default_system=default)


def end_of_turn_ids(tokenizer: Any) -> tuple[int, ...]:
    """The control token(s) the template writes right after an assistant's turn (<|im_end|> for
    ChatML, <|eot_id|> for Llama 3), found by rendering a short exchange."""
    if not has_chat_template(tokenizer):
        return ()
    reply = _MARK.format("reply")
    text = _try_render(tokenizer, (Message(USER, "Hi"), Message(ASSISTANT, reply)), generation_prompt=False)
    if text is None or reply not in text:
        return ()
    after = text[text.index(reply) + len(reply):]
    if not after:
        return ()
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    special |= {i for i, t in getattr(tokenizer, "added_tokens_decoder", {}).items() if getattr(t, "special", False)}
    for token_id in tokenizer(after, add_special_tokens=False)["input_ids"]:
        if int(token_id) in special:
            return (int(token_id),)
        if tokenizer.decode([int(token_id)]).strip():
            break  # text before any control token: the template closes turns with plain text
    return ()


def template_info(tokenizer: Any) -> ChatTemplateInfo:
    """Whether the model has a chat template, the system prompt it adds by default, its end-of-turn token."""
    if not has_chat_template(tokenizer):
        return NO_TEMPLATE
    probe = (Message(USER, "Hi"),)
    text = _try_render(tokenizer, probe)
    default = ""
    if text is not None:
        span = default_system_span(tokenizer, probe, text)
        if span is not None:
            default = text[span[0]: span[1]]
    eot = end_of_turn_ids(tokenizer)
    labels = tuple(tokenizer.convert_ids_to_tokens(list(eot))) if eot else ()
    return ChatTemplateInfo(has_template=True, default_system=default, end_of_turn_ids=eot,
                            end_of_turn_labels=labels)
