"""Hover and click on the cells of a pyqtgraph heatmap widget, shared by the heatmaps that select a row.

A heatmap's cells are not graphics items of their own, so nothing in the scene takes a press on
them: an ignored press or release would travel on to the parent widget (a dock's title bar, say),
while the scene still reports the click. The widget claims cell clicks itself, selects the clicked
row and says so, and clears its hover text when the mouse leaves.

A widget using this defines ``_cell_at(scene_pos) -> (row, column) | None``,
``set_selected_row(row)``, ``_show_hover(text)``, a ``_hovered`` attribute and a ``row_clicked``
signal, and connects ``scene().sigMouseClicked`` to ``_on_mouse_clicked``.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QMouseEvent


class CellClicks:
    """Mixin for a pg.GraphicsView-based heatmap: a left click on a cell selects its row."""

    def _on_mouse_clicked(self, event: object) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        cell = self._cell_at(event.scenePos())
        if cell is not None:
            self.set_selected_row(cell[0])
            self.row_clicked.emit(cell[0])

    def mousePressEvent(self, event: QMouseEvent) -> None:
        super().mousePressEvent(event)
        self._accept_cell_click(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        self._accept_cell_click(event)

    def _accept_cell_click(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton \
                and self._cell_at(self.mapToScene(event.position().toPoint())) is not None:
            event.accept()

    def leaveEvent(self, event: QEvent) -> None:
        self._hovered = None
        self._show_hover("")
        super().leaveEvent(event)
