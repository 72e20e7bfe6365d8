"""Conversations and what a chat template made of them, as torch-free data.

An assistant is a layer around a model: the conversation (system, user and assistant turns)
is turned into one text by the tokenizer's own chat template, and the model only ever sees
that text. `ChatPrompt` keeps the rendering together with where each token came from, so
the window can mark what the template added (a default system prompt nobody typed, the
generation prompt that opens the assistant's turn, the role names and control tokens).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from model_core.errors import PromptError

SYSTEM, USER, ASSISTANT = "system", "user", "assistant"
ROLES = (SYSTEM, USER, ASSISTANT)

# Where a prompt token comes from.
TYPED = "typed"  # the text of a turn, as the user wrote it
TEMPLATE = "template"  # formatting the template wraps around turns: control tokens, role names, newlines
DEFAULT_SYSTEM = "default system prompt"  # a system prompt the template adds when the conversation has none
GENERATION_PROMPT = "generation prompt"  # what opens the assistant's turn, so the model answers
ORIGINS = (TYPED, TEMPLATE, DEFAULT_SYSTEM, GENERATION_PROMPT)
ADDED = (TEMPLATE, DEFAULT_SYSTEM, GENERATION_PROMPT)  # the origins the user did not type


@dataclass(frozen=True)
class Message:
    role: str  # one of ROLES
    content: str

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


Conversation = tuple[Message, ...]


def conversation(messages: Iterable[Message | Mapping[str, str] | tuple[str, str]]) -> Conversation:
    """A conversation from messages, {"role", "content"} mappings or (role, content) pairs;
    PromptError for an unknown role or a content that is not text."""
    out = []
    for n, m in enumerate(messages, start=1):
        if isinstance(m, Message):
            role, content = m.role, m.content
        elif isinstance(m, Mapping):
            role, content = m.get("role"), m.get("content")
        else:
            role, content = m
        if role not in ROLES:
            raise PromptError(f"Turn {n} has the role {role!r}; a turn is one of {', '.join(ROLES)}.")
        if not isinstance(content, str):
            raise PromptError(f"Turn {n} ({role}) has no text.")
        out.append(Message(role, content))
    return tuple(out)


def check_conversation(conv: Conversation) -> Conversation:
    """Refuse a conversation the model cannot be asked: nothing in it, or no turn with any text."""
    if not conv or not any(m.content.strip() for m in conv):
        raise PromptError("The conversation is empty: type a message first.")
    return conv


def conversation_json(conv: Conversation) -> list[dict[str, str]]:
    return [m.to_json() for m in conv]


@dataclass(frozen=True)
class ChatPrompt:
    """A conversation rendered by the model's chat template, ready to trace."""

    conversation: Conversation
    text: str  # apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
    ids: tuple[int, ...]  # the tokens the model reads
    origins: tuple[str, ...]  # [n_prompt] where each token came from (one of ORIGINS; "" when unknown)
    spans: tuple[tuple[int, int, str], ...]  # (start, end, origin) character spans of `text`, in order
    default_system: str = ""  # the system prompt the template added ("" when it added none)

    def span_text(self, origin: str) -> str:
        """All the text of one origin, joined (e.g. the default system prompt)."""
        return "".join(self.text[a:b] for a, b, o in self.spans if o == origin)


@dataclass(frozen=True)
class ChatTemplateInfo:
    """What the window needs to know about a model's chat template before it renders anything."""

    has_template: bool
    default_system: str = ""  # the system prompt the template adds when there is none ("" = none)
    end_of_turn_ids: tuple[int, ...] = ()  # the control token(s) that close a turn (<|im_end|>, <|eot_id|>)
    end_of_turn_labels: tuple[str, ...] = ()

    @property
    def end_of_turn(self) -> str:
        return " / ".join(self.end_of_turn_labels)


NO_TEMPLATE = ChatTemplateInfo(has_template=False)
