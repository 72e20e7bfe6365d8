"""Model picker: built-in, GPT-2 family, a local folder or GGUF file, in the number type the user picks
(and, for a model bigger than the machine, a memory budget and an offload folder); and what the loaded
model is: its family, shape, experts, where each part lives and the memory it takes."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.context import ViewContext
from desktop.core.requests.tracing import LoadOptions
from desktop.panels.style import emphasise
from model_core.analysis.model_sizes import human_count
from model_core.types.memory_sizes import parse_max_memory
from model_core.types.model_info import (
    BUILTIN,
    DEVICE_CHOICES,
    DTYPE_CHOICES,
    GPT2_FAMILY,
    PARALLEL,
    POST_LN,
    ModelInfo,
    size_text,
)

OPEN_FOLDER = "__open_folder__"
OPEN_FILE = "__open_file__"
MODEL_FILE_FILTER = ("Models (*.gguf config.json *.safetensors *.safetensors.index.json);;GGUF files (*.gguf);;"
                     "All files (*)")
# The facts in two columns: the model's shape, then what it costs and where it lives.
FACT_COLUMNS = (("Model", "Family", "Layers", "Heads", "Width", "Vocabulary", "Context", "Blocks", "Licence"),
                ("Parameters", "Experts", "Device", "Placement", "Memory", "Notes"))
FACTS = FACT_COLUMNS[0] + FACT_COLUMNS[1]
_DTYPE_TIPS = {
    "float32": "32-bit floats: what every panel is checked against (the most memory)",
    "bfloat16": "16-bit brain floats: half the memory; probabilities move slightly",
    "float16": "16-bit floats: half the memory; probabilities move slightly",
}


def model_spec_for(path: str) -> str:
    """What to load for a file picked in the open dialog: a .gguf file itself, otherwise (config.json,
    a safetensors shard or its index) the folder it lies in."""
    picked = Path(path)
    return str(picked) if picked.suffix.lower() == ".gguf" or picked.is_dir() else str(picked.parent)


def _layers_text(layers: tuple[int, ...], n_layers: int) -> str:
    if len(layers) == n_layers:
        return "every layer"
    return "layers " + ", ".join(str(i) for i in layers)


class ModelPanel(QWidget):
    load_requested = Signal(str, str, object)  # spec, device, tracing.LoadOptions

    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self.source = QComboBox()
        self.source.addItem("Built-in: SmolLM2-135M-Instruct (offline)", BUILTIN)
        for name in GPT2_FAMILY:
            self.source.addItem(f"{name} (Hugging Face cache or download)", name)
        self.source.addItem("Open model folder…", OPEN_FOLDER)
        self.source.addItem("Open model file (.gguf)…", OPEN_FILE)
        self.source.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source.setMinimumContentsLength(18)  # long folder paths do not widen the dock
        self.device = QComboBox()
        self.device.addItems(list(DEVICE_CHOICES))
        self.device.setToolTip("Where the model runs (auto: CUDA, then Apple MPS, then the CPU)")
        self.dtype = QComboBox()
        for name in DTYPE_CHOICES:
            self.dtype.addItem(name, name)
            self.dtype.setItemData(self.dtype.count() - 1, _DTYPE_TIPS[name], Qt.ItemDataRole.ToolTipRole)
        self.dtype.setToolTip("The number type of the weights (float32: what the panels are checked against; "
                              "bfloat16 / float16: half the memory)")
        self.load_button = QPushButton("Load")

        # Big models: an optional memory budget and an offload folder, behind a disclosure button.
        self.advanced_button = QToolButton()
        self.advanced_button.setText("Big models: memory budget, offload folder")
        self.advanced_button.setCheckable(True)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_button.setArrowType(Qt.ArrowType.RightArrow)
        self.max_memory = QLineEdit()
        self.max_memory.setPlaceholderText("e.g. cpu=2GiB or 0=10GiB,cpu=30GiB (empty: no budget)")
        self.max_memory.setToolTip("The most memory each device may hold for the weights; what does not fit waits "
                                   "in the offload folder (or the load is refused)")
        self.offload_folder = QLineEdit()
        self.offload_folder.setPlaceholderText("a folder for the weights that do not fit (empty: none)")
        self.browse_offload = QPushButton("Choose…")
        self.options_note = QLabel()
        self.options_note.setWordWrap(True)
        self.advanced = QWidget()
        advanced_form = QFormLayout(self.advanced)
        advanced_form.setContentsMargins(16, 0, 0, 0)
        advanced_form.addRow("Memory budget", self.max_memory)
        offload_row = QHBoxLayout()
        offload_row.addWidget(self.offload_folder, 1)
        offload_row.addWidget(self.browse_offload)
        advanced_form.addRow("Offload folder", offload_row)
        advanced_form.addRow(self.options_note)
        self.advanced.setVisible(False)

        self.load_note = QLabel()  # why the last load did not happen (the banner says it too)
        self.load_note.setWordWrap(True)
        self.load_note.setVisible(False)
        emphasise(self.load_note)
        self.facts: dict[str, QLabel] = {}
        facts = QWidget()
        columns = QHBoxLayout(facts)
        columns.setContentsMargins(0, 0, 0, 0)
        for keys in FACT_COLUMNS:
            form = QFormLayout()
            form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
            for key in keys:
                label = QLabel("–")
                label.setWordWrap(True)
                label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
                self.facts[key] = label
                form.addRow(key, label)
            columns.addLayout(form, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(facts)
        row = QHBoxLayout()
        row.addWidget(self.source, 1)
        row.addWidget(self.device)
        row.addWidget(self.dtype)
        row.addWidget(self.load_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(row)
        layout.addWidget(self.advanced_button)
        layout.addWidget(self.advanced)
        layout.addWidget(self.load_note)
        layout.addWidget(scroll, 1)
        self._added: set[str] = set()  # folders put in the list by this session (a failed one leaves it)
        self.load_button.clicked.connect(self._on_load)
        self.source.activated.connect(self._on_source)
        self.advanced_button.toggled.connect(self._show_advanced)
        self.browse_offload.clicked.connect(self._choose_offload_folder)
        self.max_memory.textChanged.connect(lambda _text: self._check_options())
        self.offload_folder.textChanged.connect(lambda _text: self._check_options())
        state.model_changed.connect(self._show_info)
        ctx.traces.load_failed.connect(self._on_load_failed)

    # -- the choice --------------------------------------------------------------------------------

    def load_options(self) -> LoadOptions:
        """The number type, memory budget and offload folder as chosen now."""
        return LoadOptions(self.dtype.currentData() or "float32", self.max_memory.text().strip(),
                           self.offload_folder.text().strip())

    def set_dtype(self, dtype: str) -> None:
        index = self.dtype.findData(dtype)
        if index >= 0:
            self.dtype.setCurrentIndex(index)

    def options_problem(self) -> str:
        """Why the big-model options cannot be used as typed ('' when they can)."""
        try:
            parse_max_memory(self.max_memory.text().strip())
        except ValueError as exc:
            return str(exc)
        folder = self.offload_folder.text().strip()
        if folder and Path(folder).expanduser().exists() and not Path(folder).expanduser().is_dir():
            return f"The offload folder {folder} is a file, not a folder."
        return ""

    def _check_options(self) -> bool:
        problem = self.options_problem()
        options = self.load_options()
        if problem:
            self.options_note.setText(problem)
        elif options.big_model:
            self.options_note.setText("Loaded through accelerate's device map: "
                                      + ("what does not fit the budget waits on disk and is read in as its layer "
                                         "runs (slow, but a big model opens)." if options.offload_folder else
                                         "a model bigger than the budget is refused; give an offload folder to "
                                         "let the rest wait on disk."))
        else:
            self.options_note.setText("Empty: the whole model goes to the chosen device.")
        return not problem

    def _show_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self._check_options()

    def _choose_offload_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder for the weights that do not fit in memory")
        if folder:
            self.offload_folder.setText(folder)

    def _on_source(self, index: int) -> None:
        data = self.source.itemData(index)
        if data == OPEN_FOLDER:
            self.open_folder()
        elif data == OPEN_FILE:
            self.open_file()

    def open_folder(self) -> None:
        """File ▸ Open model folder…: a Hugging Face model folder (safetensors, sharded or not, or one GGUF)."""
        folder = QFileDialog.getExistingDirectory(self, "Open a Hugging Face model folder")
        if folder:
            self.open_path(folder)
        else:
            self._show_loaded_source()

    def open_file(self) -> None:
        """File ▸ Open model…: a .gguf file, or a model folder's config.json or weights."""
        path, _ = QFileDialog.getOpenFileName(self, "Open a model: a GGUF file, or a folder's config.json", "",
                                              MODEL_FILE_FILTER)
        if path:
            self.open_path(path)
        else:
            self._show_loaded_source()

    def open_path(self, path: str) -> bool:
        """Load the model at `path` (a folder, a .gguf file, or a file inside a model folder)."""
        spec = model_spec_for(path)
        self.add_source(spec)
        return self.request_load(spec)

    def add_source(self, spec: str) -> None:
        index = self.source.findData(spec)
        if index < 0:
            self.source.insertItem(self.source.findData(OPEN_FOLDER), spec, spec)
            self._added.add(spec)
            index = self.source.findData(spec)
        self.source.setCurrentIndex(index)

    def request_load(self, spec: str) -> bool:
        """Ask for `spec` with the device and options chosen now; False (and a note) if they cannot be used."""
        if not self._check_options():
            self.advanced_button.setChecked(True)
            self._show_note(f"Not loaded: {self.options_problem()}")
            return False
        self.load_note.setVisible(False)
        self.load_requested.emit(spec, self.device.currentText(), self.load_options())
        return True

    def _on_load(self) -> None:
        spec = self.source.currentData()
        if spec == OPEN_FOLDER:
            self.open_folder()
        elif spec == OPEN_FILE:
            self.open_file()
        else:
            self.request_load(spec)

    def _show_note(self, text: str) -> None:
        self.load_note.setText(text)
        self.load_note.setVisible(True)

    def _on_load_failed(self, spec: str, message: str) -> None:
        """A refused or failed load ('' message: cancelled): say so here too, take a folder that did not
        load off the list, and show the model that stays as the choice."""
        info = self.state.info
        loaded = info.source if info is not None else BUILTIN
        if spec in self._added and spec != loaded:
            self._added.discard(spec)
            self.source.removeItem(self.source.findData(spec))
        if message:
            still = f" Still using {info.name} ({info.dtype})." if info is not None else ""
            here = (" Here, the number type is beside Load and the memory budget and offload folder are under "
                    "“Big models”." if "--max-memory" in message or "--offload-folder" in message else "")
            self._show_note(f"Not loaded: {message}{still}{here}")
        self._show_loaded_source()

    def _show_loaded_source(self) -> None:
        """Put the picker back on the model that is loaded (after a cancelled dialog or a failed load)."""
        info = self.state.info
        if info is None:
            return
        if info.source != BUILTIN:
            self.add_source(info.source)
        else:
            self.source.setCurrentIndex(self.source.findData(BUILTIN))
        self.set_dtype(info.dtype)

    # -- what is loaded ----------------------------------------------------------------------------

    def _show_info(self) -> None:
        info = self.state.info
        self.load_note.setVisible(False)
        self._show_loaded_source()
        for key, value in self.describe(info).items():
            self.facts[key].setText(value)

    @staticmethod
    def describe(info: ModelInfo) -> dict[str, str]:
        """The facts as the panel shows them (one line or a few per row)."""
        kv = f" ({info.n_kv_heads} key/value heads)" if info.n_kv_heads != info.n_heads else ""
        family = f"{info.architecture} ({info.model_type})"
        if not info.tested:
            family += " · untested: opened by discovery"
        params = f"{info.n_params:,} ({human_count(info.n_params)})"
        if info.is_moe:
            experts = (f"{info.n_experts} experts, {info.experts_per_token} chosen per token, in "
                       f"{_layers_text(info.moe_layers, info.n_layers)}")
            if info.shared_experts:
                experts += f"; {info.shared_experts} shared expert{'s' if info.shared_experts > 1 else ''} on every token"
            params += (f"; {info.n_active_params:,} ({human_count(info.n_active_params)}, "
                       f"{info.n_active_params / max(info.n_params, 1):.0%}) used per token")
        else:
            experts = "none: a dense model (one MLP per block)"
        blocks = {PARALLEL: "parallel: attention and the MLP read the same input",
                  POST_LN: "post-LN: a norm after each residual add"}.get(info.block_layout,
                                                                           "sequential: attention, then the MLP")
        if info.block_layout_note:
            blocks += f" ({info.block_layout_note})"
        placement = "\n".join(f"{p.device}: {p.parts} ({size_text(p.nbytes)})" for p in info.placement) or "–"
        if info.offloaded:
            placement += "\n(spread out by accelerate's device map: slower, parts are moved in as they run)"
        memory = f"{size_text(info.weight_bytes)} of weights in {info.dtype}" if info.weight_bytes else info.dtype
        return {
            "Model": info.name,
            "Family": family,
            "Layers": str(info.n_layers),
            "Heads": f"{info.n_heads}{kv}, {info.d_head} wide",
            "Width": f"{info.d_model} (MLP {info.d_mlp}{' per expert' if info.is_moe else ''})",
            "Vocabulary": f"{info.vocab_size:,} tokens",
            "Parameters": params,
            "Experts": experts,
            "Context": f"{info.context_length:,} tokens" if info.context_length else "no limit stated",
            "Blocks": blocks,
            "Device": f"{info.device}, {info.dtype}",
            "Placement": placement,
            "Memory": memory,
            "Notes": "\n".join(f"• {note}" for note in info.notes) or "–",
            "Licence": info.licence,
        }
