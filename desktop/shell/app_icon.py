"""The application icon: one SVG drawn for the project (assets/icons/logitscope.svg).

The window, the packaged bundle and the Linux desktop entry all use it. Pixmaps are rendered
from the SVG with QSvgRenderer rather than handing the file to QIcon, because QIcon reads SVG
only through the svg icon-engine plugin, which a frozen build may not carry.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

ICON_NAME = "logitscope"
# The sizes of the hicolor theme that desktops look up for an application icon.
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def icon_svg() -> Path:
    """Where the SVG lives (inside the assets package, so it travels with wheels and bundles)."""
    # one joinpath argument: in a frozen app `files` is a MultiplexedPath, which takes only one
    return Path(str(resources.files("assets").joinpath(f"icons/{ICON_NAME}.svg")))


def render(size: int, svg: Path | None = None) -> QImage:
    """The icon as a `size` x `size` image with a transparent background."""
    renderer = QSvgRenderer(str(svg or icon_svg()))
    if not renderer.isValid():
        raise ValueError(f"{svg or icon_svg()} is not a valid SVG image")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def app_icon() -> QIcon:
    """A QIcon holding the icon at every hicolor size (needs a QGuiApplication)."""
    icon = QIcon()
    for size in SIZES:
        icon.addPixmap(QPixmap.fromImage(render(size)))
    return icon


def write_pngs(folder: Path, sizes: tuple[int, ...] = SIZES) -> dict[int, Path]:
    """Render the PNGs a package ships, as `folder/<n>x<n>/apps/logitscope.png` (hicolor layout)."""
    written = {}
    for size in sizes:
        path = folder / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not render(size).save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
        written[size] = path
    return written
