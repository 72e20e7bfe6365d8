"""Export any panel as PNG or SVG, for slides and papers.

pyqtgraph's exporters handle graphics scenes (plots keep their vector text and can be
rendered larger than on screen); plain widgets (token chips, sliders) are grabbed or
rendered through QPainter. pyqtgraph 0.14.0's SVGExporter raises ValueError with current
Qt (pyqtgraph issue #3485), so SVG falls back to rendering the scene into a QSvgGenerator.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters as pg_exporters
from PySide6.QtCore import QPoint, QRectF, QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QWidget

log = logging.getLogger(__name__)

Exportable = QWidget | QGraphicsItem | QGraphicsScene


def _graphics_target(target: Exportable) -> QGraphicsItem | QGraphicsScene | None:
    """What pyqtgraph's exporters should export for ``target``; None for a plain widget."""
    if isinstance(target, pg.PlotWidget):
        return target.getPlotItem()
    if isinstance(target, pg.GraphicsView):  # GraphicsLayoutWidget and friends: the whole scene
        return target.scene()
    if isinstance(target, QGraphicsItem | QGraphicsScene):
        return target
    return None


def _source_rect(target: QGraphicsItem | QGraphicsScene) -> QRectF:
    if isinstance(target, QGraphicsScene):
        views = target.views()
        if views:
            view = views[0]
            return view.mapToScene(view.viewport().rect()).boundingRect()
        return target.sceneRect()
    return target.sceneBoundingRect()


def _scene_of(target: QGraphicsItem | QGraphicsScene) -> QGraphicsScene:
    return target if isinstance(target, QGraphicsScene) else target.scene()


def export_png(target: Exportable, path: str | Path, width: int | None = None) -> Path:
    """Write ``target`` (a pyqtgraph widget, a graphics item or scene, or any QWidget) as PNG.

    ``width`` in pixels scales the image (height follows the aspect ratio); graphics are
    re-rendered at that size, plain widgets are grabbed and resampled smoothly.
    """
    path = Path(path)
    graphics = _graphics_target(target)
    if graphics is not None:
        exporter = pg_exporters.ImageExporter(graphics)
        if width is not None:
            exporter.parameters()["width"] = int(width)
        exporter.export(str(path))
        return path
    pixmap = target.grab()
    if width is not None and pixmap.width() > 0:
        pixmap = pixmap.scaledToWidth(int(width), Qt.TransformationMode.SmoothTransformation)
    if not pixmap.save(str(path), "PNG"):
        raise OSError(f"could not write PNG to {path}")
    return path


def export_svg(target: Exportable, path: str | Path) -> Path:
    """Write ``target`` as SVG: pyqtgraph's SVGExporter if it works, else QSvgGenerator."""
    path = Path(path)
    graphics = _graphics_target(target)
    if graphics is not None:
        try:
            pg_exporters.SVGExporter(graphics).export(str(path))
            return path
        except Exception as err:  # pyqtgraph#3485: ValueError in correctCoordinates with Qt 6.x
            log.debug("pyqtgraph SVGExporter failed (%s); rendering through QSvgGenerator", err)
        source = _source_rect(graphics)
        scene = _scene_of(graphics)
        size = QSize(max(1, round(source.width())), max(1, round(source.height())))
        generator = _svg_generator(path, size, target)
        painter = QPainter(generator)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
            scene.render(painter, QRectF(0, 0, size.width(), size.height()), source)
        finally:
            painter.end()
        return path
    size = target.size()
    generator = _svg_generator(path, size, target)
    painter = QPainter(generator)
    try:
        target.render(painter, QPoint(0, 0))
    finally:
        painter.end()
    return path


def _svg_generator(path: Path, size: QSize, target: object) -> QSvgGenerator:
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(size)
    generator.setViewBox(QRectF(0, 0, size.width(), size.height()))
    generator.setTitle("Logitscope export")
    generator.setDescription(type(target).__name__)
    return generator

