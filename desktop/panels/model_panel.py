"""Model picker: built-in, GPT-2 family, a local folder; and what the loaded model is."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.context import ViewContext
from model_core.types.model_info import BUILTIN, DEVICE_CHOICES, GPT2_FAMILY

OPEN_FOLDER = "__open_folder__"


class ModelPanel(QWidget):
    load_requested = Signal(str, str)  # spec, device

    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self.source = QComboBox()
        self.source.addItem("Built-in: SmolLM2-135M-Instruct (offline)", BUILTIN)
        for name in GPT2_FAMILY:
            self.source.addItem(f"{name} (Hugging Face cache or download)", name)
        self.source.addItem("Open folder…", OPEN_FOLDER)
        self.source.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source.setMinimumContentsLength(18)  # long folder paths do not widen the dock
        self.device = QComboBox()
        self.device.addItems(list(DEVICE_CHOICES))
        self.load_button = QPushButton("Load")
        self.facts: dict[str, QLabel] = {}
        form = QFormLayout()
        for key in ("Model", "Architecture", "Layers", "Heads", "Width", "Vocabulary", "Parameters", "Context",
                    "Device", "Licence"):
            label = QLabel("–")
            label.setWordWrap(True)
            self.facts[key] = label
            form.addRow(key, label)
        row = QHBoxLayout()
        row.addWidget(self.source, 1)
        row.addWidget(self.device)
        row.addWidget(self.load_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(row)
        layout.addLayout(form)
        layout.addStretch(1)
        self._added: set[str] = set()  # folders put in the list by this session (a failed one leaves it)
        self.load_button.clicked.connect(self._on_load)
        self.source.activated.connect(self._on_source)
        state.model_changed.connect(self._show_info)
        state.model_changed.connect(self._select_loaded)
        ctx.traces.load_failed.connect(self._on_load_failed)

    def _on_source(self, index: int) -> None:
        if self.source.itemData(index) == OPEN_FOLDER:
            self.open_folder()

    def open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a Hugging Face model folder")
        if folder:
            self.add_source(folder)
            self.load_requested.emit(folder, self.device.currentText())

    def add_source(self, spec: str) -> None:
        index = self.source.findData(spec)
        if index < 0:
            self.source.insertItem(self.source.count() - 1, spec, spec)
            self._added.add(spec)
            index = self.source.findData(spec)
        self.source.setCurrentIndex(index)

    def _select_loaded(self) -> None:
        """The list shows the model that is loaded, whatever was picked last."""
        info = self.state.info
        if info is not None:
            self.add_source(info.source)

    def _on_load_failed(self, spec: str, _message: str) -> None:
        """A folder that did not load leaves the list; the loaded model is selected again."""
        loaded = self.state.info.source if self.state.info is not None else BUILTIN
        if spec in self._added and spec != loaded:
            self._added.discard(spec)
            self.source.removeItem(self.source.findData(spec))
        self.source.setCurrentIndex(max(self.source.findData(loaded), 0))

    def _on_load(self) -> None:
        spec = self.source.currentData()
        if spec == OPEN_FOLDER:
            self.open_folder()
        else:
            self.load_requested.emit(spec, self.device.currentText())

    def _show_info(self) -> None:
        info = self.state.info
        kv = f" ({info.n_kv_heads} key/value heads)" if info.n_kv_heads != info.n_heads else ""
        values = {
            "Model": info.name,
            "Architecture": f"{info.architecture} ({info.model_type})",
            "Layers": str(info.n_layers),
            "Heads": f"{info.n_heads}{kv}, {info.d_head} wide",
            "Width": f"{info.d_model} (MLP {info.d_mlp})",
            "Vocabulary": f"{info.vocab_size:,} tokens",
            "Parameters": f"{info.n_params:,} ({info.n_params / 1e6:.0f}M)",
            "Context": f"{info.context_length:,} tokens",
            "Device": f"{info.device}, {info.dtype}",
            "Licence": info.licence,
        }
        for key, value in values.items():
            self.facts[key].setText(value)
