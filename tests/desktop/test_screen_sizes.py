"""The window on real screen sizes (1366×768 and 1920×1080), in the normal layout, in presentation
mode and after leaving it: it never exceeds the screen, Generation and Lesson are on it, no tab is
squeezed to "M…", the heatmap names every row when there is room, bars and chips are visible.

Qt's offscreen screen size is fixed per process, so each size runs `tests/desktop/screen_probe.py`
in a subprocess (the built-in model, a fresh settings file: a first start).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from viz.attention_heatmap import LABEL_SPACING

pytestmark = pytest.mark.builtin

ROOT = Path(__file__).resolve().parents[2]
SIZES = {"1366x768": ["--lesson"], "1920x1080": []}  # the small screen also opens a lesson


@pytest.fixture(scope="module")
def probes(tmp_path_factory) -> dict[str, dict]:
    """Every size's probe, run at the same time (each is a process of its own and waits mostly on
    its own imports and model), as {size: report}. Their output goes to files: a pipe nobody reads
    while the other probe is waited for could fill and stop it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    folder = tmp_path_factory.mktemp("screen-probes")
    running = {}
    for size, options in SIZES.items():
        with open(folder / f"{size}.out", "w") as out, open(folder / f"{size}.err", "w") as err:
            running[size] = subprocess.Popen([sys.executable, "-m", "tests.desktop.screen_probe", size, *options],
                                             cwd=ROOT, env=env, stdout=out, stderr=err)
    reports = {}
    try:
        for size, process in running.items():
            process.wait(timeout=600)
            stdout, stderr = ((folder / f"{size}.{kind}").read_text("utf-8") for kind in ("out", "err"))
            lines = [line for line in stdout.splitlines() if line.startswith("PROBE ")]
            assert process.returncode == 0 and lines, stdout[-2000:] + stderr[-4000:]
            reports[size] = json.loads(lines[-1][len("PROBE "):]) | {"size": size}
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
    return reports


@pytest.fixture(params=list(SIZES))
def probe(request, probes) -> dict:
    return probes[request.param]


def inside(frame: list[int], area: list[int]) -> bool:
    x, y, w, h = frame
    ax, ay, aw, ah = area
    return x >= ax and y >= ay and x + w <= ax + aw and y + h <= ay + ah


def heatmap_names_every_row_when_there_is_room(m: dict) -> bool:
    heat = m["heatmap"]
    room = heat["plot_height"] >= heat["rows"] * heat["line"] * LABEL_SPACING
    return heat["labelled"] == heat["rows"] if room else heat["labelled"] >= 1


@pytest.mark.parametrize("phase", ["normal", "after"])
def test_the_window_fits_the_screen_with_generation_and_lesson_on_it(probe, phase):
    m = probe[phase]
    assert inside(m["frame"], m["available"]), (probe["size"], phase, m["frame"], m["available"])
    assert {"prompt", "attention", "distribution", "generation", "lesson"} <= set(m["docks"])
    width, height = m["frame"][2], m["frame"][3]
    for key, (x, y, w, h) in m["docks"].items():  # every panel on screen ends inside the window
        assert x + w <= width and y + h <= height, (key, m["docks"][key])
        assert h >= 60, (key, h)  # and is more than a title bar
    assert m["squeezed_tabs"] == []
    assert heatmap_names_every_row_when_there_is_room(m)
    assert m["bars"]["rows"] >= 5
    assert m["chips"]["viewport"] >= m["chips"]["chip"]  # a whole row of chips, ids included
    if probe["size"] == "1920x1080":
        assert m["heatmap"]["labelled"] == m["heatmap"]["rows"]
        assert m["trajectory_plot"][1] >= 200  # the trajectories are more than a strip


def test_after_presentation_the_layout_is_the_one_before(probe):
    assert set(probe["after"]["docks"]) == set(probe["normal"]["docks"])


def test_presentation_is_a_layout_of_few_large_panels(probe):
    m = probe["presentation"]
    assert m["full_screen"] and m["frame"][2:] == m["screen"][2:]
    expected = {"prompt", "attention", "distribution", "generation"}
    if "--lesson" in SIZES[probe["size"]]:
        expected.add("lesson")
        assert m["lesson_lines"] >= 2
    assert set(m["docks"]) == expected
    assert m["squeezed_tabs"] == []
    attention = m["docks"]["attention"]
    assert attention[2] >= 0.5 * m["screen"][2] and attention[3] >= 0.5 * m["screen"][3]
    assert m["heatmap"]["labelled"] == m["heatmap"]["rows"] == 12  # every token named
    assert m["bars"]["rows"] >= 5
    assert m["chips"]["viewport"] >= m["chips"]["chip"]
    assert m["generation_lines"] >= 2


def test_every_main_view_gets_the_main_place(probe):
    for key, view in probe["views"].items():
        expected = {"prompt", key, "distribution", "generation"}
        if "--lesson" in SIZES[probe["size"]]:
            expected.add("lesson")
        assert set(view["docks"]) == expected, key
        assert view["squeezed_tabs"] == [], key
    assert probe["views"]["trajectories"]["slider"]["width"] >= 150  # not shrunk to its handle
    assert probe["views"]["lens"]["lens_rows"] >= 8  # 1366×768 with a lesson under it: the fewest


def test_the_logit_lens_shows_most_layers_in_the_normal_layout(probe):
    rows = probe["normal_views"]["lens_rows"]
    assert rows >= (20 if probe["size"] == "1920x1080" else 8)  # of 31 (embeddings + 30 layers)
    assert probe["normal_views"]["squeezed_tabs"] == []
