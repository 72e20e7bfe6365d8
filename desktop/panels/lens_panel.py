"""Logit lens: what each layer would predict at the selected position, and when a token takes over.

The per-layer table reads the trace (last position) or this panel's own answer to a
`PositionRequest` with the lens (any other position); the tracked-token lines read
``trace.lens_logprobs`` (last position). The lens at the last position (which joins the trace,
through the trace controller) and the layer × position grid are asked of the worker only while
this panel (and for the grid, its tab) is shown.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit, QSplitter, QTabWidget, QVBoxLayout, QWidget

from desktop.core.context import ViewContext
from desktop.core.requests.tracing import LensGridRequest, LensGridResult, PositionRequest, PositionResult
from desktop.panels.style import emphasise
from model_core.analysis.head_stats import takeover_layer
from model_core.types.model_info import PARALLEL, POST_LN
from viz.lens_views import ProbabilityTable, TrackPlot

TOP_K = 5
DEFAULT_TRACKED = 3  # with an empty box, track the final layer's top tokens
MID_LABEL = "Also mid-layer (after attention, before the MLP)"
MID_TIP = "Read the stream in the middle of each block too (at the last position)"


def _label_of_typed(text: str) -> str:
    """What a typed token looks like in the vocabulary labels: spaces are drawn as '␣'."""
    return text.replace(" ", "␣")


def takeover_text(token: str, first: int, last: int) -> str:
    """Where the final prediction takes over, in words: 'from layer 30 on' of a 30-layer model would
    read as if more layers followed."""
    if first >= last:
        return f"'{token}' becomes top-1 only at the last layer ({last})"
    if first == 0:
        return f"'{token}' is top-1 at every layer, from the embeddings on"
    return f"'{token}' is top-1 from layer {first} on (of {last})"


class LensPanel(QWidget):
    grid_changed = Signal()  # the layer x position grid arrived and is drawn (`grid_result`)

    def __init__(self, ctx: ViewContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state = ctx.state
        self._traces = ctx.traces  # the lens at the last position joins the trace on screen
        self._grid_asker = ctx.asker(self._on_grid)
        self._position_asker = ctx.asker(self._on_position_lens)
        self.grid_result: LensGridResult | None = None
        self.position_lens: PositionResult | None = None  # the lens at a position other than the last
        self._grid_asked_for = -1  # trace id the grid was last requested for
        self._asked_position: tuple[int, int] | None = None  # (trace id, position) the lens was asked for
        self._label_index: dict[str, int] = {}
        self.takeover_layer: int | None = None

        self.title = QLabel()
        self.title.setWordWrap(True)
        self.takeover = QLabel()
        self.takeover.setWordWrap(True)
        emphasise(self.takeover)  # bold, and still as large as presentation mode makes the text
        self.table = ProbabilityTable()
        self.targets = QLineEdit()
        self.targets.setPlaceholderText("Tokens to track, comma-separated, e.g. ' Paris, London' "
                                        "(empty: the final top tokens)")
        self.targets_note = QLabel()
        self.targets_note.setWordWrap(True)
        self.mid = QCheckBox(MID_LABEL)
        self.mid.setToolTip(MID_TIP)
        self.mid_note = QLabel()  # why the mid-block rows read differently, or do not exist, for this model
        self.mid_note.setWordWrap(True)
        self.mid_note.setVisible(False)
        self.track = TrackPlot()
        per_layer = QWidget()
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.title)
        top_layout.addWidget(self.takeover)
        top_layout.addWidget(self.mid)
        top_layout.addWidget(self.mid_note)
        top_layout.addWidget(self.table, 1)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(QLabel("Probability per layer at the last position"))
        bottom_layout.addWidget(self.targets)
        bottom_layout.addWidget(self.targets_note)
        bottom_layout.addWidget(self.track, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)  # the dock is usually wider than tall
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        splitter.setSizes([560, 400])
        QVBoxLayout(per_layer).addWidget(splitter)

        self.grid_page = QWidget()
        self.grid_note = QLabel("Top-1 token at every layer × position (computed when this tab is shown).")
        self.grid = ProbabilityTable()
        grid_layout = QVBoxLayout(self.grid_page)
        grid_layout.addWidget(self.grid_note)
        grid_layout.addWidget(self.grid, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(per_layer, "Per layer")
        self.tabs.addTab(self.grid_page, "Layer × position")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.tabs)

        self.targets.editingFinished.connect(self._redraw_tracks)
        self.gate = ctx.gate(self._redraw_lens, self._key)
        self.mid.toggled.connect(self.gate.request)
        self.mid.toggled.connect(lambda _on: self._show_mid_note())
        self.tabs.currentChanged.connect(lambda _i: self._maybe_request_grid())
        state.model_changed.connect(self._on_model_changed)
        for changed in (state.trace_changed, state.selection_changed, state.lens_changed):
            changed.connect(self.gate.request)
        state.trace_changed.connect(self._maybe_request_grid)

    def set_shown(self, shown: bool) -> None:
        """The dock's `visibilityChanged`: a tab behind another asks the worker for nothing."""
        self.gate.set_shown(shown)
        self._maybe_request_grid()

    # -- data ------------------------------------------------------------------------------------

    def lens_at_selection(self) -> tuple[int, np.ndarray, np.ndarray] | None:
        """(position, ids [L+1, k], probs [L+1, k]) for the selected position, when known."""
        trace = self.state.trace
        if trace is None:
            return None
        position = self.state.selection.position
        last = trace.n_tokens - 1
        if position == last:
            return (last, trace.lens_ids, trace.lens_probs) if trace.has_lens else None
        pr = self.position_lens
        if pr is not None and pr.trace_id == self.state.trace_id and pr.position == position:
            return position, pr.lens_ids, pr.lens_probs
        return None

    def resolve(self, text: str) -> tuple[dict[str, int], list[str]]:
        """Typed tokens -> ({label: id}, [typed tokens not in the vocabulary])."""
        found, missing = {}, []
        for part in text.split(","):
            if not part.strip():
                continue
            label = _label_of_typed(part)
            token_id = self._label_index.get(label)
            if token_id is None:  # ' Paris, London': also try without the space after the comma
                token_id = self._label_index.get(label.lstrip("␣"))
                label = label.lstrip("␣")
            if token_id is None:
                missing.append(part)
            else:
                found[label] = token_id
        return found, missing

    # -- slots -----------------------------------------------------------------------------------

    def _on_model_changed(self) -> None:
        self._label_index = {}
        for i, label in enumerate(self.state.vocab_labels):
            self._label_index.setdefault(label, i)
        info = self.state.info
        layout = info.block_layout if info is not None else None
        note = info.block_layout_note if info is not None else ""
        # Post-LN blocks have no mid-block state; parallel blocks have one the model never computes.
        self.mid.setEnabled(layout != POST_LN)
        if layout == POST_LN:
            self.mid.setChecked(False)
            self.mid.setText("Mid-layer: not available for this model")
        elif layout == PARALLEL:
            self.mid.setText("Also mid-layer (attention's update alone: parallel blocks)")
        else:
            self.mid.setText(MID_LABEL)
        self.mid.setToolTip(f"{MID_TIP}.\n{note[:1].upper()}{note[1:]}." if note else MID_TIP)
        self.mid_note.setText(f"{note[:1].upper()}{note[1:]}." if note else "")
        self._show_mid_note()

    def _show_mid_note(self) -> None:
        """Post-LN: always say why there is no mid-layer; parallel blocks: say what it means once asked for."""
        info = self.state.info
        layout = info.block_layout if info is not None else None
        self.mid_note.setVisible(layout == POST_LN or (layout == PARALLEL and self.mid.isChecked()))

    def _key(self) -> tuple | None:
        result = self.state.result
        if result is None:
            return None
        position = self.state.selection.position
        return (result.trace_id, position, result.trace.has_lens, self.lens_at_selection() is not None,
                self.mid.isChecked())

    def _redraw_lens(self) -> None:
        result = self.state.result
        if result is None:
            return
        if not result.trace.has_lens:  # the table at the last position and the tracked lines read it
            self._traces.ask_lens()
        position = self.state.selection.position
        wanted = (result.trace_id, position)
        if position != result.trace.n_tokens - 1 and self.lens_at_selection() is None \
                and wanted != self._asked_position:
            self._asked_position = wanted
            self._position_asker.ask(PositionRequest(position, result.trace_id, lens=True))
        self._redraw_table()
        self._redraw_tracks()

    def _on_position_lens(self, answer: PositionResult) -> None:
        self.position_lens = answer
        self.gate.request()

    def _on_grid(self, answer: LensGridResult) -> None:
        self.grid_result = answer
        self._redraw_grid()
        self.grid_changed.emit()

    def _maybe_request_grid(self) -> None:
        result = self.state.result
        if result is None or not self.gate.shown or self.tabs.currentWidget() is not self.grid_page:
            return
        if self._grid_asked_for != result.trace_id:
            self._grid_asked_for = result.trace_id
            self.grid_note.setText("Computing the lens at every layer × position…")
            self._grid_asker.ask(LensGridRequest(result.trace_id))

    def _redraw_table(self) -> None:
        trace = self.state.trace
        if trace is None:
            return
        found = self.lens_at_selection()
        position = self.state.selection.position
        token = self.state.label(int(trace.tokens.ids[position]))
        if found is None:
            self.title.setText(f"Position {position} ('{token}'): computing…")
            return
        position, ids, probs = found
        k = min(TOP_K, ids.shape[1])
        n_rows = ids.shape[0]
        rows = ["emb" if r == 0 else str(r) for r in range(n_rows)]
        whole_ids = ids
        if self.mid.isChecked() and position == trace.n_tokens - 1 and trace.mid_lens_ids is not None:
            # interleave: emb, 1 (after attention), 1, 2 (after attention), 2, ...
            order_ids, order_probs, rows = [ids[0]], [probs[0]], ["emb"]
            for layer in range(1, n_rows):
                order_ids += [trace.mid_lens_ids[layer - 1], ids[layer]]
                order_probs += [trace.mid_lens_probs[layer - 1], probs[layer]]
                rows += [f"{layer} · attn", str(layer)]
            ids, probs = np.stack(order_ids), np.stack(order_probs)
            n_rows = len(rows)
        texts = [[f"{self.state.label(int(ids[r, c]))}  {probs[r, c]:.2f}" for c in range(k)] for r in range(n_rows)]
        self.table.set_data(rows, [f"#{c + 1}" for c in range(k)], texts, probs[:, :k])
        self.title.setText(f"Position {position} ('{token}'): the top {k} next tokens each layer predicts "
                           f"(layer 0 = embeddings, {whole_ids.shape[0] - 1} = final)")
        first = takeover_layer(whole_ids[:, 0])
        final = self.state.label(int(whole_ids[-1, 0]))
        self.takeover.setText(takeover_text(final, first, whole_ids.shape[0] - 1))
        self.takeover_layer = first

    def _redraw_tracks(self) -> None:
        trace = self.state.trace
        if trace is None or not trace.has_lens:
            return
        text = self.targets.text()
        if text.strip():
            found, missing = self.resolve(text)
        else:
            found = {self.state.label(int(i)): int(i) for i in trace.lens_ids[-1, :DEFAULT_TRACKED]}
            missing = []
        lines = {label: np.exp(trace.lens_logprobs[:, i]) for label, i in found.items()}  # each [L+1]
        self.track.set_lines(lines)
        self.targets_note.setText(
            f"Not a single token in this vocabulary: {', '.join(repr(m) for m in missing)}" if missing else "")

    def _redraw_grid(self) -> None:
        trace, grid = self.state.trace, self.grid_result
        if trace is None or grid is None or grid.trace_id != self.state.trace_id:
            return
        ids, probs = grid.ids[::-1], grid.probs[::-1]  # [L+1, T], final layer on top like a stack of blocks
        n_rows = ids.shape[0]
        rows = ["emb" if r == 0 else str(r) for r in range(n_rows)][::-1]
        columns = [f"{t} {self.state.label(int(trace.tokens.ids[t]))}" for t in range(trace.n_tokens)]
        texts = [[self.state.label(int(i)) for i in row] for row in ids]
        self.grid.set_data(rows, columns, texts, probs)
        self.grid_note.setText("Top-1 next token each layer predicts after each position "
                               "(rows: layers, final on top; columns: positions; colour: probability).")
