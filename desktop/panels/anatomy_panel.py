"""Anatomy: the loaded model as stacked boxes with real shapes and parameter counts, plus a
"build a model" calculator. Clicking a box emits `part_clicked(dock key)`; the window raises that dock.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QLabel,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.core.context import ViewContext
from desktop.core.requests.block_views import AnatomyRequest
from desktop.panels.style import emphasise
from model_core.analysis.model_sizes import GPT2_STYLE, LLAMA_STYLE, build_model, human_bytes, human_count
from model_core.types.model_info import PARALLEL, POST_LN, SEQUENTIAL
from viz.block_views import AnatomyDiagram, DiagramBox

# Which dock shows each part (keys of MainWindow.docks); a mixture of experts opens the Experts panel.
PART_DOCKS = {
    "embedding": "embeddings", "positions": "embeddings", "embedding_norm": "embeddings", "projections": "lens",
    "attention": "attention", "attn_post_norm": "attention", "mlp": "mlp", "mlp_post_norm": "mlp",
    "norm1": "mlp", "norm2": "mlp", "add": "mlp", "final_norm": "lens", "unembedding": "distribution",
}
_KINDS = {"embedding": "embed", "positions": "embed", "embedding_norm": "norm", "projections": "embed",
          "norm1": "norm", "norm2": "norm", "attn_post_norm": "norm", "mlp_post_norm": "norm",
          "final_norm": "norm", "attention": "attention", "mlp": "mlp", "unembedding": "unembed", "other": "norm"}
_BEFORE = ("embedding", "positions", "embedding_norm", "projections")  # below the blocks, in the order drawn
_AFTER = ("final_norm", "unembedding", "other")
_ADD = DiagramBox("add", "+ add to the residual stream", "", "add")
_ADD_BOTH = DiagramBox("add", "+ add attention's and the MLP's outputs to the residual stream", "", "add")


def block_order(layout: str, keys: set[str]) -> list[str]:
    """The block's boxes from its input up ("add" where an update joins the residual stream), by
    how the block is wired: sequential (pre-norm, optional post-norms), parallel (attention and the
    MLP read the same input, one add) or post-LN (the norms follow each add: OPT-350m)."""
    if layout == PARALLEL:
        order = ["norm1", "attention", "attn_post_norm", "norm2", "mlp", "mlp_post_norm", "add_both"]
    elif layout == POST_LN:
        order = ["attention", "add", "norm1", "mlp", "add", "norm2"]
    else:
        order = ["norm1", "attention", "attn_post_norm", "add", "norm2", "mlp", "mlp_post_norm", "add"]
    return [k for k in order if k in ("add", "add_both") or k in keys]


# The calculator's parts (`BuildEstimate.breakdown`) as its note names them.
PART_NAMES = {"embedding": "the token embedding", "positions": "the position embedding",
              "norm1": "the norms before attention", "attention": "attention", "norm2": "the norms before the MLP",
              "mlp": "the MLPs", "final_norm": "the final norm", "unembedding": "the unembedding"}


class AnatomyPanel(QWidget):
    part_clicked = Signal(str)  # a dock key from PART_DOCKS
    anatomy_changed = Signal()  # the loaded model's anatomy arrived and is drawn

    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self._asker = ctx.asker(self._on_anatomy)
        self.anatomy = None  # model_core.engine.probes.anatomy.Anatomy of the loaded model, once answered
        self.summary = QLabel("Load a model to see its parts.")
        self.summary.setWordWrap(True)
        emphasise(self.summary)
        self.diagram = AnatomyDiagram()
        self.diagram.part_clicked.connect(self._on_part_clicked)

        # Calculator.
        self.style_box = QComboBox()
        # Names short enough for the narrow calculator; the tooltip says what each style means.
        self.style_box.addItem("GPT-2 style", GPT2_STYLE)
        self.style_box.addItem("Llama style", LLAMA_STYLE)
        self.style_box.setToolTip("GPT-2 style: LayerNorm, learned position embeddings, a 4·d MLP.\n"
                                  "Llama style: RMSNorm, rotary positions (RoPE), a gated MLP.")
        self.spins: dict[str, QSpinBox] = {}
        form = QFormLayout()
        form.addRow("Architecture", self.style_box)
        for key, label, lo, hi, value in (
            ("layers", "Layers", 1, 512, 12), ("width", "Width d", 8, 65536, 768), ("heads", "Heads", 1, 512, 12),
            ("kv_heads", "Key/value heads", 1, 512, 12), ("mlp", "MLP width", 8, 262144, 3072),
            ("vocab", "Vocabulary", 2, 1_000_000, 50257), ("context", "Context", 1, 1_048_576, 1024),
            ("experts", "Experts (0 = dense MLP)", 0, 1024, 0), ("experts_per_token", "Experts per token", 1, 1024, 2),
            ("tokens", "Training tokens (millions)", 0, 100_000_000, 10_000),
        ):
            spin = QSpinBox()
            spin.setRange(lo, hi)
            spin.setValue(value)
            spin.setGroupSeparatorShown(True)
            spin.valueChanged.connect(self._recalculate)
            self.spins[key] = spin
            form.addRow(label, spin)
        self.tied_box = QComboBox()
        self.tied_box.addItems(["tied to the embedding", "a separate matrix"])
        self.tied_box.setToolTip("Tied: the unembedding reuses the embedding matrix (no extra parameters).\n"
                                 "Separate: a vocabulary × width matrix of its own.")
        form.addRow("Unembedding", self.tied_box)
        self.results: dict[str, QLabel] = {}
        for key in ("Parameters", "Active per token", "Memory fp32", "Memory fp16", "KV cache / token (fp16)",
                    "Training compute"):
            label = QLabel("–")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.results[key] = label
            form.addRow(key, label)
        self.calc_note = QLabel()
        self.calc_note.setWordWrap(True)
        form.addRow(self.calc_note)
        calculator = QGroupBox("Build a model")
        calculator.setLayout(form)
        self.style_box.currentIndexChanged.connect(self._recalculate)
        self.tied_box.currentIndexChanged.connect(self._recalculate)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.summary)
        left_layout.addWidget(self.diagram, 1)
        left_layout.addWidget(emphasise(QLabel("Click a box to open the view that shows it."), bold=False, muted=True))
        for box in (self.style_box, self.tied_box):  # their long names do not widen the calculator
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(16)
        self.calculator = calculator
        # A short dock scrolls the calculator instead of growing the window; a narrow one scrolls it
        # sideways rather than cutting its fields off (it did, in presentation mode's larger font).
        self.calculator_scroll = calculator_scroll = QScrollArea()
        calculator_scroll.setWidgetResizable(True)
        calculator_scroll.setFrameShape(QFrame.Shape.NoFrame)
        calculator_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        calculator_scroll.setWidget(calculator)  # its width is fitted by `_recalculate`, below
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(calculator_scroll)
        splitter.setStretchFactor(0, 3)  # the diagram takes what the calculator does not need
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([700, 380])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(splitter)

        state.model_changed.connect(self._on_model_changed)
        self._recalculate()

    def _fit_calculator(self) -> None:
        """The calculator's column as wide as its form needs at the current font (a vertical scroll bar
        included), and no wider: the diagram takes the rest."""
        scroll_bar = self.calculator_scroll.verticalScrollBar().sizeHint().width()
        self.calculator_scroll.setMinimumWidth(min(self.calculator.minimumSizeHint().width() + scroll_bar, 520))
        self.calculator_scroll.setMaximumWidth(self.calculator.sizeHint().width() + scroll_bar + 4)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange and hasattr(self, "calculator_scroll"):
            QTimer.singleShot(0, self, self._fit_calculator)  # once the form has the new font too

    # -- slots -----------------------------------------------------------------------------------

    def _on_model_changed(self) -> None:
        self.anatomy = None
        self._asker.ask(AnatomyRequest())
        info = self.state.info
        if info is None:
            return
        # Start the calculator from the loaded model's shape (its style comes with the anatomy).
        for key, value in (("layers", info.n_layers), ("width", info.d_model), ("heads", info.n_heads),
                           ("kv_heads", info.n_kv_heads), ("mlp", info.d_mlp), ("vocab", info.vocab_size),
                           ("context", info.context_length or 1024), ("experts", info.n_experts),
                           ("experts_per_token", info.experts_per_token or 2)):
            spin = self.spins[key]
            spin.blockSignals(True)
            spin.setValue(int(value))
            spin.blockSignals(False)
        self.tied_box.setCurrentIndex(0 if info.tied_embeddings else 1)
        self._recalculate()

    def _on_anatomy(self, anatomy) -> None:
        self.anatomy = anatomy
        # The calculator's style is the loaded model's: RMSNorm-and-gated (Llama) or LayerNorm (GPT-2).
        self.style_box.blockSignals(True)
        self.style_box.setCurrentIndex(max(self.style_box.findData(anatomy.style), 0))
        self.style_box.blockSignals(False)
        self._recalculate()
        self._redraw()
        self.anatomy_changed.emit()

    def _on_part_clicked(self, key: str) -> None:
        anatomy = self.anatomy
        if key == "mlp" and anatomy is not None and anatomy.n_experts:
            self.part_clicked.emit("experts")
        else:
            self.part_clicked.emit(PART_DOCKS.get(key, "model"))

    def _redraw(self) -> None:
        anatomy = self.anatomy
        if anatomy is None:
            return
        n = anatomy.n_layers
        info = self.state.info
        layout = info.block_layout if info is not None else SEQUENTIAL

        def box(part) -> DiagramBox:
            if part.copies > 1:
                count = f"{human_count(part.params_each)} per block · × {n} = {human_count(part.params)}"
            elif part.key in _BEFORE or part.key in _AFTER:
                count = human_count(part.params) + " parameters"
            else:  # blocks of different sizes: one total for all of them
                count = f"{human_count(part.params)} over all {n} blocks"
            if part.active != part.params:
                count += f" · {human_count(part.active)} used per token"
            shape = part.shape_text()
            if len(shape) > 72:  # the full list is in the tooltip
                shape = shape[:70] + "…"
            lines = [count, shape] if part.params else [part.note]
            if part.params and part.key == "mlp" and anatomy.n_experts:
                lines.append(self._experts_line(anatomy))
            shared = info.shared_experts if info is not None and part.key == "mlp" else 0
            return DiagramBox(part.key, part.title, "\n".join(line for line in lines if line),
                              _KINDS.get(part.key, "norm"), part.shape_text() + (f"\n{part.note}" if part.note else ""),
                              experts=anatomy.n_experts if part.key == "mlp" else 0, shared_experts=shared)

        parts = {p.key: p for p in anatomy.parts}
        before = [box(parts[k]) for k in _BEFORE if k in parts]
        block = [_ADD if k == "add" else _ADD_BOTH if k == "add_both" else box(parts[k])
                 for k in block_order(layout, set(parts))]
        after = [box(parts[k]) for k in _AFTER if k in parts]
        in_blocks = [p for p in anatomy.parts if p.key not in _BEFORE and p.key not in _AFTER]
        wiring = {PARALLEL: " · attention and the MLP read the same input",
                  POST_LN: " · norms after each add (post-LN)"}.get(layout, "")
        if all(p.copies > 1 for p in in_blocks):
            size = f"{human_count(sum(p.params_each for p in in_blocks))} parameters each"
        else:  # blocks of different sizes (dense and MoE blocks mixed)
            size = f"{human_count(sum(p.params for p in in_blocks))} parameters in all"
        repeat = f"× {n} blocks ({size}){wiring}"
        self.diagram.set_boxes(before, block, after, repeat)
        tied = "tied to the embedding" if anatomy.tied else "not tied"
        text = f"{anatomy.model_name}: {anatomy.total:,} parameters ({human_count(anatomy.total)}); unembedding {tied}"
        if anatomy.n_experts:
            text += (f". A token uses {anatomy.active:,} of them ({human_count(anatomy.active)}, "
                     f"{anatomy.active / max(anatomy.total, 1):.0%}): the router picks {anatomy.experts_per_token} "
                     f"of {anatomy.n_experts} experts in each mixture-of-experts layer")
        self.summary.setText(text)

    def _experts_line(self, anatomy) -> str:
        info = self.state.info
        dense = [i for i in range(anatomy.n_layers) if info is not None and info.moe_layers
                 and i not in info.moe_layers]
        line = f"router → {anatomy.experts_per_token} of {anatomy.n_experts} experts per token"
        if info is not None and info.shared_experts:
            line += f" + {info.shared_experts} shared (outlined)"
        if dense:
            line += f"; dense MLP in block{'s' if len(dense) > 1 else ''} {', '.join(map(str, dense))}"
        return line

    def _recalculate(self) -> None:
        v = {k: s.value() for k, s in self.spins.items()}
        style = self.style_box.currentData()
        self.spins["kv_heads"].setEnabled(style == LLAMA_STYLE)
        self.spins["experts_per_token"].setEnabled(v["experts"] > 0)
        try:
            estimate = build_model(v["layers"], v["width"], v["heads"], v["vocab"], v["context"], style,
                                   d_mlp=v["mlp"], n_kv_heads=v["kv_heads"] if style == LLAMA_STYLE else None,
                                   tied=self.tied_box.currentIndex() == 0, training_tokens=v["tokens"] * 10**6,
                                   n_experts=v["experts"], experts_per_token=v["experts_per_token"])
        except ValueError as exc:
            for label in self.results.values():
                label.setText("–")
            self.calc_note.setText(str(exc))
            return
        self.results["Parameters"].setText(f"{estimate.params:,} ({human_count(estimate.params)})")
        self.results["Active per token"].setText(
            f"{estimate.active_params:,} ({estimate.active_share:.0%})" if v["experts"] else "all of them (dense)")
        self.results["Memory fp32"].setText(human_bytes(estimate.fp32_bytes))
        self.results["Memory fp16"].setText(human_bytes(estimate.fp16_bytes))
        self.results["KV cache / token (fp16)"].setText(
            f"{human_bytes(estimate.kv_bytes_per_token_fp16)} · full context "
            f"{human_bytes(estimate.kv_bytes_per_token_fp16 * v['context'])}")
        n_used = "N (active)" if v["experts"] else "N"
        self.results["Training compute"].setText(f"≈ 6·{n_used}·D = {estimate.training_flops:.2e} FLOP")
        share = {k: val / estimate.params for k, val in estimate.breakdown.items() if val}
        biggest = max(share, key=share.get)
        self.calc_note.setText(f"Largest share: {PART_NAMES.get(biggest, biggest)} ({share[biggest]:.0%}). "
                               "Weights only: training also "
                               "needs gradients and optimiser state (about 4× more).")
        self._fit_calculator()  # the results' text sets the form's width
