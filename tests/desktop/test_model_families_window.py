"""Models of other shapes through the real window: a mixture of experts (Mixtral), parallel blocks
(GPT-J, GPT-NeoX), post-LN blocks with width projections (OPT-350m's layout) and softcapping (Gemma 2).

Each tiny checkpoint is opened like a real one, stepped once, and every main and deeper panel is
checked to have drawn it (`helpers.check_every_panel`): the parts that do not apply say so.
"""

from __future__ import annotations

import pytest

from desktop.core.requests import tracing as m
from model_core.types.model_info import PARALLEL, POST_LN, SEQUENTIAL
from tests.desktop.helpers import check_every_panel

PROMPT = "The capital of Germany is Berlin."
LAYOUTS = {"mixtral": SEQUENTIAL, "gptj": PARALLEL, "gpt_neox": PARALLEL, "opt@proj": POST_LN, "gemma2": SEQUENTIAL}


@pytest.mark.parametrize("spec", list(LAYOUTS))
def test_open_step_and_every_panel_draws(spec, make_window, family_dir, qtbot):
    window = make_window(model=str(family_dir(spec)), prompt=PROMPT)
    info = window.state.info
    assert info.block_layout == LAYOUTS[spec] and info.is_moe == (spec == "mixtral")
    n = window.state.trace.n_tokens
    with qtbot.waitSignal(window.state.projection_changed, timeout=30_000):
        window.generation_action(m.STEP)
    assert window.state.trace.n_tokens == n + 1
    check_every_panel(window, qtbot)
    assert window.banner.text() == ""  # nothing went wrong on the way
