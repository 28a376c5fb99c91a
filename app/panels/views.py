"""The image panels: input, segmentation, depth, normals or the blend, laid out to fill the view.

One pyqtgraph scene holds every panel; ``grid`` places them as large as the view allows with the images'
aspect ratio, each with its title above and its key below (the depth scale in metres under the depth panel,
a shaded sphere under the normals). Panels are in frame pixels: the input at its own size, maps at the
network's size stretched over the same rectangle, so that zoom, pan and the hover cross agree everywhere.
"""
import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QBrush, QColor, QFont, QFontMetricsF, QImage, QPen, QPixmap
from PyQt5.QtWidgets import QGraphicsObject, QGraphicsSimpleTextItem

from app import theme
from model.processing import depth_lut

from .compose import depth_ticks, panel_image
from .table import PANEL_TABLE, PANELS, Arrangement, normals_key, visible_panels

GAP = 10  # pixels between and around panels
TITLE_H = 22
KEY_H = 40  # the row under the depth and normals panels
KEYED = ("depth", "normals")


@dataclass(frozen=True)
class Cell:
    """Where one panel goes, in view pixels: (x, y, width, height) of its title, image and key."""

    title: tuple
    image: tuple
    key: tuple


def grid(count, aspect, width, height, keyed=(), gap=GAP, title_h=TITLE_H, key_h=KEY_H):
    """Cells for ``count`` panels showing images of ``aspect`` (width / height) in a ``width`` x ``height``
    view: the rows x columns that give the largest images (of those within 5 % of the largest, the one with
    the fewest empty cells), centred. ``keyed``: the indices of panels with a key row under them (a row holds
    one when any of its panels needs it)."""
    options = []
    for columns in range(1, count + 1):
        rows = math.ceil(count / columns)
        key_rows = [key_h if any(i in keyed for i in range(r * columns, (r + 1) * columns)) else 0
                    for r in range(rows)]
        image_h = (height - gap * (rows + 1) - rows * title_h - sum(key_rows)) / rows
        image_w = min((width - gap * (columns + 1)) / columns, image_h * aspect)
        if image_w > 0:
            options.append((image_w, rows * columns - count, columns, rows, key_rows))
    if not options:
        return [Cell((0, 0, 0, 0), (0, 0, 1, 1), (0, 0, 0, 0)) for _ in range(count)]
    largest = max(o[0] for o in options)
    image_w, _, columns, rows, key_rows = min((o for o in options if o[0] >= 0.95 * largest),
                                              key=lambda o: (o[1], -o[0]))
    image_h = image_w / aspect
    used_w = columns * image_w + (columns - 1) * gap
    used_h = rows * (title_h + image_h) + sum(key_rows) + (rows - 1) * gap
    x0, y = (width - used_w) / 2, (height - used_h) / 2
    cells = []
    for r in range(rows):
        for c in range(columns):
            if len(cells) == count:
                break
            x = x0 + c * (image_w + gap)
            cells.append(Cell((x, y, image_w, title_h), (x, y + title_h, image_w, image_h),
                              (x, y + title_h + image_h, image_w, key_rows[r])))
        y += title_h + image_h + key_rows[r] + gap
    return cells


class ImagePanel:
    """One titled image in a ViewBox, in frame pixels, with a cross marking the hovered pixel."""

    def __init__(self, name, scene):
        self.name = name
        self.title = QGraphicsSimpleTextItem(PANEL_TABLE[name].title)
        self.title.setBrush(QColor(theme.TEXT))
        font = QFont()
        font.setPointSize(10)
        self.title.setFont(font)
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.0)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.markers = [pg.ScatterPlotItem(symbol="+", size=19, pen=pg.mkPen("k", width=4), brush=None),
                        pg.ScatterPlotItem(symbol="+", size=17, pen=pg.mkPen("w", width=2), brush=None)]
        self.measure_line = pg.PlotCurveItem(pen=pg.mkPen(theme.MEASURE, width=2))
        self.measure_marks = pg.ScatterPlotItem(symbol="o", size=9, pen=pg.mkPen("k", width=1.5),
                                                brush=pg.mkBrush(theme.MEASURE))
        self.measure_label = pg.TextItem(color=theme.MEASURE, fill=pg.mkBrush(21, 23, 28, 200))
        for item in (*self.markers, self.measure_line, self.measure_marks, self.measure_label):
            item.setZValue(10)
            self.view.addItem(item, ignoreBounds=True)
        for item in (self.title, self.view):
            scene.addItem(item)
        self.frame_hw = None  # (H, W) of the frame the image covers
        self.set_visible(False)

    def show(self, rgb, frame_hw):
        """Draws ``rgb`` over the frame's rectangle; True when that rectangle changed."""
        h, w = frame_hw
        self.image.setImage(rgb, autoLevels=False, levels=(0, 255), rect=QRectF(0, 0, w, h))
        changed, self.frame_hw = self.frame_hw != tuple(frame_hw), tuple(frame_hw)
        return changed

    def place(self, cell):
        x, y, width, _ = cell.title
        self.title.setPos(x + (width - self.title.boundingRect().width()) / 2, y + 2)
        self.view.setGeometry(QRectF(*cell.image))

    def set_visible(self, visible):
        self.title.setVisible(visible)
        self.view.setVisible(visible)

    def mark(self, pixel):
        points = [] if pixel is None else [{"pos": (pixel[1] + 0.5, pixel[0] + 0.5)}]
        for item in self.markers:
            item.setData(points)

    def show_measure(self, pixels, text):
        """Marks on the measured pixels (row, col), the line between two, and ``text`` over its middle."""
        xs, ys = [p[1] + 0.5 for p in pixels], [p[0] + 0.5 for p in pixels]
        self.measure_marks.setData(xs, ys)
        self.measure_line.setData(xs if len(pixels) == 2 else [], ys if len(pixels) == 2 else [])
        self.measure_label.setText(text if len(pixels) == 2 else "")
        if len(pixels) == 2 and self.frame_hw is not None:
            below = min(ys) < 0.2 * self.frame_hw[0]  # above the line unless that leaves the image
            self.measure_label.setAnchor((0.5, -0.3) if below else (0.5, 1.3))
            self.measure_label.setPos(sum(xs) / 2, max(ys) if below else min(ys))


class PanelKey(QGraphicsObject):
    """A colour key under a panel, KEY_H high and as wide as the panel; ``place`` puts it there."""

    def __init__(self):
        super().__init__()
        self._w = 200.0

    def place(self, rect):
        self.prepareGeometryChange()
        self.setPos(rect[0], rect[1])
        self._w = rect[2]

    def boundingRect(self):
        return QRectF(0, 0, self._w, KEY_H)


class DepthScale(PanelKey):
    """The depth colours on the preset's fixed range in metres, ticked, as wide as the depth panel."""

    def __init__(self):
        super().__init__()
        self.max_depth = 10.0
        lut = depth_lut()
        self.gradient = QPixmap.fromImage(QImage(lut.tobytes(), len(lut), 1, 3 * len(lut), QImage.Format_RGB888))

    def set_range(self, max_depth):
        self.max_depth = float(max_depth)
        self.update()

    def paint(self, painter, option, widget=None):
        bar = QRectF(0, 4, self._w, 12)
        painter.drawPixmap(bar, self.gradient, QRectF(self.gradient.rect()))
        painter.setPen(QPen(QColor(theme.TEXT)))
        font = QFont()
        font.setPointSize(8)
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        label_w = metrics.horizontalAdvance(f"{self.max_depth:g}.5 m") + 16  # the widest label and a gap
        most = max(2, int(self._w // label_w))
        for value in depth_ticks(self.max_depth, intervals=most - 1):
            x = self._w * value / self.max_depth
            painter.drawLine(int(x), 16, int(x), 19)
            text = f"{value:g} m" if value == 0 else f"{value:g}"
            text_w = metrics.horizontalAdvance(text)
            painter.drawText(QRectF(min(max(0.0, x - text_w / 2), self._w - text_w), 20, text_w + 1, 16),
                             Qt.AlignLeft, text)


class NormalsKey(PanelKey):
    """A sphere shaded with the normals panel's colouring: a surface has the colour of the sphere where the
    sphere faces the same way."""

    TEXT = "colour = the way a surface faces, as on this sphere"

    def __init__(self):
        super().__init__()
        size = KEY_H - 4
        rgba = normals_key(size)
        self.sphere = QPixmap.fromImage(QImage(rgba.tobytes(), size, size, 4 * size, QImage.Format_RGBA8888))

    def paint(self, painter, option, widget=None):
        painter.drawPixmap(0, 2, self.sphere)
        painter.setPen(QPen(QColor(theme.MUTED)))
        font = QFont()
        font.setPointSize(8)
        painter.setFont(font)
        left = self.sphere.width() + 8
        painter.drawText(QRectF(left, 0, max(0.0, self._w - left), KEY_H),
                         Qt.AlignVCenter | Qt.TextWordWrap, self.TEXT)


class Banner(QGraphicsObject):
    """A warning drawn over the top of a panel (untrained weights), not zoomed with it."""

    def __init__(self):
        super().__init__()
        self.text, self._w, self._h = "", 200.0, 0.0
        self._font = QFont()
        self._font.setPointSize(9)
        self._font.setBold(True)
        self.setZValue(20)
        self.setAcceptedMouseButtons(Qt.NoButton)

    def set_text(self, text):
        self.text = text
        self.setVisible(bool(text))
        self._measure()

    def place(self, rect):
        self.setPos(rect[0] + 6, rect[1] + 6)
        self._w = max(40.0, rect[2] - 12)
        self._measure()

    def _measure(self):
        self.prepareGeometryChange()
        bounds = QFontMetricsF(self._font).boundingRect(QRectF(0, 0, self._w - 16, 1e4),
                                                       Qt.TextWordWrap, self.text)
        self._h = bounds.height() + 10

    def boundingRect(self):
        return QRectF(0, 0, self._w, self._h)

    def paint(self, painter, option, widget=None):
        painter.setPen(Qt.NoPen)
        colour = QColor(theme.WARNING)
        colour.setAlpha(225)
        painter.setBrush(QBrush(colour))
        painter.drawRoundedRect(self.boundingRect(), 4, 4)
        painter.setPen(QPen(QColor("white")))
        painter.setFont(self._font)
        painter.drawText(self.boundingRect().adjusted(8, 5, -8, -5), Qt.TextWordWrap | Qt.AlignVCenter, self.text)


class ImageViews(pg.GraphicsView):
    """The panels an ``Arrangement`` shows for the newest result. Emits the hovered frame pixel as
    (row, col), or None when the pointer is over no image, and the Shift-clicked one."""

    hovered = pyqtSignal(object)
    measured = pyqtSignal(object)  # a frame pixel Shift-clicked: one end of a measurement

    def __init__(self, parent=None):
        super().__init__(parent, background=theme.VIEW_BACKGROUND)
        scene = self.scene()
        self.panels = {name: ImagePanel(name, scene) for name in PANELS}
        self.depth_scale, self.normals_key, self.banner = DepthScale(), NormalsKey(), Banner()
        for item in (self.depth_scale, self.normals_key, self.banner):
            item.setVisible(False)
            scene.addItem(item)
        self.arrangement = Arrangement()
        self.names = []
        self.result = None
        self.frame_hw = (480, 640)  # until the first result: the aspect panels are laid out for
        self.zoomed = False  # by hand: then resizes keep the user's zoom
        for panel in self.panels.values():
            panel.view.sigRangeChangedManually.connect(self._zoomed_by_hand)
        scene.sigMouseMoved.connect(lambda pos: self.hovered.emit(self.pixel_at(pos)))
        scene.sigMouseClicked.connect(self._clicked)
        self.measure = ([], "")  # the measured pixels and the distance's text
        self._arrange(None)

    def set_depth_scale(self, max_depth):
        """The depth scale's fixed range in metres (the preset's)."""
        self.depth_scale.set_range(max_depth)

    def set_warning(self, text):
        """A banner over the segmentation (or the top) panel; '' hides it."""
        self.banner.set_text(text or "")
        self._place()

    def set_arrangement(self, arrangement):
        self.arrangement = arrangement
        if self.result is not None:
            self.show_result(self.result)
        else:
            self._arrange(None)

    def show_result(self, result):
        self.result = result
        self._arrange(result)
        resized = False
        for name in self.names:
            resized |= self.panels[name].show(panel_image(result, name, self.arrangement.opacity),
                                              result.frame.shape[:2])
        if tuple(result.frame.shape[:2]) != self.frame_hw:
            self.frame_hw = tuple(result.frame.shape[:2])
            self._place()
        elif resized:
            self.reset_zoom()

    def _arrange(self, result):
        names = visible_panels(result, self.arrangement)
        if names == self.names:
            return
        first = self.panels[names[0]].view if names else None
        for panel in self.panels.values():
            shown = panel.name in names
            panel.set_visible(shown)
            link = first if shown and panel.view is not first else None
            panel.view.setXLink(link)
            panel.view.setYLink(link)
        self.names = names
        self.zoomed = False
        self._place()

    def _place(self):
        """Lays the panels out for the view's size, and the keys and banner with them."""
        if not self.names:  # the 3D view alone: this view is hidden
            for item in (self.depth_scale, self.normals_key, self.banner):
                item.setVisible(False)
            return
        h, w = self.frame_hw
        keyed = [i for i, name in enumerate(self.names) if name in KEYED]
        cells = grid(len(self.names), w / h, self.width(), self.height(), keyed)
        for name, cell in zip(self.names, cells):
            self.panels[name].place(cell)
        for key, name in ((self.depth_scale, "depth"), (self.normals_key, "normals")):
            key.setVisible(name in self.names)
            if name in self.names:
                key.place(cells[self.names.index(name)].key)
        warned = next((n for n in ("segmentation", "blend") if n in self.names), self.names[0])
        self.banner.place(cells[self.names.index(warned)].image)
        self.banner.setVisible(bool(self.banner.text))
        if not self.zoomed:
            self.reset_zoom()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if hasattr(self, "panels") and not self.closed:  # (Qt resizes it inside __init__ and after close)
            self._place()

    def _zoomed_by_hand(self, *_):
        self.zoomed = True

    def reset_zoom(self):
        """The whole frame in every panel, following resizes (zooming or panning by hand stops that)."""
        self.zoomed = False
        h, w = self.frame_hw
        for name in self.names:
            self.panels[name].view.setRange(QRectF(0, 0, w, h), padding=0)

    def shown_image(self, name):
        """What panel ``name`` shows now (None when hidden)."""
        if name not in self.names:
            return None
        return self.panels[name].image.image

    def mark(self, pixel):
        for name in self.names:
            self.panels[name].mark(pixel)

    def show_measure(self, pixels, text=""):
        """The measured frame pixels (none, one or two) in every panel, with ``text`` over the line."""
        self.measure = (list(pixels), text)
        for panel in self.panels.values():
            panel.show_measure(*self.measure)

    def _clicked(self, event):
        if event.button() == Qt.LeftButton and event.modifiers() & Qt.ShiftModifier:
            pixel = self.pixel_at(event.scenePos())
            if pixel is not None:
                event.accept()
                self.measured.emit(pixel)

    def pixel_at(self, scene_pos):
        """(row, col) of the frame pixel under a scene position, or None."""
        for name in self.names:
            panel = self.panels[name]
            if panel.frame_hw is None or not panel.view.sceneBoundingRect().contains(scene_pos):
                continue
            point = panel.view.mapSceneToView(scene_pos)
            row, col = int(np.floor(point.y())), int(np.floor(point.x()))
            if 0 <= row < panel.frame_hw[0] and 0 <= col < panel.frame_hw[1]:
                return row, col
        return None

    def leaveEvent(self, event):
        self.hovered.emit(None)
        super().leaveEvent(event)
