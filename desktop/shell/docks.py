"""Which panels the window has, where each dock goes, and their default sizes.

A new panel is one line in `PANELS` (and, to sit behind another panel, its key in a tab group).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

from desktop.features.presentation import SHORT_SCREEN
from desktop.panels.anatomy_panel import AnatomyPanel
from desktop.panels.attention_panel import AttentionPanel
from desktop.panels.attribution_panel import AttributionPanel
from desktop.panels.compare_panel import ComparePanel
from desktop.panels.distribution_panel import DistributionPanel
from desktop.panels.embeddings_panel import EmbeddingsPanel
from desktop.panels.experts_panel import ExpertsPanel
from desktop.panels.generation_panel import GenerationPanel
from desktop.panels.heads_panel import HeadsPanel
from desktop.panels.kv_cache_panel import KvCachePanel
from desktop.panels.lens_panel import LensPanel
from desktop.panels.mlp_panel import MlpPanel
from desktop.panels.model_panel import ModelPanel
from desktop.panels.prompt_panel import PromptPanel
from desktop.panels.qkv_panel import QKVPanel
from desktop.panels.tokenizer_panel import TokenizerPanel
from desktop.panels.trajectory_panel import TrajectoryPanel

Area = Qt.DockWidgetArea
PROMPT_SHARE, CHAT_PROMPT_SHARE = 0.16, 0.28  # of the window's height: the prompt row (text mode, chat mode)


@dataclass(frozen=True)
class PanelSpec:
    key: str  # the dock's id: objectName "dock-<key>", saved layouts and lessons refer to it
    title: str  # "&&" shows a literal "&"
    panel: type[QWidget]  # built with the window's ViewContext
    area: Qt.DockWidgetArea


PANELS: tuple[PanelSpec, ...] = (
    PanelSpec("prompt", "Prompt && tokens", PromptPanel, Area.TopDockWidgetArea),
    PanelSpec("generation", "Generation", GenerationPanel, Area.BottomDockWidgetArea),
    PanelSpec("attention", "Attention", AttentionPanel, Area.LeftDockWidgetArea),
    PanelSpec("trajectories", "Token trajectories", TrajectoryPanel, Area.RightDockWidgetArea),
    PanelSpec("distribution", "Next-token distribution", DistributionPanel, Area.RightDockWidgetArea),
    PanelSpec("model", "Model", ModelPanel, Area.RightDockWidgetArea),
    # Deeper views: tabbed behind the main panels so the default layout stays tidy (the prompt
    # stays on its own: a tab behind it would hide the editor).
    PanelSpec("lens", "Logit lens", LensPanel, Area.LeftDockWidgetArea),
    PanelSpec("qkv", "Q/K/V", QKVPanel, Area.LeftDockWidgetArea),
    PanelSpec("heads", "All heads", HeadsPanel, Area.LeftDockWidgetArea),
    PanelSpec("tokenizers", "Tokenizers && BPE", TokenizerPanel, Area.LeftDockWidgetArea),
    # Inside the block: MLP, experts and anatomy behind attention, embeddings and the KV cache behind the model.
    PanelSpec("mlp", "MLP && neurons", MlpPanel, Area.LeftDockWidgetArea),
    PanelSpec("experts", "Experts", ExpertsPanel, Area.LeftDockWidgetArea),
    PanelSpec("anatomy", "Anatomy", AnatomyPanel, Area.LeftDockWidgetArea),
    PanelSpec("embeddings", "Embeddings", EmbeddingsPanel, Area.RightDockWidgetArea),
    PanelSpec("kv_cache", "KV cache", KvCachePanel, Area.RightDockWidgetArea),
    # Why this token (attribution), behind attention.
    PanelSpec("attribution", "Why this token", AttributionPanel, Area.LeftDockWidgetArea),
    PanelSpec("compare", "Side by side", ComparePanel, Area.LeftDockWidgetArea),
)

# Docks that share a place as tabs, in tab order; the first of each group is in front.
TAB_GROUPS: tuple[tuple[str, ...], ...] = (
    ("distribution", "model", "embeddings", "kv_cache"),
    # The tall column: the lens beside the distribution, with room for every layer's row; the BPE
    # tab here no longer hides the prompt editor.
    ("attention", "lens", "heads", "qkv", "mlp", "experts", "anatomy", "tokenizers", "attribution",
     "compare"),
)


def set_corners(window: QMainWindow) -> None:
    """The prompt spans the top and the generation row the bottom, across the side areas."""
    for corner, where in ((Qt.Corner.TopLeftCorner, Area.TopDockWidgetArea),
                          (Qt.Corner.TopRightCorner, Area.TopDockWidgetArea),
                          (Qt.Corner.BottomLeftCorner, Area.BottomDockWidgetArea),
                          (Qt.Corner.BottomRightCorner, Area.BottomDockWidgetArea)):
        window.setCorner(corner, where)


def place(window: QMainWindow, docks: dict[str, QDockWidget], key: str) -> None:
    """Put the dock just added where it belongs: trajectories above the distribution (tabbed with it
    on short screens), and each dock of a tab group behind the one before it. Done as each dock is
    added, so Qt splits the areas the same way whatever the number of panels."""
    if key == "distribution" and "trajectories" in docks:
        trajectories, distribution = docks["trajectories"], docks["distribution"]
        if window.screen().availableGeometry().height() < SHORT_SCREEN:
            window.tabifyDockWidget(trajectories, distribution)
        else:
            window.splitDockWidget(trajectories, distribution, Qt.Orientation.Vertical)
    for group in TAB_GROUPS:
        if key in group[1:]:
            before = [k for k in group[: group.index(key)] if k in docks]
            if before:
                window.tabifyDockWidget(docks[before[-1]], docks[key])


def raise_fronts(docks: dict[str, QDockWidget]) -> None:
    """The first dock of each tab group in front."""
    for group in TAB_GROUPS:
        if group[0] in docks:
            docks[group[0]].raise_()


def apply_default_sizes(window: QMainWindow, docks: dict[str, QDockWidget]) -> None:
    """Dock sizes only take once the window has its real size, so this runs on first show."""
    height, width = window.height(), window.width()
    chat = getattr(docks["prompt"].widget(), "mode", "text") == "chat"
    prompt = CHAT_PROMPT_SHARE if chat else PROMPT_SHARE
    window.resizeDocks([docks["prompt"], docks["generation"]], [int(height * prompt), int(height * 0.13)],
                       Qt.Orientation.Vertical)
    window.resizeDocks([docks["attention"], docks["trajectories"]], [width // 2, width // 2],
                       Qt.Orientation.Horizontal)
    if not window.tabifiedDockWidgets(docks["trajectories"]):
        middle = int(height * 0.6)
        window.resizeDocks([docks["trajectories"], docks["distribution"]], [middle // 2, middle // 2],
                           Qt.Orientation.Vertical)
