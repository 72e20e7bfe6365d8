"""The Model panel through the real window: what the loaded model is (family, experts, where each part
lives and the memory it takes), the number type and big-model options reaching the engine, a load
that cannot fit refused with the old model kept, GGUF files from File ▸ Open model…, and sessions
that remember the number type."""

from __future__ import annotations

import json
from dataclasses import replace

from desktop.core.requests import tracing as m
from desktop.panels.model_panel import model_spec_for
from tests.desktop.helpers import raise_dock
from tests.gguf_files import write_gguf


def file_menu_texts(window) -> list[str]:
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    return [a.text() for a in menu.actions() if not a.isSeparator()]


def test_facts_of_a_mixture_of_experts(make_window, family_dir):
    window = make_window(model=str(family_dir("mixtral")), prompt="Hello there")
    raise_dock(window, "model")
    info, facts = window.state.info, window.model_panel.facts
    assert facts["Family"].text() == "Mixtral (mixtral)"
    assert facts["Experts"].text() == "4 experts, 2 chosen per token, in every layer"
    assert facts["Parameters"].text() == (f"{info.n_params:,} (380.9 K); {info.n_active_params:,} (233.4 K, 61%) "
                                          "used per token")
    assert facts["Placement"].text() == "cpu: embedding, blocks 0–2, final norm, unembedding (1.5 MB)"
    assert facts["Memory"].text() == "1.5 MB of weights in float32"
    assert facts["Blocks"].text() == "sequential: attention, then the MLP"
    assert facts["Notes"].text().splitlines()[0] == "• mixture of experts: softmax, top-k, renormalised"
    assert facts["Width"].text() == "64 (MLP 128 per expert)"


def test_facts_of_other_layouts(make_window, family_dir, qtbot):
    window = make_window(model=str(family_dir("opt@proj")), prompt="Hello there")
    panel, facts = window.model_panel, window.model_panel.facts
    assert facts["Experts"].text() == "none: a dense model (one MLP per block)"
    assert facts["Blocks"].text().startswith("post-LN: a norm after each residual add (this model normalises")
    with qtbot.waitSignal(window.state.trace_changed, timeout=60_000):
        window.load_model(str(family_dir("gptj")), "cpu")
    assert facts["Family"].text() == "GPT-J (gptj)"
    assert facts["Blocks"].text().startswith("parallel: attention and the MLP read the same input")
    # A model type outside the tested families, opened by discovery alone, is marked so.
    untested = replace(window.state.info, tested=False)
    assert panel.describe(untested)["Family"] == "GPT-J (gptj) · untested: opened by discovery"


def test_number_type_reaches_the_engine_and_the_session_keeps_it(make_window, tiny_llama_dir, qtbot, tmp_path):
    window = make_window(model=str(tiny_llama_dir), prompt="Hello there")
    panel = window.model_panel
    assert [panel.dtype.itemText(i) for i in range(panel.dtype.count())] == ["float32", "bfloat16", "float16"]
    panel.set_dtype("bfloat16")
    asked = []
    window.client.worker.answered.connect(lambda _rid, answer: asked.append(answer))
    with qtbot.waitSignal(window.state.trace_changed, timeout=60_000):
        panel.load_button.click()
    info = window.state.info
    assert info.dtype == "bfloat16" and info.source == str(tiny_llama_dir)
    assert panel.facts["Device"].text().endswith(", bfloat16")
    assert panel.facts["Memory"].text().endswith("of weights in bfloat16")
    assert any(isinstance(a, m.LoadedResult) and a.info.dtype == "bfloat16" for a in asked)
    # The session remembers the number type, and reopening it in a fresh window loads it so.
    path = window.sessions.save(tmp_path / "half")
    data = json.loads(path.read_text())
    assert data["model"]["dtype"] == "bfloat16"
    other = make_window(model=str(tiny_llama_dir), prompt="Something else")
    assert other.state.info.dtype == "float32"
    with qtbot.waitSignal(other.sessions.restored, timeout=60_000):
        other.sessions.restore(path)
    assert other.state.info.dtype == "bfloat16" and other.model_panel.dtype.currentText() == "bfloat16"
    # A session written before the number type was saved opens in float32.
    del data["model"]["dtype"]
    old = tmp_path / "old.logitscope.json"
    old.write_text(json.dumps(data))
    with qtbot.waitSignal(other.sessions.restored, timeout=60_000):
        other.sessions.restore(old)
    assert other.state.info.dtype == "float32"
    data["model"]["dtype"] = "int4"
    old.write_text(json.dumps(data))
    with qtbot.waitSignal(other.error_shown, timeout=5_000):
        other.sessions.restore(old)
    assert "number type 'int4' is not one of float32, bfloat16, float16" in other.banner.text()


def test_a_load_that_cannot_fit_is_refused_and_the_old_model_stays(make_window, tiny_gpt2_dir, tiny_llama_dir,
                                                                    qtbot):
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello there")
    before, panel = window.state.info, window.model_panel
    panel.advanced_button.click()
    assert panel.advanced.isVisibleTo(panel)
    panel.max_memory.setText("cpu=1KB")
    assert "a model bigger than the budget is refused" in panel.options_note.text()
    panel.add_source(str(tiny_llama_dir))
    panel.set_dtype("float16")
    with qtbot.waitSignal(window.error_shown, timeout=30_000) as shown:
        panel.load_button.click()
    message = shown.args[0]
    assert "does not fit in the memory budget you gave (cpu=1.0 KB)" in message and window.banner.text() == message
    assert window.state.info is before  # the old model stays, and keeps working
    assert panel.load_note.isVisibleTo(panel) and panel.load_note.text().startswith("Not loaded: ")
    assert f"Still using {before.name} (float32)." in panel.load_note.text()
    assert "memory budget and offload folder are under “Big models”" in panel.load_note.text()  # not CLI flags
    assert panel.source.currentData() == str(tiny_gpt2_dir) and panel.dtype.currentText() == "float32"
    with qtbot.waitSignal(window.state.trace_changed, timeout=30_000):
        window.generation_action(m.STEP)


def test_options_that_cannot_be_used_are_said_inline(make_window, tiny_gpt2_dir, tmp_path, qtbot):
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello there")
    panel = window.model_panel
    panel.max_memory.setText("cpu=lots")
    assert not panel.request_load(str(tiny_gpt2_dir))
    assert not window.traces.loading  # nothing was asked of the engine
    assert panel.advanced.isVisibleTo(panel)
    assert "'lots' is not a memory size" in panel.load_note.text()
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    panel.max_memory.setText("cpu=2GiB")
    panel.offload_folder.setText(str(not_a_folder))
    assert not panel.request_load(str(tiny_gpt2_dir)) and "is a file, not a folder" in panel.load_note.text()


def test_offloaded_model_shows_what_waits_on_disk(make_window, family_dir, tiny_gpt2_dir, tmp_path, qtbot):
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello there")
    panel = window.model_panel
    panel.max_memory.setText("cpu=300KB")
    panel.offload_folder.setText(str(tmp_path / "offload"))
    assert "waits on disk" in panel.options_note.text()
    with qtbot.waitSignal(window.state.trace_changed, timeout=60_000):
        panel.open_path(str(family_dir("llama")))
    info = window.state.info
    assert info.offloaded and "disk: " in panel.facts["Placement"].text()
    assert panel.facts["Placement"].text().splitlines()[0].startswith("cpu: embedding")
    assert "spread out by accelerate's device map" in panel.facts["Placement"].text()
    assert len(window.distribution_panel.bars.bar_values())


def test_open_model_takes_a_gguf_file_or_a_file_in_a_folder(make_window, tiny_gpt2_dir, tiny_llama_dir, tmp_path,
                                                            qtbot):
    assert model_spec_for(str(tiny_llama_dir / "config.json")) == str(tiny_llama_dir)
    assert model_spec_for(str(tiny_llama_dir)) == str(tiny_llama_dir)
    gguf = write_gguf(tiny_llama_dir, tmp_path / "tiny-llama.gguf")
    assert model_spec_for(str(gguf)) == str(gguf)
    window = make_window(model=str(tiny_gpt2_dir), prompt="Hello there")
    assert {"Open model…", "Open model folder…"} <= set(file_menu_texts(window))
    panel = window.model_panel
    with qtbot.waitSignal(window.state.trace_changed, timeout=60_000):
        assert panel.open_path(str(gguf))
    assert window.state.info.source == str(gguf) and panel.source.currentData() == str(gguf)
    assert panel.facts["Family"].text() == "Llama (llama)"
    with qtbot.waitSignal(window.state.trace_changed, timeout=60_000):
        panel.open_path(str(tiny_gpt2_dir / "config.json"))
    assert window.state.info.source == str(tiny_gpt2_dir)
