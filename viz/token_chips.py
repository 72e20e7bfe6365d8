"""Token chips: the prompt shown as one clickable box per token, wrapping like text.

Control tokens (<|im_start|>, <|im_end|>, BOS) get their own colours and a dashed outline; a
token that a chat template added rather than the user typed carries a coloured strip along its
bottom (MARKS: the template's formatting, a default system prompt, the generation prompt) and an
italic label, so the hidden part of a chat prompt is visible at a glance.

Why a hand-painted chip instead of a QLabel with rich text: a prompt can be 1024 tokens
and every generation step re-sends all of them; painting two strings into a rounded rect
is far cheaper than laying out rich text, and chips are reused (only their contents
change), so an extra token costs one new widget, not a thousand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QKeyEvent, QMouseEvent, QPainter, QPalette, QPen
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

from viz.flow_layout import FlowLayout
from viz.theme import (
    LIGHT,
    Palette,
    blend,
    contrast_ratio,
    default_font_size,
    make_font,
    readable_text_colour,
)

_PAD_X = 6  # px, inside a chip left/right
_PAD_Y = 3  # px, inside a chip top/bottom
_SELECTED_BORDER = 3.0  # px
_NEW_BORDER = 2.0  # px
_CONTROL_BORDER = 1.5  # px, dashed
_MARK_HEIGHT = 3.0  # px, the strip under a token the template added

# What added a token, and the palette colour of its strip. The keys are the words the prompt
# panel passes (they match model_core.types.chat's origins); "" means typed by the user.
MARK_TEMPLATE, MARK_SYSTEM, MARK_GENERATION = "template", "default system prompt", "generation prompt"
MARKS: dict[str, str] = {MARK_TEMPLATE: "template_mark", MARK_SYSTEM: "system_mark",
                         MARK_GENERATION: "generation_mark"}
MARK_WORDS: dict[str, str] = {MARK_TEMPLATE: "the template's formatting", MARK_SYSTEM: "a default system prompt",
                              MARK_GENERATION: "the generation prompt"}


class TokenChip(QWidget):
    """One token: its readable text on top and its id, smaller, underneath.

    Owned and reused by TokenChips; exposes its state read-only so tests and callers can
    check what is drawn without grabbing pixels.
    """

    def __init__(self, owner: TokenChips, index: int) -> None:
        super().__init__()
        self._owner = owner
        self.index = index
        self._label = ""
        self._token_id = 0
        self._is_new = False
        self._selected = False
        self._weight: float | None = None
        self._control = False
        self._mark = ""
        self._hint = QSize(10, 10)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    # --- read-only state ------------------------------------------------------------------
    @property
    def label(self) -> str:
        return self._label

    @property
    def token_id(self) -> int:
        return self._token_id

    @property
    def is_new(self) -> bool:
        return self._is_new

    @property
    def is_selected(self) -> bool:
        return self._selected

    @property
    def weight(self) -> float | None:
        return self._weight

    @property
    def is_control(self) -> bool:
        """A control token (not text): drawn in the control colours with a dashed outline."""
        return self._control

    @property
    def mark(self) -> str:
        """What added this token, a key of MARKS ("" when the user typed it)."""
        return self._mark

    def background_colour(self) -> QColor:
        """Surface colour (control tokens: their own), tinted towards the weight tint by the chip's weight."""
        p = self._owner._theme
        base = p.control_fill if self._control else p.surface
        if self._weight is None:
            return QColor(base)
        return blend(base, p.weight_tint, self._weight)

    def border_colour(self) -> QColor | None:
        """Selection colour if selected, accent if generated, the control colour for a control token,
        else None (no border)."""
        p = self._owner._theme
        if self._selected:
            return QColor(p.selection)
        if self._is_new:
            return QColor(p.accent)
        if self._control:
            return QColor(p.control)
        return None

    def mark_colour(self) -> QColor | None:
        """The strip's colour for a token the template added, else None."""
        attribute = MARKS.get(self._mark)
        return QColor(getattr(self._owner._theme, attribute)) if attribute else None

    def text_colour(self, background: QColor | None = None) -> QColor:
        """Accent for generated tokens, the control colour for control tokens, the page's text colour
        for the others, unless the tint behind them leaves less than 4.5:1 (WCAG AA): then black or white."""
        p = self._owner._theme
        background = background if background is not None else self.background_colour()
        if self._control:
            colour = QColor(p.control)
        else:
            colour = QColor(p.accent if self._is_new else p.foreground)
        return colour if contrast_ratio(colour, background) >= 4.5 else readable_text_colour(background)

    def _label_font(self) -> QFont:
        return self._owner.added_font if self._mark and not self._control else self._owner.label_font

    # --- updates from the owner -------------------------------------------------------------
    def set_content(self, label: str, token_id: int, tooltip: str, is_new: bool, control: bool = False,
                    mark: str = "") -> None:
        """Change what the chip shows; re-measures only when the text (or its font) changed."""
        label = label.replace("\n", "↵").replace("\t", "⇥").replace("\r", "␍")
        text_changed = label != self._label or token_id != self._token_id or bool(mark) != bool(self._mark)
        if text_changed or (is_new, control, mark) != (self._is_new, self._control, self._mark):
            self._label, self._token_id, self._is_new = label, token_id, is_new
            self._control, self._mark = control, mark
            if text_changed:
                self.remeasure()
            self.update()
        if tooltip != self.toolTip():
            self.setToolTip(tooltip)

    def set_state(self, selected: bool, weight: float | None) -> None:
        if selected != self._selected or weight != self._weight:
            self._selected, self._weight = selected, weight
            self.update()

    def remeasure(self) -> None:
        """Recompute the size hint from the owner's fonts (after text or font changes)."""
        label_fm = QFontMetricsF(self._label_font())
        id_fm = QFontMetricsF(self._owner.id_font)
        width = max(label_fm.horizontalAdvance(self._label or " "), id_fm.horizontalAdvance(str(self._token_id)))
        height = label_fm.height() + id_fm.height()
        border = self._owner.border_room()  # the selection outline never covers the id
        self._hint = QSize(int(np.ceil(width + 2 * (_PAD_X + border))), int(np.ceil(height + 2 * (_PAD_Y + border))))
        self.updateGeometry()

    def sizeHint(self) -> QSize:
        return self._hint

    def minimumSizeHint(self) -> QSize:
        return self._hint

    # --- painting and input -------------------------------------------------------------------
    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        border = self.border_colour()
        scale = self._owner._line_scale
        dashed = self._control and not self._selected and not self._is_new
        if self._selected:
            width = _SELECTED_BORDER * scale
        else:
            width = (_CONTROL_BORDER if dashed else _NEW_BORDER) * scale
        rect = QRectF(self.rect()).adjusted(width / 2, width / 2, -width / 2, -width / 2)
        background = self.background_colour()
        painter.setBrush(background)
        if border is None:
            painter.setPen(Qt.PenStyle.NoPen)
        else:
            pen = QPen(border, width)
            if dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
        painter.drawRoundedRect(rect, 5, 5)
        mark = self.mark_colour()
        if mark is not None:  # a strip along the bottom, inside the outline: added by the template
            strip = _MARK_HEIGHT * scale
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(mark)
            painter.drawRect(QRectF(rect.left() + 3, rect.bottom() - strip, max(rect.width() - 6, 1), strip))

        label_font = self._label_font()
        label_fm = QFontMetricsF(label_font)
        pad_x, pad_y = _PAD_X + self._owner.border_room(), _PAD_Y + self._owner.border_room()
        inner = QRectF(self.rect()).adjusted(pad_x, pad_y, -pad_x, -pad_y)
        label_rect = QRectF(inner.left(), inner.top(), inner.width(), label_fm.height())
        id_rect = QRectF(inner.left(), label_rect.bottom(), inner.width(), inner.bottom() - label_rect.bottom())
        text_colour = self.text_colour(background)
        painter.setFont(label_font)
        painter.setPen(text_colour)
        painter.drawText(label_rect, Qt.AlignmentFlag.AlignCenter, self._label)
        painter.setFont(self._owner.id_font)
        id_colour = QColor(text_colour)
        id_colour.setAlphaF(0.7)
        painter.setPen(id_colour)
        painter.drawText(id_rect, Qt.AlignmentFlag.AlignCenter, str(self._token_id))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._owner._on_chip_pressed(self.index)
            event.accept()
        else:
            super().mousePressEvent(event)


class TokenChips(QWidget):
    """The token sequence as a scrollable, wrapping row of chips.

    Clicking a chip (or Left/Right with focus) selects that position and emits
    ``chip_clicked(index)``. ``set_weights`` tints chips, e.g. by the attention the
    selected query pays to each key.
    """

    chip_clicked = Signal(int)

    def __init__(
        self, parent: QWidget | None = None, palette: Palette = LIGHT, font_size: float | None = None
    ) -> None:
        super().__init__(parent)
        self._theme = palette
        self._font_size = font_size if font_size is not None else default_font_size() * 1.15
        self._line_scale = 1.0
        self.label_font: QFont = make_font(self._font_size)
        self.added_font: QFont = _italic(self.label_font)
        self.id_font: QFont = make_font(self._font_size * 0.72)
        self._chips: list[TokenChip] = []  # pool; only the first _count are visible
        self._count = 0
        self._selected: int | None = None
        self._weights: np.ndarray | None = None  # [T] float in [0, 1]

        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._container = QWidget()
        self._flow = FlowLayout(self._container, h_spacing=4, v_spacing=5)
        self._flow.setContentsMargins(6, 6, 6, 6)
        self._scroll = QScrollArea(self)
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._scroll.setWidget(self._container)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._scroll)
        self._apply_background()

    def minimumSizeHint(self) -> QSize:
        """Room for one row of chips (with the flow's margins), in the current fonts."""
        height = QFontMetricsF(self.label_font).height() + QFontMetricsF(self.id_font).height()
        height += 2 * (_PAD_Y + self.border_room())
        return QSize(60, int(np.ceil(height)) + 12 + 2)

    def border_room(self) -> float:
        """Pixels a chip keeps free inside its edge for the selection outline."""
        return _SELECTED_BORDER * self._line_scale / 2

    # --- public API -------------------------------------------------------------------------------
    def set_tokens(
        self,
        labels: Sequence[str],
        ids: Sequence[int],
        tooltips: Sequence[str] | None = None,
        new_from: int | None = None,
        control: Sequence[bool] | None = None,
        marks: Sequence[str] | None = None,
    ) -> None:
        """Show one chip per token; chips with index >= new_from are drawn as generated.

        control [T]: control tokens, drawn in their own colours with a dashed outline.
        marks [T]: what added each token, a key of MARKS ("" for typed text).
        Keeps the selection if it is still in range, and clears weights (they belonged to
        the previous sequence).
        """
        if len(labels) != len(ids) or any(
            seq is not None and len(seq) != len(labels) for seq in (tooltips, control, marks)
        ):
            raise ValueError("labels, ids, tooltips, control and marks must have the same length")
        if marks is not None and any(m and m not in MARKS for m in marks):
            raise ValueError(f"marks must be '' or one of {', '.join(MARKS)}")
        n = len(labels)
        # Batch the change: with the layout disabled, showing a chip does not re-lay-out all
        # the others (which made the first 1000 chips take seconds); one pass at the end.
        self._container.setUpdatesEnabled(False)
        self._flow.setEnabled(False)
        try:
            while len(self._chips) < n:
                chip = TokenChip(self, len(self._chips))
                self._chips.append(chip)
                self._flow.addWidget(chip)
            for i in range(n):
                chip = self._chips[i]
                is_new = new_from is not None and i >= new_from
                chip.set_content(labels[i], int(ids[i]), tooltips[i] if tooltips is not None else "", is_new,
                                 bool(control[i]) if control is not None else False,
                                 marks[i] if marks is not None else "")
                if chip.isHidden():
                    chip.show()
            for chip in self._chips[n : self._count]:
                chip.hide()
            self._count = n
            if self._selected is not None and self._selected >= n:
                self._selected = None
            self._weights = None
            self._refresh_states()
        finally:
            self._flow.setEnabled(True)
            self._flow.invalidate()
            self._flow.activate()
            self._container.setUpdatesEnabled(True)

    def set_selected(self, index: int | None) -> None:
        """Outline one chip (None: no selection). Does not emit chip_clicked."""
        if index is not None and not 0 <= index < self._count:
            raise IndexError(f"token index {index} out of range for {self._count} tokens")
        old = self._selected
        self._selected = index
        for i in {old, index} - {None}:
            if i < self._count:
                self._chips[i].set_state(i == index, self._weight_at(i))
        if index is not None:
            self._scroll.ensureWidgetVisible(self._chips[index], 8, 8)

    def set_weights(self, weights: np.ndarray | None) -> None:
        """Tint chip backgrounds by weights [T] in [0, 1]; None clears the tint."""
        if weights is not None:
            weights = np.clip(np.asarray(weights, dtype=np.float64), 0.0, 1.0)  # [T]
            if weights.shape != (self._count,):
                raise ValueError(f"weights must have shape ({self._count},), got {weights.shape}")
        self._weights = weights
        self._refresh_states()

    def selected(self) -> int | None:
        return self._selected

    def count(self) -> int:
        """Number of tokens shown."""
        return self._count

    def chip(self, index: int) -> TokenChip:
        """The chip widget at a position (read its state; do not modify it)."""
        if not 0 <= index < self._count:
            raise IndexError(index)
        return self._chips[index]

    def set_palette(self, palette: Palette) -> None:
        self._theme = palette
        self._apply_background()
        for chip in self._chips[: self._count]:
            chip.update()

    def set_line_scale(self, scale: float) -> None:
        """Multiply the selection and generated-token border widths (presentation mode makes them thick)."""
        self._line_scale = scale
        for chip in self._chips:
            chip.remeasure()
        self._flow.invalidate()
        self.updateGeometry()

    def line_scale(self) -> float:
        return self._line_scale

    def set_font_size(self, point_size: float) -> None:
        """Chip label size in points (presentation mode makes it large)."""
        self._font_size = point_size
        self.label_font = make_font(point_size)
        self.added_font = _italic(self.label_font)
        self.id_font = make_font(point_size * 0.72)
        for chip in self._chips:
            chip.remeasure()
        self._flow.invalidate()
        self.updateGeometry()  # one row of larger chips needs more room

    # --- internals ------------------------------------------------------------------------------
    def _weight_at(self, i: int) -> float | None:
        return None if self._weights is None else float(self._weights[i])

    def _refresh_states(self) -> None:
        for i in range(self._count):
            self._chips[i].set_state(i == self._selected, self._weight_at(i))

    def _apply_background(self) -> None:
        pal = self._container.palette()
        pal.setColor(QPalette.ColorRole.Window, QColor(self._theme.background))
        self._container.setPalette(pal)
        self._container.setAutoFillBackground(True)
        self._scroll.viewport().setPalette(pal)
        self._scroll.viewport().setAutoFillBackground(True)

    def _on_chip_pressed(self, index: int) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self.set_selected(index)
        self.chip_clicked.emit(index)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self._count == 0 or event.key() not in (
            Qt.Key.Key_Left,
            Qt.Key.Key_Right,
            Qt.Key.Key_Home,
            Qt.Key.Key_End,
        ):
            super().keyPressEvent(event)
            return
        current = self._selected
        key = event.key()
        if key == Qt.Key.Key_Home:
            index = 0
        elif key == Qt.Key.Key_End:
            index = self._count - 1
        elif current is None:
            index = 0 if key == Qt.Key.Key_Right else self._count - 1
        else:
            step = 1 if key == Qt.Key.Key_Right else -1
            index = min(max(current + step, 0), self._count - 1)
        event.accept()
        if index != current:
            self.set_selected(index)
            self.chip_clicked.emit(index)


def _italic(font: QFont) -> QFont:
    italic = QFont(font)
    italic.setItalic(True)
    return italic


def chip_legend(palette: Palette = LIGHT) -> str:
    """Rich text saying what the chip styles of a chat prompt mean, in the palette's colours."""
    def swatch(colour: str, text: str, border: str | None = None) -> str:
        edge = f"border: 1px dashed {border};" if border else ""
        return (f"<span style='background:{colour}; {edge} color:{colour}'>&nbsp;&nbsp;&nbsp;</span>"
                f"&nbsp;{text}")

    parts = [swatch(palette.control_fill, f"<span style='color:{palette.control}'>control token</span>",
                    palette.control)]
    parts += [swatch(getattr(palette, MARKS[m]), f"added by {MARK_WORDS[m]}") for m in MARKS]
    parts.append("<i>italic</i>: not typed by you")
    return " &nbsp;·&nbsp; ".join(parts)
