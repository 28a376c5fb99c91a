"""The OpenGL view of the 3D panel (pyqtgraph.opengl): the point cloud, a ground grid, the camera's frustum and
the measured points. Left drag orbits, middle drag (or Ctrl+left drag) pans, the wheel zooms; Shift+click picks
the point under the pointer. Imported only once ``app.cloud3d.view.gl_problem`` found OpenGL usable.

It is a QOpenGLWindow (pyqtgraph's GLViewMixin) embedded in the panel, not a QOpenGLWidget: a QOpenGLWidget makes
Qt compose the whole main window through OpenGL on every repaint, which on a software rasteriser costs more than
drawing the cloud itself (benchmarks/cloud_view.py).
"""
import time

import numpy as np
import pyqtgraph.opengl as gl
from OpenGL.GL import (
    GL_BLEND,
    GL_COLOR_ARRAY,
    GL_DEPTH_TEST,
    GL_FLOAT,
    GL_ONE_MINUS_SRC_ALPHA,
    GL_POINTS,
    GL_SRC_ALPHA,
    GL_UNSIGNED_BYTE,
    GL_VERTEX_ARRAY,
    glColorPointer,
    glDisableClientState,
    glDrawArrays,
    glEnableClientState,
    glPointSize,
    glVertexPointer,
)
from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QColor, QOpenGLWindow, QSurfaceFormat
from pyqtgraph import Vector
from pyqtgraph.opengl.GLGraphicsItem import GLGraphicsItem
from pyqtgraph.opengl.GLViewWidget import GLViewMixin

from app import theme

from .cloud import frustum_lines, nearest_on_screen

DENSE_POINTS = 40_000  # from this many points on, 2-pixel points leave no gaps; fewer get 3 pixels
PICK_RADIUS_PX = 8
CLICK_SLOP_PX = 4  # a press and release closer than this is a click, not a drag
FRUSTUM_SHARE = 0.12  # the frustum reaches this share of the depth range
ON_TOP = {GL_DEPTH_TEST: False, GL_BLEND: True, "glBlendFunc": (GL_SRC_ALPHA, GL_ONE_MINUS_SRC_ALPHA)}  # measuring


def point_size(count):
    """Pixels per point for a cloud of ``count`` points: larger when sparse, so that surfaces look closed."""
    return 2.0 if count >= DENSE_POINTS else 3.0


def rgba(colour):
    """A colour (a name or a 0..255 RGBA tuple) as the 0..1 RGBA that pyqtgraph.opengl's items take."""
    return QColor(*colour).getRgbF() if isinstance(colour, tuple) else QColor(colour).getRgbF()


class PointsItem(GLGraphicsItem):
    """Square points of one size in pixels, an RGB colour each: plain GL_POINTS from the arrays as they are,
    a fraction of the cost of pyqtgraph's textured point sprites on a software rasteriser."""

    def __init__(self, size=2.0):
        super().__init__()
        self.setGLOptions("opaque")
        self.size = size
        self.positions = np.zeros((0, 3), np.float32)
        self.colours = np.zeros((0, 3), np.uint8)

    def set_data(self, positions, colours, size):
        """``positions``: N x 3 float32; ``colours``: N x 3 uint8; ``size``: pixels per point."""
        self.positions = np.ascontiguousarray(positions, np.float32)
        self.colours = np.ascontiguousarray(colours, np.uint8)
        self.size = size
        self.update()

    def paint(self):
        if not len(self.positions):
            return
        self.setupGLState()
        glPointSize(self.size)
        glEnableClientState(GL_VERTEX_ARRAY)
        glEnableClientState(GL_COLOR_ARRAY)
        try:
            glVertexPointer(3, GL_FLOAT, 0, self.positions)
            glColorPointer(3, GL_UNSIGNED_BYTE, 0, self.colours)
            glDrawArrays(GL_POINTS, 0, len(self.positions))
        finally:
            glDisableClientState(GL_COLOR_ARRAY)
            glDisableClientState(GL_VERTEX_ARRAY)


class CloudView(GLViewMixin, QOpenGLWindow):
    picked = pyqtSignal(object)  # the index of the Shift-clicked point of the frame drawn, or None

    def __init__(self):
        super().__init__()
        surface = QSurfaceFormat.defaultFormat()
        surface.setDepthBufferSize(24)  # points hide what is behind them; a window's default may have none
        self.setFormat(surface)
        self.setFlag(Qt.WindowDoesNotAcceptFocus)  # the window's keys keep working over it
        self.setBackgroundColor(theme.VIEW_BACKGROUND)
        self.grid = gl.GLGridItem(color=theme.GRID, glOptions="translucent")
        self.frustum = gl.GLLinePlotItem(mode="lines", color=rgba(theme.FRUSTUM), width=1.5, antialias=True,
                                         glOptions="translucent")
        self.points = PointsItem()
        self.measure_line = gl.GLLinePlotItem(mode="lines", color=rgba(theme.MEASURE), width=2.5, antialias=True,
                                              glOptions=ON_TOP)
        self.measure_marks = gl.GLScatterPlotItem(size=11, pxMode=True, color=rgba(theme.MEASURE), glOptions=ON_TOP)
        self.measure_label = gl.GLTextItem(color=QColor(theme.MEASURE))
        for item in (self.grid, self.frustum, self.points, self.measure_line, self.measure_marks,
                     self.measure_label):
            self.addItem(item)
        for item in (self.measure_line, self.measure_marks, self.measure_label):
            item.setDepthValue(1)  # drawn after the cloud, over it
        self.show_measure(np.zeros((0, 3), np.float32), "")
        self.frame = None  # the app.cloud.CloudFrame drawn
        self.reach = 10.0  # metres: the depth range the grid and the frustum are sized to
        self.paint_ms = None  # the last repaint to its buffer swap (the rasteriser's work included), GUI thread
        self._paint_start = None
        self._press = None
        self.frameSwapped.connect(self._swapped)

    def set_camera(self, intrinsics, reach):
        """The frustum of ``intrinsics`` and a grid for a depth range of ``reach`` metres."""
        self.reach = float(reach)
        self.frustum.setData(pos=frustum_lines(intrinsics, FRUSTUM_SHARE * self.reach))
        size = 2 * max(1.0, round(self.reach))
        self.grid.setSize(size, size)
        self.grid.setSpacing(*(1.0 if self.reach <= 20 else 5.0,) * 2)
        self._place_grid()

    def show_frame(self, frame):
        """Draws ``frame``'s points; the arrays go to OpenGL as they are."""
        first = self.frame is None
        self.frame = frame
        self.points.set_data(frame.positions, frame.colours, point_size(len(frame)))
        self._place_grid()
        if first:
            self.reset_view()

    def _place_grid(self):
        floor = self.frame.floor if self.frame is not None else -1.5
        self.grid.resetTransform()
        self.grid.translate(0, self.grid.size()[1] / 2, floor)

    def reset_view(self):
        """Behind and above the camera, looking the way it looks, at the middle of the points (of the depth
        range before the first frame)."""
        if self.frame is not None and len(self.frame):
            ahead = float(np.median(self.frame.positions[:, 1]))
        else:
            ahead = 0.35 * self.reach
        wide = max(1.0, self.width() / max(1, self.height()))  # the field of view is horizontal: keep the height
        self.opts["fov"] = 60
        self.setCameraPosition(pos=Vector(0, ahead, 0), distance=(1.7 * ahead + 1.0) * wide, elevation=22,
                               azimuth=-90)

    def show_measure(self, points, text):
        """Marks on the measured points (0 to 2, the view's axes), the line between two and ``text`` by it."""
        points = np.asarray(points, np.float32).reshape(-1, 3)
        self.measure_marks.setData(pos=points)
        self.measure_marks.setVisible(len(points) > 0)
        self.measure_line.setData(pos=points if len(points) == 2 else np.zeros((0, 3), np.float32))
        self.measure_line.setVisible(len(points) == 2)
        self.measure_label.setData(pos=points.mean(axis=0) if len(points) == 2 else (0, 0, 0),
                                   text=text if len(points) == 2 else "")

    def paintGL(self, *args, **kwargs):
        self._paint_start = time.perf_counter()
        super().paintGL(*args, **kwargs)

    def _swapped(self):
        if self._paint_start is not None:
            self.paint_ms = (time.perf_counter() - self._paint_start) * 1e3
            self._paint_start = None

    def screen_matrix(self):
        """The projection times the view matrix, row-major."""
        return np.array((self.projectionMatrix() * self.viewMatrix()).data(), np.float64).reshape(4, 4).T

    def pick(self, x, y):
        """The index of the drawn point nearest position (x, y) in this window, or None."""
        if self.frame is None:
            return None
        return nearest_on_screen(self.frame.positions, self.screen_matrix(), (self.width(), self.height()),
                                 (x, y), PICK_RADIUS_PX)

    def mousePressEvent(self, event):
        shift_click = event.button() == Qt.LeftButton and event.modifiers() & Qt.ShiftModifier
        self._press = event.pos() if shift_click else None
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event):
        press, self._press = self._press, None
        if press is not None and (event.pos() - press).manhattanLength() < CLICK_SLOP_PX:
            self.picked.emit(self.pick(event.pos().x(), event.pos().y()))
        super().mouseReleaseEvent(event)
