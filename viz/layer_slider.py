"""Layer slider with Play/Pause, for stepping the trajectory (or any per-layer view) through depth.

Why a widget of its own: the same control drives the trajectory plot and the logit lens,
and "play" must be a timer in the GUI thread that the user can stop at any frame.
A plain QSlider plus a "Layer 7 / 12" caption is used rather than superqt's QLabeledSlider,
whose value box carries its own style sheet and so ignores presentation-mode fonts.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from viz.theme import default_font_size, make_font

# Glyphs the common UI fonts have (DejaVu, Noto, Segoe UI): "⏸" (U+23F8) is missing from DejaVu
# Sans and showed as a box ("▯ Pause").
_PLAY = "▶  Play"
_PAUSE = "❚❚  Pause"


def thick_slider_style(scale: float) -> str:
    """A style sheet for a horizontal QSlider whose groove and handle grow with ``scale``.

    Empty at scale 1 (the platform's own slider, with tick marks). A styled groove drops the
    tick marks; the caption still names the layer.
    """
    if scale == 1:
        return ""
    groove, handle = round(3 * scale), round(8 * scale)  # px: groove height, handle radius
    return (f"QSlider::groove:horizontal {{ height: {groove}px; background: palette(mid); "
            f"border-radius: {groove // 2}px; }}"
            f"QSlider::sub-page:horizontal {{ background: palette(highlight); border-radius: {groove // 2}px; }}"
            f"QSlider::handle:horizontal {{ width: {2 * handle}px; margin: -{handle - groove // 2}px 0; "
            f"border-radius: {handle}px; background: palette(highlight); }}")


class LayerSlider(QWidget):
    """A captioned 0..L slider and a Play/Pause button that advances one layer per tick.

    ``layer_changed(layer)`` is emitted whenever the value changes, whether by the user, the
    timer or ``set_layer``. Playing from the last layer restarts at 0; at the end it either
    loops (``loop=True``) or pauses.
    """

    layer_changed = Signal(int)

    def __init__(
        self,
        parent: QWidget | None = None,
        interval_ms: int = 700,
        loop: bool = False,
        font_size: float | None = None,
    ) -> None:
        super().__init__(parent)
        self._loop = loop
        self._line_scale = 1.0
        self._caption = QLabel()
        self._caption.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self._slider = QSlider(Qt.Orientation.Horizontal)
        self._slider.setRange(0, 0)
        self._slider.setPageStep(1)
        self._slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self._slider.setTickInterval(1)
        self._button = QPushButton(_PLAY)
        self._button.setCheckable(True)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self._caption)
        layout.addWidget(self._slider, 1)
        layout.addWidget(self._button)

        self._slider.valueChanged.connect(self._on_slider_value_changed)
        self._button.toggled.connect(self._on_button_toggled)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.set_font_size(font_size if font_size is not None else default_font_size())

    # --- public API ----------------------------------------------------------------------------
    def set_maximum(self, maximum: int) -> None:
        """Allow layers 0..maximum (L = number of blocks; 0 is the embeddings)."""
        self._slider.setRange(0, max(0, maximum))
        self._slider.setTickInterval(1 if maximum <= 48 else 4)
        self._update_caption()

    def maximum(self) -> int:
        return self._slider.maximum()

    def set_layer(self, layer: int) -> None:
        """Move to ``layer`` (clamped to 0..maximum); emits layer_changed if it changed."""
        self._slider.setValue(min(max(layer, 0), self._slider.maximum()))

    def layer(self) -> int:
        return self._slider.value()

    def play(self) -> None:
        """Start advancing one layer per interval (restarts at 0 if at the end)."""
        self._button.setChecked(True)

    def pause(self) -> None:
        self._button.setChecked(False)

    def is_playing(self) -> bool:
        return self._timer.isActive()

    def set_interval(self, ms: int) -> None:
        """Time per layer while playing."""
        self._timer.setInterval(ms)

    def set_loop(self, loop: bool) -> None:
        """Loop back to 0 at the end instead of pausing."""
        self._loop = loop

    def set_font_size(self, point_size: float) -> None:
        font = make_font(point_size)
        for widget in (self._caption, self._slider, self._button):
            widget.setFont(font)
        self._update_caption()

    def set_line_scale(self, scale: float) -> None:
        """Thicken the slider's groove and handle by ``scale`` (presentation mode: visible from the back row)."""
        self._line_scale = scale
        self._slider.setStyleSheet(thick_slider_style(scale))
        self._slider.setMinimumHeight(0 if scale == 1 else round(16 * scale) + 4)

    def line_scale(self) -> float:
        return self._line_scale

    def button_text(self) -> str:
        """The Play / Pause button's text now."""
        return self._button.text()

    def caption(self) -> str:
        """The text next to the slider, e.g. "Layer 7 / 12"."""
        return self._caption.text()

    def _update_caption(self) -> None:
        maximum = self._slider.maximum()
        self._caption.setText(f"Layer {self._slider.value()} / {maximum}")
        # Reserve room for the widest value so the slider does not jump while playing.
        widest = f"Layer {maximum} / {maximum}".replace("1", "8")
        self._caption.setMinimumWidth(QFontMetrics(self._caption.font()).horizontalAdvance(widest) + 6)

    # --- slots ---------------------------------------------------------------------------------
    def _on_slider_value_changed(self, value: int) -> None:
        self._update_caption()
        self.layer_changed.emit(int(value))

    def _on_button_toggled(self, checked: bool) -> None:
        self._button.setText(_PAUSE if checked else _PLAY)
        if checked:
            if self.layer() >= self.maximum():
                self.set_layer(0)
            self._timer.start()
        else:
            self._timer.stop()

    def _on_timer_timeout(self) -> None:
        if self.layer() < self.maximum():
            self.set_layer(self.layer() + 1)
        elif self._loop and self.maximum() > 0:
            self.set_layer(0)
        else:
            self.pause()
            return
        if not self._loop and self.layer() >= self.maximum():
            self.pause()
