"""Icons on the main actions, tinted with the palette's text colour.

The shapes are Lucide's (ISC licence, resources/icons/actions/LICENSE),
shipped as PNG masks (scripts/render_icons.py) so the packaged app needs no
SVG support. One mask serves light and dark: it is filled with the colour
of the button's text, and filled again when the palette changes.
"""

from __future__ import annotations

import functools

from app.resources import resource
from app.ui.qt import QAbstractButton, QColor, QEvent, QIcon, QObject, QPainter, QPalette, QPixmap, Qt

# What each action shows, by Lucide's names.
SHAPES = {
    "send": "send-horizontal",
    "stop": "square",
    "attach": "paperclip",
    "new-chat": "square-pen",
    "chat-settings": "sliders-horizontal",
    "documents": "files",
    "copy": "copy",
    "edit": "pencil",
    "fork": "git-branch",
    "continue": "chevrons-right",
    "regenerate": "refresh-cw",
    "delete": "trash-2",
    "download": "download",
    "search": "search",
    "import": "folder-open",
    "library": "library",
    "server": "server",
}
SIZES = (16, 32, 48)


@functools.lru_cache(maxsize=None)
def _mask(shape: str, size: int) -> QPixmap:
    return QPixmap(str(resource("icons", "actions", f"{shape}-{size}.png")))


@functools.lru_cache(maxsize=256)
def _tinted(shape: str, size: int, rgba: int) -> QPixmap:
    mask = _mask(shape, size)
    pixmap = QPixmap(mask.size())
    pixmap.fill(Qt.transparent)
    painter = QPainter(pixmap)
    painter.drawPixmap(0, 0, mask)
    painter.setCompositionMode(QPainter.CompositionMode_SourceIn)
    painter.fillRect(pixmap.rect(), QColor.fromRgba(rgba))
    painter.end()
    return pixmap


def _icon(shape: str, colours: dict) -> QIcon:
    """``colours``: {QIcon mode: RGBA} to draw the mask in."""
    result = QIcon()
    for mode, rgba in colours.items():
        for size in SIZES:
            pixmap = _tinted(shape, size, rgba)
            if not pixmap.isNull():
                result.addPixmap(pixmap, mode)
    return result


def icon_in(name: str, color: QColor) -> QIcon:
    """The icon for action ``name`` drawn in ``color``."""
    return _icon(SHAPES[name], {QIcon.Normal: color.rgba()})


def icon(name: str, palette: QPalette) -> QIcon:
    """The icon for action ``name`` in the colours of ``palette`` (normal and disabled)."""
    return _icon(SHAPES[name], {mode: palette.color(group, QPalette.ButtonText).rgba()
                                for mode, group in ((QIcon.Normal, QPalette.Active),
                                                    (QIcon.Disabled, QPalette.Disabled))})


class _Retint(QObject):
    def __init__(self, button: QAbstractButton, name: str):
        super().__init__(button)
        self._name = name

    def eventFilter(self, watched, event):  # noqa: N802
        if event.type() == QEvent.PaletteChange:
            watched.setIcon(icon(self._name, watched.palette()))
        return False


def set_icon(button: QAbstractButton, name: str) -> None:
    """Give ``button`` the icon for ``name``; it follows the button's palette from then on."""
    button.setIcon(icon(name, button.palette()))
    button.installEventFilter(_Retint(button, name))
