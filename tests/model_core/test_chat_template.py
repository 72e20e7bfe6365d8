"""The chat view's text is the tokenizer's own `apply_chat_template`, and what it marks as added by
the template is right: the default system prompt, the generation prompt, the control tokens."""

from __future__ import annotations

import pytest

from model_core.engine.chat_template import render_chat, template_info
from model_core.errors import PromptError
from model_core.types.chat import (
    DEFAULT_SYSTEM,
    GENERATION_PROMPT,
    TEMPLATE,
    TYPED,
    Message,
    check_conversation,
    conversation,
)
from tests.tiny_models import TINY_DEFAULT_SYSTEM

QUESTION = "What is the capital of France?"
SMOL_DEFAULT = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def _hf(tokenizer, conv, **kwargs):
    messages = [{"role": m.role, "content": m.content} for m in conv]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True, return_dict=True,
                                        **kwargs)["input_ids"]
    return text, list(ids)


def _text_of(tokenizer, ids, origins, origin):
    return tokenizer.decode([i for i, o in zip(ids, origins, strict=True) if o == origin])


@pytest.mark.builtin
def test_builtin_chat_text_and_tokens_are_the_templates_own(builtin_lm):
    tok = builtin_lm.tokenizer
    for conv in (conversation([("user", QUESTION)]),
                 conversation([("system", "You are a pirate."), ("user", "Hi"), ("assistant", "Arr!"),
                               ("user", QUESTION)])):
        chat = render_chat(tok, conv)
        text, ids = _hf(tok, conv)
        assert chat.text == text
        assert list(chat.ids) == ids
        assert len(chat.origins) == len(ids)


@pytest.mark.builtin
def test_builtin_marks_the_hidden_system_prompt_and_the_generation_prompt(builtin_lm):
    tok = builtin_lm.tokenizer
    chat = render_chat(tok, conversation([("user", QUESTION)]))
    assert chat.default_system == SMOL_DEFAULT
    assert chat.span_text(DEFAULT_SYSTEM) == SMOL_DEFAULT
    assert _text_of(tok, chat.ids, chat.origins, DEFAULT_SYSTEM) == SMOL_DEFAULT
    assert chat.span_text(GENERATION_PROMPT) == "<|im_start|>assistant\n"
    assert _text_of(tok, chat.ids, chat.origins, GENERATION_PROMPT) == "<|im_start|>assistant\n"
    assert _text_of(tok, chat.ids, chat.origins, TYPED) == QUESTION
    # every control token is the template's, never typed
    special = set(tok.all_special_ids)
    assert all(o != TYPED for i, o in zip(chat.ids, chat.origins, strict=True) if i in special)
    assert [o for i, o in zip(chat.ids, chat.origins, strict=True) if i in special].count(TEMPLATE) == 4
    # the spans tile the text
    assert chat.spans[0][0] == 0 and chat.spans[-1][1] == len(chat.text)
    assert all(a[1] == b[0] for a, b in zip(chat.spans, chat.spans[1:], strict=False))


@pytest.mark.builtin
def test_builtin_own_system_prompt_replaces_the_default(builtin_lm):
    tok = builtin_lm.tokenizer
    chat = render_chat(tok, conversation([("system", "You are a pirate."), ("user", QUESTION)]))
    assert chat.default_system == ""
    assert DEFAULT_SYSTEM not in chat.origins
    assert SMOL_DEFAULT not in chat.text
    assert _text_of(tok, chat.ids, chat.origins, TYPED) == "You are a pirate." + QUESTION


@pytest.mark.builtin
def test_builtin_template_info(builtin_lm):
    info = template_info(builtin_lm.tokenizer)
    assert info.has_template and info.default_system == SMOL_DEFAULT
    assert info.end_of_turn_labels == ("<|im_end|>",)
    assert info.end_of_turn_ids == (builtin_lm.tokenizer.convert_tokens_to_ids("<|im_end|>"),)


@pytest.mark.builtin
def test_control_tokens_typed_in_a_turn_stay_text_unless_allowed(builtin_lm):
    tok = builtin_lm.tokenizer
    conv = conversation([("user", "Say <|im_end|> now")])
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    plain = render_chat(tok, conv)
    typed = [i for i, o in zip(plain.ids, plain.origins, strict=True) if o == TYPED]
    assert im_end not in typed and tok.decode(typed) == "Say <|im_end|> now"
    assert list(plain.ids) == _hf(tok, conv, sanitize_control_tokens=True)[1]
    allowed = render_chat(tok, conv, allow_special=True)
    assert list(allowed.ids) == _hf(tok, conv)[1]
    assert im_end in [i for i, o in zip(allowed.ids, allowed.origins, strict=True) if o == TYPED]


def test_tiny_chat_model_text_tokens_and_spans(tiny_chat):
    tok = tiny_chat.tokenizer
    conv = conversation([("user", "  " + QUESTION + "  ")])  # this template trims turns
    chat = render_chat(tok, conv)
    text, ids = _hf(tok, conv)
    assert chat.text == text and list(chat.ids) == ids
    assert chat.default_system == TINY_DEFAULT_SYSTEM
    assert _text_of(tok, chat.ids, chat.origins, DEFAULT_SYSTEM) == TINY_DEFAULT_SYSTEM
    assert _text_of(tok, chat.ids, chat.origins, TYPED) == QUESTION
    assert chat.span_text(GENERATION_PROMPT) == "<|im_start|>assistant\n"
    assert chat.origins[0] == TEMPLATE and chat.ids[0] == tok.bos_token_id  # the template's BOS
    info = template_info(tok)
    assert info.end_of_turn_labels == ("<|im_end|>",) and info.default_system == TINY_DEFAULT_SYSTEM


def test_typed_words_that_the_template_also_writes_are_found_in_their_turn(tiny_chat):
    """ "system" and "assistant" occur in the template's own text; only the turn's copy is typed."""
    tok = tiny_chat.tokenizer
    conv = conversation([("system", "system"), ("user", "assistant")])
    chat = render_chat(tok, conv)
    typed = [(a, b) for a, b, o in chat.spans if o == TYPED]
    assert [chat.text[a:b] for a, b in typed] == ["system", "assistant"]
    assert chat.text.index("system") < typed[0][0]  # the role name before it is the template's


def test_gpt2_has_no_template(tiny_gpt2):
    info = template_info(tiny_gpt2.tokenizer)
    assert not info.has_template and info.end_of_turn_ids == ()
    with pytest.raises(PromptError, match="no chat template"):
        render_chat(tiny_gpt2.tokenizer, conversation([("user", "Hi")]))


def test_bad_conversations_are_refused_with_a_sentence():
    with pytest.raises(PromptError, match="empty"):
        check_conversation(())
    with pytest.raises(PromptError, match="empty"):
        check_conversation((Message("user", "   "),))
    with pytest.raises(PromptError, match="role"):
        conversation([("robot", "hi")])
