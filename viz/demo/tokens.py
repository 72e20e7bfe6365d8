"""Token chips (the prompt as clickable boxes, also a chat prompt's control tokens and template parts)
and the wrapping layout they and the sampling controls use."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from viz.demo import fake
from viz.flow_layout import FlowLayout
from viz.token_chips import MARK_GENERATION, MARK_SYSTEM, MARK_TEMPLATE, TokenChips, chip_legend


def chips() -> TokenChips:
    """TokenChips: prompt plus two generated tokens, tinted by the attention the selected "␣is" pays."""
    tokens = fake.PROMPT + fake.GENERATED
    labels = [label for label, _ in tokens]
    ids = [token_id for _, token_id in tokens]
    tips = [f"position {i} · id {token_id} · {label.replace('␣', ' ')!r}" for i, (label, token_id) in enumerate(tokens)]
    query = len(fake.PROMPT) - 1
    weights = np.zeros(len(tokens))  # [T] keys after the query get no attention
    weights[: query + 1] = fake.demo_head(fake.LABELS)[query]
    widget = TokenChips()
    widget.set_tokens(labels, ids, tips, new_from=len(fake.PROMPT))
    widget.set_selected(query)
    widget.set_weights(weights / weights.max())  # the panel scales the row so its peak is full tint
    widget.resize(620, 130)
    return widget


# A ChatML prompt as a chat template renders it (made-up ids): (label, id, control token, added by)
CHAT = [
    ("<|im_start|>", 1, True, MARK_TEMPLATE), ("system", 9690, False, MARK_TEMPLATE), ("↵", 198, False, MARK_TEMPLATE),
    ("You", 2683, False, MARK_SYSTEM), ("␣are", 359, False, MARK_SYSTEM), ("␣a", 253, False, MARK_SYSTEM),
    ("␣helpful", 5356, False, MARK_SYSTEM), ("␣assistant", 11173, False, MARK_SYSTEM),
    ("<|im_end|>", 2, True, MARK_TEMPLATE), ("↵", 198, False, MARK_TEMPLATE),
    ("<|im_start|>", 1, True, MARK_TEMPLATE), ("user", 4093, False, MARK_TEMPLATE), ("↵", 198, False, MARK_TEMPLATE),
    ("What", 1780, False, ""), ("␣is", 314, False, ""), ("␣the", 260, False, ""), ("␣capital", 3575, False, ""),
    ("␣of", 282, False, ""), ("␣France", 4649, False, ""), ("?", 47, False, ""),
    ("<|im_end|>", 2, True, MARK_TEMPLATE), ("↵", 198, False, MARK_TEMPLATE),
    ("<|im_start|>", 1, True, MARK_GENERATION), ("ass", 520, False, MARK_GENERATION),
    ("istant", 9531, False, MARK_GENERATION), ("↵", 198, False, MARK_GENERATION),
    ("The", 504, False, ""), ("␣capital", 3575, False, ""), ("␣of", 282, False, ""), ("␣France", 4649, False, ""),
    ("␣is", 314, False, ""), ("␣Paris", 7042, False, ""), (".", 30, False, ""), ("<|im_end|>", 2, True, ""),
]
N_CHAT_PROMPT = 26  # the reply starts after the generation prompt


def chat_chips() -> QWidget:
    """TokenChips of a chat prompt: control tokens drawn apart, the template's hidden system prompt marked."""
    page = QWidget()
    legend = QLabel(chip_legend())
    legend.setWordWrap(True)
    widget = TokenChips()
    widget.set_tokens([c[0] for c in CHAT], [c[1] for c in CHAT],
                      [f"position {i} · id {c[1]}" + (f" · added by the template ({c[3]})" if c[3] else "")
                       for i, c in enumerate(CHAT)],
                      new_from=N_CHAT_PROMPT, control=[c[2] for c in CHAT], marks=[c[3] for c in CHAT])
    widget.set_selected(len(CHAT) - 1)
    column = QVBoxLayout(page)
    column.addWidget(legend)
    column.addWidget(widget, 1)
    page.resize(760, 260)
    return page


def _pair(label: str, widget: QWidget, extra: QWidget | None = None) -> QWidget:
    """A caption and its control, kept together on one line of the flow."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    if label:
        row.addWidget(QLabel(label))
    row.addWidget(widget)
    if extra is not None:
        row.addWidget(extra)
    return box


def flow() -> QWidget:
    """FlowLayout: the sampling controls wrapping like words in a narrow panel (one is hidden, so skipped)."""
    page = QWidget()
    controls = QWidget()
    layout = FlowLayout(controls, h_spacing=14, v_spacing=4)
    layout.setContentsMargins(0, 0, 0, 0)
    hidden = QCheckBox("Hidden: takes no room")
    for item in (
        _pair("Temperature", QDoubleSpinBox(minimum=0.0, maximum=5.0, singleStep=0.1, decimals=2, value=0.8)),
        _pair("Top-k", QSpinBox(minimum=0, maximum=100_000, value=0, specialValueText="off")),
        _pair("Top-p", QDoubleSpinBox(minimum=0.01, maximum=1.0, singleStep=0.05, decimals=2, value=0.9)),
        _pair("Seed", QSpinBox(minimum=0, maximum=2**31 - 1, value=0)),
        hidden,
        _pair("", QCheckBox("Raw logits")),
        _pair("", QSpinBox(minimum=1, maximum=100_000, value=200, suffix=" draws"), QPushButton("Sample many")),
    ):
        layout.addWidget(item)
    hidden.hide()
    note = QLabel("Narrow the window: the controls wrap onto new lines instead of being clipped.")
    note.setWordWrap(True)
    column = QVBoxLayout(page)
    column.addWidget(controls)
    column.addWidget(note)
    column.addStretch(1)
    page.resize(420, 160)
    return page
