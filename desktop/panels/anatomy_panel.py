"""Anatomy: the loaded model as stacked boxes with real shapes and parameter counts, plus a
"build a model" calculator. Clicking a box emits `part_clicked(dock key)`; the window raises that dock.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
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
from viz.block_views import AnatomyDiagram, DiagramBox

# Which dock shows each part (keys of MainWindow.docks).
PART_DOCKS = {
    "embedding": "embeddings", "positions": "embeddings", "attention": "attention", "mlp": "mlp",
    "norm1": "mlp", "norm2": "mlp", "add": "mlp", "final_norm": "lens", "unembedding": "distribution",
}
_KINDS = {"embedding": "embed", "positions": "embed", "norm1": "norm", "norm2": "norm", "final_norm": "norm",
          "attention": "attention", "mlp": "mlp", "unembedding": "unembed", "other": "norm"}


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
        self.diagram.part_clicked.connect(lambda key: self.part_clicked.emit(PART_DOCKS.get(key, "model")))

        # Calculator.
        self.style_box = QComboBox()
        self.style_box.addItem("GPT-2: LayerNorm, learned positions", GPT2_STYLE)
        self.style_box.addItem("Llama: RMSNorm, RoPE, gated MLP", LLAMA_STYLE)
        self.style_box.setToolTip("GPT-2 style: LayerNorm, learned position embeddings, a 4·d MLP.\n"
                                  "Llama style: RMSNorm, rotary positions (RoPE), a gated MLP.")
        self.spins: dict[str, QSpinBox] = {}
        form = QFormLayout()
        form.addRow("Architecture", self.style_box)
        for key, label, lo, hi, value in (
            ("layers", "Layers", 1, 512, 12), ("width", "Width d", 8, 65536, 768), ("heads", "Heads", 1, 512, 12),
            ("kv_heads", "Key/value heads", 1, 512, 12), ("mlp", "MLP width", 8, 262144, 3072),
            ("vocab", "Vocabulary", 2, 1_000_000, 50257), ("context", "Context", 1, 1_048_576, 1024),
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
        self.tied_box.addItems(["tied (unembedding = embedding)", "separate unembedding"])
        form.addRow("Unembedding", self.tied_box)
        self.results: dict[str, QLabel] = {}
        for key in ("Parameters", "Memory fp32", "Memory fp16", "KV cache / token (fp16)", "Training compute"):
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
        calculator.setMaximumWidth(420)
        calculator_scroll = QScrollArea()  # a short dock scrolls the calculator instead of growing the window
        calculator_scroll.setWidgetResizable(True)
        calculator_scroll.setFrameShape(QFrame.Shape.NoFrame)
        calculator_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        calculator_scroll.setWidget(calculator)
        calculator_scroll.setMinimumWidth(calculator.minimumSizeHint().width() + 16)  # + a vertical scroll bar
        calculator_scroll.setMaximumWidth(440)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(calculator_scroll)
        splitter.setSizes([700, 380])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(splitter)

        state.model_changed.connect(self._on_model_changed)
        self._recalculate()

    # -- slots -----------------------------------------------------------------------------------

    def _on_model_changed(self) -> None:
        self.anatomy = None
        self._asker.ask(AnatomyRequest())
        info = self.state.info
        if info is None:
            return
        # Start the calculator from the loaded model's shape.
        style = LLAMA_STYLE if info.architecture.startswith("Llama") else GPT2_STYLE
        self.style_box.setCurrentIndex(self.style_box.findData(style))
        for key, value in (("layers", info.n_layers), ("width", info.d_model), ("heads", info.n_heads),
                           ("kv_heads", info.n_kv_heads), ("mlp", info.d_mlp), ("vocab", info.vocab_size),
                           ("context", info.context_length or 1024)):
            spin = self.spins[key]
            spin.blockSignals(True)
            spin.setValue(int(value))
            spin.blockSignals(False)
        self.tied_box.setCurrentIndex(0 if info.tied_embeddings else 1)
        self._recalculate()

    def _on_anatomy(self, anatomy) -> None:
        self.anatomy = anatomy
        self._redraw()
        self.anatomy_changed.emit()

    def _redraw(self) -> None:
        anatomy = self.anatomy
        if anatomy is None:
            return
        n = anatomy.n_layers

        def box(part) -> DiagramBox:
            count = (f"{human_count(part.params_each)} per block · × {n} = {human_count(part.params)}"
                     if part.copies > 1 else human_count(part.params) + " parameters")
            shape = part.shape_text()
            if len(shape) > 72:  # the full list is in the tooltip
                shape = shape[:70] + "…"
            detail = f"{count}\n{shape}" if part.params else part.note
            return DiagramBox(part.key, part.title, detail, _KINDS.get(part.key, "norm"), part.shape_text())

        parts = {p.key: p for p in anatomy.parts}
        before = [box(parts[k]) for k in ("embedding", "positions") if k in parts]
        block = []
        for key in ("norm1", "attention", "add", "norm2", "mlp", "add"):
            if key == "add":
                block.append(DiagramBox("add", "+ add to the residual stream", "", "add"))
            elif key in parts:
                block.append(box(parts[key]))
        after = [box(parts[k]) for k in ("final_norm", "unembedding", "other") if k in parts]
        per_block = sum(p.params_each for p in anatomy.parts if p.copies > 1)
        self.diagram.set_boxes(before, block, after,
                               f"× {n} blocks ({human_count(per_block)} parameters each)")
        tied = "tied to the embedding" if anatomy.tied else "not tied"
        self.summary.setText(f"{anatomy.model_name}: {anatomy.total:,} parameters "
                             f"({human_count(anatomy.total)}); unembedding {tied}")

    def _recalculate(self) -> None:
        v = {k: s.value() for k, s in self.spins.items()}
        style = self.style_box.currentData()
        self.spins["kv_heads"].setEnabled(style == LLAMA_STYLE)
        try:
            estimate = build_model(v["layers"], v["width"], v["heads"], v["vocab"], v["context"], style,
                                   d_mlp=v["mlp"], n_kv_heads=v["kv_heads"] if style == LLAMA_STYLE else None,
                                   tied=self.tied_box.currentIndex() == 0, training_tokens=v["tokens"] * 10**6)
        except ValueError as exc:
            for label in self.results.values():
                label.setText("–")
            self.calc_note.setText(str(exc))
            return
        self.results["Parameters"].setText(f"{estimate.params:,} ({human_count(estimate.params)})")
        self.results["Memory fp32"].setText(human_bytes(estimate.fp32_bytes))
        self.results["Memory fp16"].setText(human_bytes(estimate.fp16_bytes))
        self.results["KV cache / token (fp16)"].setText(
            f"{human_bytes(estimate.kv_bytes_per_token_fp16)} · full context "
            f"{human_bytes(estimate.kv_bytes_per_token_fp16 * v['context'])}")
        self.results["Training compute"].setText(f"≈ 6·N·D = {estimate.training_flops:.2e} FLOP")
        share = {k: val / estimate.params for k, val in estimate.breakdown.items() if val}
        biggest = max(share, key=share.get)
        self.calc_note.setText(f"Largest share: {biggest} ({share[biggest]:.0%}). Weights only: training also "
                               "needs gradients and optimiser state (about 4× more).")
