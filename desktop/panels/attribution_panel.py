"""Why this token: which earlier tokens push one next token's logit up or down.

Pick the token to explain from this panel's bars (the top prediction is the default) or type any
token of the vocabulary; pick a method — gradient × input, integrated gradients (with its steps,
baseline and completeness error), attention rollout or attention flow — and the prompt's chips are
tinted by score (red raises the logit, blue lowers it; hover for the raw score), with the scores per
layer beneath where the method has them. With *Follow generation* on, each generation step explains
the token it just added (the context is every token before it). The work runs on the model thread,
with progress and Cancel; the scores export as CSV or .npz, the panel as an image like every other.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.core.context import ViewContext
from desktop.core.requests.attribution import AttributionRequest, AttributionResult
from desktop.panels.style import emphasise
from model_core.errors import LogitscopeError
from model_core.types.attribution import (
    FLOW,
    GRAD_X_INPUT,
    INTEGRATED_GRADIENTS,
    MAX_STEPS,
    METHOD_TITLES,
    METHODS,
    ROLLOUT,
    Attribution,
)
from model_core.types.attribution_files import save_attribution
from viz.attribution_views import AttributionChips, LayerScoreMap
from viz.probability_bars import ProbabilityBars

N_BARS = 10
SCORE_NAMES = {
    GRAD_X_INPUT: "gradient × input",
    INTEGRATED_GRADIENTS: "integrated gradients",
    ROLLOUT: "attention rollout",
    FLOW: "attention flow",
}
PER_LAYER_TITLES = {
    GRAD_X_INPUT: "Gradient × activation of the residual stream after each block (layer 0: the input embeddings)",
    ROLLOUT: "Rollout through the first l blocks: how much of the last position's state came from each token",
}
NO_LAYERS = {
    INTEGRATED_GRADIENTS: "Integrated gradients has no per-layer view: its path runs through the input embeddings only.",
    FLOW: "Attention flow is computed through every layer at once (a max-flow per token): no per-layer rows.",
}


def vocabulary_label(text: str) -> str:
    """What a typed token looks like as a chip label: leading spaces as '␣'."""
    stripped = text.lstrip(" ")
    return "␣" * (len(text) - len(stripped)) + stripped


class AttributionPanel(QWidget):
    attribution_changed = Signal()  # a new result is drawn (`result`)

    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self._client = ctx.client
        self._asker = ctx.asker(self._on_result, self._on_failed, self._on_done)
        self.result: Attribution | None = None
        self.result_labels: list[str] = []
        self._chosen: int | None = None  # a target picked by the user (None: the top prediction)
        self._asked: tuple | None = None
        self._label_ids: dict[str, int] = {}
        self._running = False

        self.method = QComboBox()
        for m in METHODS:
            self.method.addItem(METHOD_TITLES[m], m)
        self.steps = QSpinBox()
        self.steps.setRange(1, MAX_STEPS)
        self.steps.setValue(32)
        self.steps.setPrefix("steps ")
        self.baseline = QComboBox()
        self.baseline.addItem("pad baseline, first token kept", "pad-keep-first")
        self.baseline.setItemData(0, "The first token is the attention sink most heads rest on: keeping it makes "
                                     "the path smooth, so the completeness error falls with the steps. Its own "
                                     "score is then 0.", Qt.ItemDataRole.ToolTipRole)
        self.baseline.addItem("pad-token baseline", "pad")
        self.baseline.addItem("zero baseline", "zero")
        self.compute_button = QPushButton("Compute")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.follow = QCheckBox("Follow generation")
        self.follow.setChecked(True)
        self.follow.setToolTip("After each generation step, explain the token it just added")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        self.export_button = QPushButton("Export scores…")
        self.export_button.setEnabled(False)
        controls = QHBoxLayout()
        for w in (self.method, self.steps, self.baseline, self.compute_button, self.cancel_button, self.follow):
            controls.addWidget(w)
        controls.addWidget(self.progress, 1)
        controls.addWidget(self.export_button)

        self.vocab = QLineEdit()
        self.vocab.setPlaceholderText("any token, e.g. ' Paris' (Enter)")
        self.vocab.setClearButtonEnabled(True)
        self.top_button = QPushButton("Top prediction")
        picker = QHBoxLayout()
        picker.addWidget(QLabel("Explain:"))
        picker.addWidget(self.vocab, 1)
        picker.addWidget(self.top_button)
        self.bars = ProbabilityBars()
        self.bars.setMinimumHeight(140)
        self.bars.setToolTip("Click a bar to explain that token")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(picker)
        left_layout.addWidget(self.bars, 1)

        self.summary = QLabel("Trace a prompt, then pick a token to explain.")
        self.summary.setWordWrap(True)
        emphasise(self.summary)
        self.completeness = QLabel()
        self.completeness.setWordWrap(True)
        self.chips = AttributionChips()
        self.chips.setMinimumHeight(90)
        self.layers = LayerScoreMap()
        right = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.summary)
        top_layout.addWidget(self.completeness)
        top_layout.addWidget(self.chips, 1)
        right.addWidget(top)
        right.addWidget(self.layers)
        right.setSizes([220, 380])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([300, 700])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(controls)
        layout.addWidget(split, 1)

        self.method.currentIndexChanged.connect(self._on_method)
        self.compute_button.clicked.connect(self.compute)
        self.cancel_button.clicked.connect(self._client.cancel)
        self.export_button.clicked.connect(self._export_dialog)
        self.bars.bar_clicked.connect(self._on_bar)
        self.vocab.returnPressed.connect(lambda: self.pick_text(self.vocab.text()))
        self.top_button.clicked.connect(lambda: self.pick(None))
        self.chips.chip_clicked.connect(lambda i: state.select(position=i))
        self.layers.cell_clicked.connect(lambda layer, pos: state.select(position=pos))
        self._client.progress.connect(self._on_progress)
        state.model_changed.connect(self._on_model)
        self.gate = ctx.gate(self._redraw, self._key)
        self.set_shown = self.gate.set_shown
        for changed in (state.trace_changed, state.settings_changed):
            changed.connect(self.gate.request)
        self._on_method()

    # -- what to explain -------------------------------------------------------------------------

    def _on_model(self) -> None:
        self._label_ids = {}
        for i, label in enumerate(self.state.vocab_labels):
            self._label_ids.setdefault(label, i)
        self._chosen = None
        self.result = None
        self.chips.clear()
        self.layers.set_message("")

    @property
    def method_name(self) -> str:
        return self.method.currentData()

    def set_method(self, method: str) -> None:
        self.method.setCurrentIndex(METHODS.index(method))

    def _on_method(self) -> None:
        ig = self.method_name == INTEGRATED_GRADIENTS
        self.steps.setVisible(ig)
        self.baseline.setVisible(ig)
        self.gate.request()

    def _top_ids(self) -> np.ndarray:
        trace = self.state.trace
        return np.argsort(-trace.next_logits, kind="stable")[:N_BARS] if trace is not None else np.zeros(0, int)

    def _on_bar(self, row: int) -> None:
        top = self._top_ids()
        if 0 <= row < len(top):
            self.pick(int(top[row]))

    def pick(self, token_id: int | None) -> None:
        """Explain `token_id` as the next token (None: the model's top prediction) and compute."""
        self._chosen = token_id
        self.compute()

    def pick_text(self, text: str) -> bool:
        """Explain the vocabulary token whose text is `text` (' Paris'); False, said in the panel, if none."""
        if not text:
            return False
        token_id = self._label_ids.get(vocabulary_label(text), self._label_ids.get(text))
        if token_id is None:
            self.summary.setText(f"{text!r} is not one token of this model's vocabulary (a leading space often "
                                 "matters: ' Paris' and 'Paris' are different tokens).")
            return False
        self.pick(token_id)
        return True

    def target(self) -> tuple[int, int, str] | None:
        """(number of context tokens, target id, why): what the next computation explains."""
        result, trace = self.state.result, self.state.trace
        if trace is None:
            return None
        generated = result.n_new > 0 and result.action not in ("trace", "replay")
        if self.follow.isChecked() and generated and self._chosen is None and trace.n_tokens > 1:
            return trace.n_tokens - 1, int(trace.tokens.ids[-1]), "the token this step generated"
        if self._chosen is not None:
            return trace.n_tokens, self._chosen, "the token you picked"
        return trace.n_tokens, int(np.argmax(trace.next_logits)), "the top prediction"

    # -- asking ----------------------------------------------------------------------------------

    def _request(self) -> AttributionRequest | None:
        target = self.target()
        if target is None or self.state.stale_reason:
            return None
        n, token_id, _why = target
        return AttributionRequest(self.state.trace_id, n, token_id, self.method_name, self.steps.value(),
                                  self.baseline.currentData())

    def compute(self) -> None:
        request = self._request()
        if request is None:
            return
        key = (request.trace_id, request.n_context, request.target_id, request.method, request.steps,
               request.baseline)
        self._asked = key
        self._running = True
        self.compute_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.summary.setText(f"Computing {METHOD_TITLES[request.method].lower()} for "
                             f"{self.state.label(request.target_id)!r}…")
        self._asker.ask(request)

    def _on_progress(self, message: str, fraction: float) -> None:
        if self._running:
            self.progress.setFormat(message + " %p%")
            self.progress.setValue(int(max(fraction, 0.0) * 100))

    def _finish(self) -> None:
        self._running = False
        self.compute_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)

    def _on_failed(self, message: str, cancelled: bool) -> None:
        self._finish()
        self._asked = None if cancelled else self._asked
        self.summary.setText("Cancelled: press Compute to start again." if cancelled else message)

    def _on_done(self) -> None:
        self._finish()

    def _on_result(self, answer: AttributionResult) -> None:
        if answer.trace_id != self.state.trace_id:
            return
        self._finish()
        self.result = answer.attribution
        trace = self.state.trace
        self.result_labels = list(trace.tokens.labels[: answer.n_context])
        self._draw_result(answer.n_context)
        self.export_button.setEnabled(True)
        self.attribution_changed.emit()

    # -- drawing ---------------------------------------------------------------------------------

    def _key(self) -> tuple | None:
        result = self.state.result
        if result is None:
            return None
        return (result.trace_id, self.method_name, self._chosen, self.follow.isChecked(), self.state.settings)

    def _redraw(self) -> None:
        trace = self.state.trace
        if trace is None:
            return
        top = self._top_ids()
        probs = np.exp(trace.next_logits[top] - trace.next_logits.max())
        probs = probs / np.exp(trace.next_logits - trace.next_logits.max()).sum()
        self.bars.set_data([self.state.label(int(i)) for i in top], probs, np.ones(len(top), bool),
                           trace.next_logits[top])
        request = self._request()
        if request is None:
            return
        key = (request.trace_id, request.n_context, request.target_id, request.method, request.steps,
               request.baseline)
        # The quick methods follow every change by themselves; the slow ones (integrated gradients,
        # flow) follow generation steps when Follow generation is on, and otherwise wait for Compute.
        stepped = request.n_context < self.state.trace.n_tokens
        if key != self._asked and (request.method in (GRAD_X_INPUT, ROLLOUT) or stepped):
            self.compute()

    def _draw_result(self, n_context: int) -> None:
        r = self.result
        what = SCORE_NAMES[r.method]
        after = self.result_labels[-1] if self.result_labels else ""
        self.summary.setText(
            f"{METHOD_TITLES[r.method]} for {r.target_label!r} after {after!r} (position {n_context - 1}): "
            f"its logit is {r.target_logit:.3f}."
            + (" Attention-based: the same whichever token is explained." if r.method in (ROLLOUT, FLOW) else ""))
        if r.method == INTEGRATED_GRADIENTS:
            gap = r.target_logit - r.baseline_logit
            self.completeness.setText(
                f"Completeness: the scores add up to {float(r.scores.sum()):.4f}; logit − baseline logit = "
                f"{r.target_logit:.4f} − {r.baseline_logit:.4f} = {gap:.4f}. Error {r.completeness_error:+.4g} "
                f"({r.relative_completeness_error:.1%}) with {r.steps} steps from the {r.baseline} baseline"
                + (" — more steps bring it down where the path is smooth." if r.relative_completeness_error > 0.05
                   else "."))
        elif r.method == GRAD_X_INPUT:
            self.completeness.setText("A first-order estimate: scores need not add up to the logit.")
        else:
            self.completeness.setText("Scores are shares of the last position's mixed state: they add up to 1.")
        self.chips.set_scores(self.result_labels, r.scores, what, r.target_label)
        if r.per_layer.shape[0]:
            self.layers.set_data(r.per_layer, self.result_labels, PER_LAYER_TITLES[r.method])
        else:
            self.layers.set_message(NO_LAYERS[r.method])

    # -- export ----------------------------------------------------------------------------------

    def export_scores(self, path: str) -> bool:
        """The scores as CSV or .npz (by the suffix); a failure is said in the panel."""
        if self.result is None:
            self.summary.setText("There are no scores to export yet.")
            return False
        try:
            save_attribution(path, self.result, self.result_labels)
        except (LogitscopeError, OSError) as exc:
            self.summary.setText(f"Could not export the scores: {exc}")
            return False
        self.completeness.setText(f"Exported the scores to {path}.")
        return True

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export attribution scores", "attribution.csv",
                                              "CSV (*.csv);;NumPy arrays (*.npz)")
        if path:
            self.export_scores(path)
