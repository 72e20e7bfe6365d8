"""Break it and watch: the interventions in effect (each switchable on its own, Reset model), attention
temperature, ablation and steering controls, the ablation scan and activation patching.

Every change goes through the `InterventionsController`, whose answer is the trace run again under
the new list, so the heatmap, the bars and every other panel show the intervened model. The scan and
patching run on the model thread with progress here and a Cancel button.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.core.context import ViewContext
from desktop.core.interventions_controller import InterventionsController
from desktop.core.requests import interventions as iv
from model_core.types.interventions import (
    ABLATION_KINDS,
    ABLATION_MODES,
    HEAD,
    Ablation,
    AttentionTemperature,
)
from viz.effect_grid import EffectGrid

TEMPERATURE_RANGE = (0.1, 10.0)  # the slider runs on log(T) over this range; 1.0 sits in the middle
SLIDER_STEPS = 200


def slider_to_temperature(value: int) -> float:
    lo, hi = (math.log(x) for x in TEMPERATURE_RANGE)
    return round(math.exp(lo + (hi - lo) * value / SLIDER_STEPS), 2)


def temperature_to_slider(temperature: float) -> int:
    lo, hi = (math.log(x) for x in TEMPERATURE_RANGE)
    t = min(max(temperature, TEMPERATURE_RANGE[0]), TEMPERATURE_RANGE[1])
    return round((math.log(t) - lo) / (hi - lo) * SLIDER_STEPS)


# A layer × head or layer × position grid needs a row of pixels per layer and room for its axis
# labels: in a short dock the page scrolls instead of squeezing 30 layers into a few pixels.
GRID_MIN_HEIGHT = 320
LIST_ROWS = 4  # rows of the list of interventions in effect before it scrolls


def _scrolling(page: QWidget) -> QScrollArea:
    """The page in a scroll area: the dock never forces the window past a small screen."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setWidget(page)
    return area


def _table_item(value: object) -> QTableWidgetItem:
    item = QTableWidgetItem()
    item.setData(Qt.ItemDataRole.DisplayRole, value)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


class InterventionsPanel(QWidget):
    def __init__(self, ctx: ViewContext, controller: InterventionsController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.state, self.controller = ctx, ctx.state, controller
        self.tabs = QTabWidget()
        self.tabs.addTab(_scrolling(self._build_effect()), "In effect")
        self.tabs.addTab(_scrolling(self._build_scan()), "Ablation scan")
        self.tabs.addTab(_scrolling(self._build_patching()), "Patching")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tabs)
        self._scan_asker = ctx.asker(self._on_scan, self._on_long_failed, self._on_long_done)
        self._patch_asker = ctx.asker(self._on_patch, self._on_long_failed, self._on_long_done)
        self._steer_asker = ctx.asker(self._on_steering, self._on_long_failed)
        self.scan_result: iv.ScanResult | None = None
        self.patch_result: iv.PatchResult | None = None
        controller.changed.connect(self._show_list)
        controller.failed.connect(self._say)
        ctx.state.model_changed.connect(self._on_model)
        ctx.client.progress.connect(self._on_progress)
        self._show_list()
        self._on_model()

    # -- building --------------------------------------------------------------------------------

    def _build_effect(self) -> QWidget:
        page = QWidget()
        self.list = QListWidget()
        self.list.setToolTip("Every intervention in effect; untick one to switch it off on its own")
        self.list.itemChanged.connect(self._on_item_changed)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected intervention")
        self.remove_button.clicked.connect(self._on_remove)
        self.list.currentRowChanged.connect(lambda row: self.remove_button.setEnabled(row >= 0))
        self._fit_list()
        self.reset_button = QPushButton("Reset model")
        self.reset_button.setToolTip("Remove every intervention: the numbers are the trained model's again")
        self.reset_button.clicked.connect(self.controller.reset)
        self.message = QLabel()
        self.message.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.remove_button)
        row.addStretch(1)
        row.addWidget(self.reset_button)

        temperature = QGroupBox("Attention temperature")
        self.temperature_slider = QSlider(Qt.Orientation.Horizontal)
        self.temperature_slider.setRange(0, SLIDER_STEPS)
        self.temperature_slider.setValue(temperature_to_slider(1.0))
        self.temperature_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.temperature_slider.setTickInterval(SLIDER_STEPS // 2)  # the middle tick is 1.0: the trained model
        self.temperature_spin = QDoubleSpinBox(minimum=0.05, maximum=50.0, singleStep=0.1, value=1.0, decimals=2)
        self.temperature_layer = QComboBox()
        self.temperature_apply = QPushButton("Apply")
        self.temperature_note = QLabel("1.0 (the middle tick) is the model as trained; above 1 flattens attention, "
                                       "below 1 sharpens it. Scores q·k/√d are divided by T before the softmax.")
        self.temperature_note.setWordWrap(True)
        self.temperature_slider.valueChanged.connect(
            lambda v: self.temperature_spin.setValue(slider_to_temperature(v)))
        self.temperature_slider.sliderReleased.connect(self._apply_temperature)
        self.temperature_apply.clicked.connect(self._apply_temperature)
        t_row = QHBoxLayout()
        t_row.addWidget(QLabel("0.1"))
        t_row.addWidget(self.temperature_slider, 1)
        t_row.addWidget(QLabel("10"))
        t_row.addWidget(self.temperature_spin)
        t_row.addWidget(self.temperature_layer)
        t_row.addWidget(self.temperature_apply)
        t_layout = QVBoxLayout(temperature)
        t_layout.addLayout(t_row)
        t_layout.addWidget(self.temperature_note)

        ablate = QGroupBox("Ablate")
        self.ablate_kind = QComboBox()
        self.ablate_kind.addItems(ABLATION_KINDS)
        self.ablate_layer = QSpinBox(minimum=0, maximum=0)
        self.ablate_head = QSpinBox(minimum=0, maximum=0)
        self.ablate_mode = QComboBox()
        self.ablate_mode.addItems(ABLATION_MODES)
        self.ablate_mode.setToolTip("zero: remove it; mean: replace it by its mean over the prompt's positions")
        self.ablate_button = QPushButton("Ablate")
        self.ablate_button.clicked.connect(self._on_ablate)
        self.ablate_kind.currentTextChanged.connect(lambda kind: self.ablate_head.setEnabled(kind == HEAD))
        a_row = QHBoxLayout(ablate)
        for label, widget in (("", self.ablate_kind), ("layer", self.ablate_layer), ("head", self.ablate_head),
                              ("", self.ablate_mode)):
            if label:
                a_row.addWidget(QLabel(label))
            a_row.addWidget(widget)
        a_row.addWidget(self.ablate_button)
        a_row.addStretch(1)

        steer = QGroupBox("Steer")
        self.steer_towards = QLineEdit(" Love")
        self.steer_away = QLineEdit(" Hate")
        self.steer_layer = QSpinBox(minimum=0, maximum=0)
        self.steer_strength = QDoubleSpinBox(minimum=-50.0, maximum=50.0, singleStep=0.5, value=4.0)
        self.steer_slider = QSlider(Qt.Orientation.Horizontal)
        self.steer_slider.setRange(-200, 200)
        self.steer_slider.setValue(40)
        self.steer_slider.valueChanged.connect(lambda v: self.steer_strength.setValue(v / 10))
        self.steer_button = QPushButton("Steer")
        self.steer_button.setToolTip("Add strength × (stream of 'towards' − stream of 'away') at this layer, "
                                     "at every position; Step and Run then generate under it")
        self.steer_button.clicked.connect(self._on_steer)
        s_form = QFormLayout(steer)
        pair = QHBoxLayout()
        pair.addWidget(self.steer_towards)
        pair.addWidget(QLabel("minus"))
        pair.addWidget(self.steer_away)
        s_form.addRow("Towards", pair)
        s_row = QHBoxLayout()
        s_row.addWidget(QLabel("layer"))
        s_row.addWidget(self.steer_layer)
        s_row.addWidget(self.steer_slider, 1)
        s_row.addWidget(self.steer_strength)
        s_row.addWidget(self.steer_button)
        s_form.addRow("Strength", s_row)

        layout = QVBoxLayout(page)
        layout.addWidget(QLabel("In effect (untick to switch one off):"))
        layout.addWidget(self.list)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(temperature)
        layout.addWidget(ablate)
        layout.addWidget(steer)
        layout.addStretch(1)
        return page

    def _fit_list(self) -> None:
        """A few rows high: taller, the list (empty at first) pushed the controls that add to it out of a
        short dock's view, and the line under it past the bottom."""
        row = self.list.fontMetrics().height() + 6
        self.list.setMaximumHeight(LIST_ROWS * row + 2 * self.list.frameWidth())

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange and hasattr(self, "list"):  # presentation mode: rows grow
            self._fit_list()

    def _build_scan(self) -> QWidget:
        page = QWidget()
        self.scan_mode = QComboBox()
        self.scan_mode.addItems(ABLATION_MODES)
        self.scan_button = QPushButton("Scan every head, attention and MLP")
        self.scan_button.clicked.connect(self.start_scan)
        self.scan_cancel = QPushButton("Cancel")
        self.scan_cancel.clicked.connect(self.ctx.client.cancel)
        self.scan_progress = QProgressBar()
        self.scan_progress.setRange(0, 100)
        self.scan_note = QLabel("How much the top prediction's probability drops when each part is ablated alone.")
        self.scan_note.setWordWrap(True)
        self.scan_heads = EffectGrid()
        self.scan_heads.cell_clicked.connect(lambda layer, head: self.state.select(layer=layer, head=head))
        self.scan_layers = EffectGrid(highlight=3)
        self.scan_layers.cell_clicked.connect(lambda _row, layer: self.state.select(layer=layer))
        self.scan_table = QTableWidget(0, 5)
        self.scan_table.setHorizontalHeaderLabels(["part", "layer", "head", "probability", "drop"])
        self.scan_table.setSortingEnabled(True)
        self.scan_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.scan_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.scan_table.cellDoubleClicked.connect(self._ablate_table_row)
        self.scan_table.setToolTip("Click a header to sort; double-click a row to ablate that part")
        self.ablate_top = QPushButton("Ablate the top 5 heads")
        self.ablate_top.clicked.connect(self._ablate_top_heads)
        self._set_scan_running(False)
        top = QHBoxLayout()
        top.addWidget(self.scan_mode)
        top.addWidget(self.scan_button)
        top.addWidget(self.scan_cancel)
        top.addWidget(self.scan_progress, 1)
        top.addWidget(self.ablate_top)
        grids = QSplitter(Qt.Orientation.Horizontal)
        grids.setMinimumHeight(GRID_MIN_HEIGHT)
        grids.addWidget(self.scan_heads)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.scan_layers)
        right.addWidget(self.scan_table)
        grids.addWidget(right)
        layout = QVBoxLayout(page)
        layout.addLayout(top)
        layout.addWidget(self.scan_note)
        layout.addWidget(grids, 1)
        return page

    def _build_patching(self) -> QWidget:
        page = QWidget()
        self.clean_edit = QLineEdit("The capital of France is")
        self.corrupt_edit = QLineEdit("The capital of Italy is")
        self.patch_button = QPushButton("Patch clean → corrupted")
        self.patch_button.clicked.connect(self.start_patching)
        self.patch_cancel = QPushButton("Cancel")
        self.patch_cancel.clicked.connect(self.ctx.client.cancel)
        self.patch_progress = QProgressBar()
        self.patch_progress.setRange(0, 100)
        self.patch_note = QLabel("Copy one state of the clean run into the corrupted run: how much of the clean "
                                 "answer comes back? The prompts need the same number of tokens.")
        self.patch_note.setWordWrap(True)
        self.patch_residual = EffectGrid(highlight=0)
        self.patch_residual.cell_clicked.connect(self._on_patch_cell)
        self.patch_heads = EffectGrid()
        self.patch_heads.cell_clicked.connect(lambda layer, head: self.state.select(layer=layer, head=head))
        form = QFormLayout()
        form.addRow("Clean", self.clean_edit)
        form.addRow("Corrupted", self.corrupt_edit)
        row = QHBoxLayout()
        row.addWidget(self.patch_button)
        row.addWidget(self.patch_cancel)
        row.addWidget(self.patch_progress, 1)
        grids = QSplitter(Qt.Orientation.Horizontal)
        grids.addWidget(self.patch_residual)
        grids.addWidget(self.patch_heads)
        grids.setMinimumHeight(GRID_MIN_HEIGHT)
        layout = QVBoxLayout(page)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.patch_note)
        layout.addWidget(grids, 1)
        self._set_patch_running(False)
        return page

    # -- the list --------------------------------------------------------------------------------

    def _show_list(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for item in self.controller.interventions:
            row = QListWidgetItem(item.label())
            row.setFlags(row.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            row.setCheckState(Qt.CheckState.Checked if item.enabled else Qt.CheckState.Unchecked)
            self.list.addItem(row)
        self.list.blockSignals(False)
        n = len(self.controller.active)
        self.reset_button.setEnabled(len(self.controller.interventions) > 0)
        self.remove_button.setEnabled(self.list.currentRow() >= 0)
        self.message.setText("The model as trained: nothing in effect." if not self.controller.interventions.items
                             else f"{n} of {len(self.controller.interventions)} in effect: every panel shows the "
                                  "changed model.")

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        self.controller.toggle(self.list.row(item), item.checkState() == Qt.CheckState.Checked)

    def _on_remove(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.controller.remove(row)

    def _say(self, message: str) -> None:
        self.message.setText(message)

    # -- controls --------------------------------------------------------------------------------

    def _on_model(self) -> None:
        info = self.state.info
        layers = info.n_layers if info else 1
        heads = info.n_heads if info else 1
        for spin in (self.ablate_layer, self.steer_layer):
            spin.setMaximum(layers - 1)
        self.steer_layer.setValue(layers // 3)
        self.ablate_head.setMaximum(heads - 1)
        self.temperature_layer.clear()
        self.temperature_layer.addItem("all layers", None)
        for layer in range(layers):
            self.temperature_layer.addItem(f"layer {layer}", layer)
        self.scan_result = self.patch_result = None

    def _apply_temperature(self) -> None:
        temperature = float(self.temperature_spin.value())
        layer = self.temperature_layer.currentData()
        current = self.controller.interventions
        if math.isclose(temperature, 1.0):  # the trained model: drop that temperature
            kept = [i for i, item in enumerate(current) if isinstance(item, AttentionTemperature) and item.layer == layer]
            if kept:
                self.controller.remove(kept[0])
            return
        self.controller.add(AttentionTemperature(temperature, layer))

    def _on_ablate(self) -> None:
        kind = self.ablate_kind.currentText()
        head = self.ablate_head.value() if kind == HEAD else None
        self.controller.add(Ablation(kind, self.ablate_layer.value(), head, self.ablate_mode.currentText()))

    def _on_steer(self) -> None:
        if self.state.info is None:
            return
        towards, away = self.steer_towards.text(), self.steer_away.text()
        if not towards or not away:
            self._say("Steering needs two prompts: the direction is the difference of their residual streams.")
            return
        self._steer_asker.ask(iv.SteeringRequest(towards, away, self.steer_layer.value(), self.steer_strength.value()))

    def _on_steering(self, steering) -> None:
        self.controller.add(steering)

    # -- the scan --------------------------------------------------------------------------------

    def start_scan(self) -> bool:
        if self.state.result is None:
            self.scan_note.setText("Trace a prompt first: the scan ablates the model on it.")
            return False
        self._set_scan_running(True)
        self._scan_asker.ask(iv.ScanRequest(self.state.trace_id, None, self.scan_mode.currentText()))
        return True

    def _set_scan_running(self, running: bool) -> None:
        self.scan_button.setEnabled(not running)
        self.scan_cancel.setEnabled(running)
        self.scan_progress.setVisible(running)

    def _on_scan(self, result: iv.ScanResult) -> None:
        self.scan_result = result
        label = self.state.label(result.target_id)
        info = self.state.info
        n_layers = result.heads.shape[0]
        self.scan_heads.set_data(result.head_drop, [str(i) for i in range(n_layers)],
                                 [str(h) for h in range(result.heads.shape[1])],
                                 title=f"drop in '{label}' per ablated head", row_axis="layer", col_axis="head")
        strips = np.stack([result.base_prob - result.attention, result.base_prob - result.mlp])
        self.scan_layers.set_data(strips, ["attention", "MLP"], [str(i) for i in range(n_layers)],
                                  title="per layer", col_axis="layer")
        table = self.scan_table
        table.setSortingEnabled(False)
        rows = [("head", layer, head, float(result.heads[layer, head]))
                for layer in range(n_layers) for head in range(result.heads.shape[1])]
        rows += [(kind, layer, -1, float(values[layer])) for kind, values in (("attention", result.attention),
                                                                             ("mlp", result.mlp))
                 for layer in range(n_layers) if np.isfinite(values[layer])]
        table.setRowCount(len(rows))
        for r, (kind, layer, head, prob) in enumerate(rows):
            for c, value in enumerate((kind, layer, head if head >= 0 else "", round(prob, 4),
                                       round(result.base_prob - prob, 4))):
                table.setItem(r, c, _table_item(value))
        table.setSortingEnabled(True)
        table.sortByColumn(4, Qt.SortOrder.DescendingOrder)
        tops = ", ".join(f"{layer}.{head} −{drop * 100:.1f} pts" for layer, head, drop in self.top_heads(3))
        model = info.name if info else ""
        self.scan_note.setText(f"'{label}' is {result.base_prob * 100:.1f}% ({model}, {result.mode} ablation). "
                               f"Biggest drops: {tops}. Click a cell to open that head; double-click a table row "
                               "to ablate it.")

    def top_heads(self, n: int = 5) -> list[tuple[int, int, float]]:
        if self.scan_result is None:
            return []
        drop = self.scan_result.head_drop
        order = np.argsort(drop, axis=None)[::-1][:n]
        return [(int(i // drop.shape[1]), int(i % drop.shape[1]), float(drop.flat[i])) for i in order]

    def _ablate_top_heads(self) -> None:
        if self.scan_result is None:
            self.scan_note.setText("Run the scan first: it finds the heads that matter most.")
            return
        interventions = self.controller.interventions
        for layer, head, _drop in self.top_heads(5):
            interventions = interventions.with_item(Ablation(HEAD, layer, head, self.scan_result.mode))
        self.controller.set_all(interventions)

    def _ablate_table_row(self, row: int, _column: int) -> None:
        kind = self.scan_table.item(row, 0).text()
        layer = int(self.scan_table.item(row, 1).text())
        head_text = self.scan_table.item(row, 2).text()
        mode = self.scan_result.mode if self.scan_result else "zero"
        self.controller.add(Ablation(kind, layer, int(head_text) if head_text else None, mode))

    # -- patching --------------------------------------------------------------------------------

    def start_patching(self) -> bool:
        if self.state.info is None:
            return False
        clean, corrupt = self.clean_edit.text(), self.corrupt_edit.text()
        if not clean.strip() or not corrupt.strip():
            self.patch_note.setText("Patching needs a clean and a corrupted prompt.")
            return False
        self._set_patch_running(True)
        self._patch_asker.ask(iv.PatchRequest(clean, corrupt))
        return True

    def _set_patch_running(self, running: bool) -> None:
        self.patch_button.setEnabled(not running)
        self.patch_cancel.setEnabled(running)
        self.patch_progress.setVisible(running)

    def _on_patch(self, result: iv.PatchResult) -> None:
        self.patch_result = result
        n_layers = result.heads_restored.shape[0]
        answer = self.state.label(result.answer_id)
        rows = [f"{r}" for r in range(n_layers)] + [f"out {n_layers - 1}"]
        labels = [c if i not in result.differ_at else f"{c}→{k}" for i, (c, k) in
                  enumerate(zip(result.clean_labels, result.corrupt_labels, strict=True))]
        self.patch_residual.set_data(result.residual_restored, rows, labels, scale=1.0,
                                     title=f"'{answer}' restored (residual)", row_axis="entering layer",
                                     col_axis="position")
        self.patch_heads.set_data(result.heads_restored, [str(i) for i in range(n_layers)],
                                  [str(h) for h in range(result.heads_restored.shape[1])], scale=1.0,
                                  title="by head output", row_axis="layer", col_axis="head")
        self.patch_note.setText(f"{result.message} '{answer}': {result.clean_prob * 100:.1f}% clean, "
                                f"{result.corrupt_prob * 100:.2f}% corrupted; 1 = the clean answer fully back. "
                                "Click a cell to open that layer and position.")

    def _on_patch_cell(self, row: int, col: int) -> None:
        info = self.state.info
        if info is not None:
            self.state.select(position=col, layer=min(row, info.n_layers - 1))

    # -- long work -------------------------------------------------------------------------------

    def _on_progress(self, message: str, fraction: float) -> None:
        for asker, bar in ((self._scan_asker, self.scan_progress), (self._patch_asker, self.patch_progress)):
            if asker.pending and fraction >= 0:
                bar.setValue(int(fraction * 100))
                bar.setFormat(message)

    def _on_long_failed(self, message: str, cancelled: bool) -> None:
        text = "Cancelled: nothing was changed." if cancelled else message
        if self.tabs.currentIndex() == 2:
            self.patch_note.setText(text)
        elif self.tabs.currentIndex() == 1:
            self.scan_note.setText(text)
        else:
            self._say(text)

    def _on_long_done(self) -> None:
        self._set_scan_running(self._scan_asker.pending)
        self._set_patch_running(self._patch_asker.pending)
