"""export_png / export_svg write real images for plots, layouts and plain widgets."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

from viz.attention_heatmap import AttentionHeatmap
from viz.export import export_png, export_svg
from viz.probability_bars import ProbabilityBars
from viz.token_chips import TokenChips

SVG_NS = "{http://www.w3.org/2000/svg}"


def make_heatmap(show) -> AttentionHeatmap:
    widget = AttentionHeatmap()
    widget.set_data(np.tril(np.full((4, 4), 0.25)), ["a", "b", "c", "d"])
    widget.set_title("export me")
    return show(widget, (500, 400))


def test_png_of_graphics_layout_is_valid(show, tmp_path: Path) -> None:
    path = export_png(make_heatmap(show), tmp_path / "heatmap.png")
    image = QImage(str(path))
    assert not image.isNull()
    assert (image.width(), image.height()) == (500, 400)


def test_png_width_scales(show, tmp_path: Path) -> None:
    bars = ProbabilityBars()
    bars.set_data(["x", "y"], np.array([0.7, 0.3]), np.array([True, True]))
    show(bars, (400, 300))
    image = QImage(str(export_png(bars, tmp_path / "bars.png", width=800)))
    assert image.width() == 800
    assert abs(image.height() / image.width() - 300 / 400) < 0.05


def test_png_of_plain_widget(show, tmp_path: Path) -> None:
    chips = TokenChips()
    chips.set_tokens(["a", "b"], [1, 2])
    show(chips, (300, 120))
    image = QImage(str(export_png(chips, tmp_path / "chips.png")))
    assert (image.width(), image.height()) == (300, 120)
    assert QImage(str(export_png(chips, tmp_path / "chips2.png", width=150))).width() == 150


def test_svg_of_graphics_layout_is_valid_xml_with_content(show, tmp_path: Path) -> None:
    path = export_svg(make_heatmap(show), tmp_path / "heatmap.svg")
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NS}svg"
    assert len(list(root.iter())) > 5
    assert any(el.tag == f"{SVG_NS}image" for el in root.iter())  # the heatmap pixels


def test_svg_of_plot_widget_and_plain_widget(show, tmp_path: Path) -> None:
    bars = ProbabilityBars()
    bars.set_data(["x", "y"], np.array([0.7, 0.3]), np.array([True, False]))
    show(bars, (400, 300))
    root = ET.parse(export_svg(bars, tmp_path / "bars.svg")).getroot()
    assert root.tag == f"{SVG_NS}svg"
    chips = TokenChips()
    chips.set_tokens(["a", "b"], [1, 2])
    show(chips, (300, 120))
    root = ET.parse(export_svg(chips, tmp_path / "chips.svg")).getroot()
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("width") is not None
