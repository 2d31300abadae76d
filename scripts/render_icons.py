#!/usr/bin/env python3
"""Render the action icons' SVG sources to PNG masks the app tints at run time.

The packaged app leaves out Qt's SVG module and plugins (they add about
1 MB and the GTK-free build needs nothing else from them), so the icons ship
as small PNGs: the shape in the alpha channel, drawn black. ``app/ui/icons.py``
fills them with the palette's text colour, so one set serves light and dark.
Run this after adding or changing an SVG in resources/icons/actions/.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QByteArray, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

FOLDER = Path(__file__).resolve().parent.parent / "resources" / "icons" / "actions"
SIZES = (16, 32, 48)


def main() -> int:
    QGuiApplication(sys.argv)
    for svg in sorted(FOLDER.glob("*.svg")):
        renderer = QSvgRenderer(QByteArray(svg.read_bytes()))
        if not renderer.isValid():
            print(f"{svg.name}: not a valid SVG", file=sys.stderr)
            return 1
        for size in SIZES:
            image = QImage(size, size, QImage.Format_ARGB32_Premultiplied)
            image.fill(Qt.transparent)
            painter = QPainter(image)
            painter.setRenderHint(QPainter.Antialiasing)
            renderer.render(painter, QRectF(0, 0, size, size))
            painter.end()
            image.save(str(FOLDER / f"{svg.stem}-{size}.png"))
    print(f"rendered {len(list(FOLDER.glob('*.svg')))} icons at {SIZES} px")
    return 0


if __name__ == "__main__":
    sys.exit(main())
