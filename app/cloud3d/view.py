"""The 3D panel: a title line, the OpenGL view of the point cloud (``app.cloud3d.gl``, an OpenGL window of its own
embedded here) and the camera's intrinsics in use underneath. It stands beside the 2D panels: OpenGL cannot draw
inside the pyqtgraph 2D scene.

OpenGL is optional. The first time the panel is shown, ``gl_problem`` checks that PyOpenGL imports and that an
OpenGL 2.0 context can be made on this display; when not, the panel stays greyed out with the reason in one line
and the rest of the window runs on. Nothing of OpenGL is imported or created before that.
"""
import os
import time

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QGuiApplication, QOffscreenSurface, QOpenGLContext
from PyQt5.QtWidgets import QLabel, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget

from app import theme
from model.errors import first_line

from .cloud import view_axes


def gl_problem():
    """Why the 3D view cannot draw here, in one line; None when it can."""
    try:
        import OpenGL.GL  # noqa: F401
        import pyqtgraph.opengl  # noqa: F401
    except ImportError as e:
        return f"PyOpenGL is not installed ({first_line(e)}); pip install PyOpenGL"
    except Exception as e:  # PyOpenGL without a system OpenGL library to load
        return f"OpenGL cannot be loaded: {first_line(e)}"
    context, surface = QOpenGLContext(), QOffscreenSurface()
    if not context.create():
        display = os.environ.get("DISPLAY") or "none"
        return (f"no OpenGL context can be made on this display (Qt platform {QGuiApplication.platformName()}, "
                f"X display {display})")
    surface.setFormat(context.format())
    surface.create()
    try:
        if not context.makeCurrent(surface):
            return "an OpenGL context was made but cannot draw on this display"
        major, minor = context.format().version()
        if context.isOpenGLES() or (major, minor) < (2, 0):
            return f"OpenGL {'ES ' if context.isOpenGLES() else ''}{major}.{minor} is too old: the 3D view needs 2.0"
        return None
    finally:
        context.doneCurrent()
        surface.destroy()


def one_line(text=""):
    label = QLabel(text)
    label.setTextFormat(Qt.PlainText)
    label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)  # long text is cut, never widens the panel
    label.setStyleSheet(f"color: {theme.MUTED}; padding: 2px 6px;")
    return label


class CloudPanel(QWidget):
    picked = pyqtSignal(object)  # the map pixel (row, col) of a Shift-clicked point, with the frame it is in

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = one_line("3D")
        self.title.setToolTip("Drag: orbit · middle drag or Ctrl+drag: pan · wheel: zoom · Shift+click: measure · "
                              "Shift+T: colouring · Home: reset the view · click a class in the legend: hide it")
        self.camera = one_line()
        self.placeholder = QLabel("The 3D view starts with the first result.")
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet(f"color: {theme.MUTED}; background: {theme.VIEW_BACKGROUND}; padding: 12px;")
        self.body = QStackedWidget()
        self.body.addWidget(self.placeholder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        for widget in (self.title, self.body, self.camera):
            layout.addWidget(widget)
        layout.setStretch(1, 1)
        self.setMinimumWidth(200)
        self.view = None  # the app.cloud3d.gl.CloudView, once made, and the widget that holds it
        self.container = None
        self.problem = None  # why there is none, once tried
        self.upload_ms = None

    def activate(self):
        """Makes the OpenGL view, the first time; False when OpenGL cannot draw here (the panel then says why,
        greyed out)."""
        if self.view is not None or self.problem is not None:
            return self.view is not None
        self.problem = gl_problem()
        if self.problem is not None:
            self.placeholder.setText(f"3D view unavailable: {self.problem}")
            self.placeholder.setEnabled(False)
            self.title.setText("3D view unavailable")
            for label in (self.title, self.placeholder):
                label.setStyleSheet(label.styleSheet() + f"color: {theme.DISABLED};")
            return False
        from .gl import CloudView

        self.view = CloudView()
        self.view.picked.connect(self._picked)
        self.container = QWidget.createWindowContainer(self.view)
        self.container.setMinimumSize(160, 120)
        self.body.addWidget(self.container)
        self.body.setCurrentWidget(self.container)
        return True

    def set_camera(self, intrinsics, reach, text):
        """The frustum of ``intrinsics``, the grid for ``reach`` metres, and ``text`` saying which they are."""
        self.camera.setText(text)
        self.camera.setToolTip(text)
        if self.view is not None:
            self.view.set_camera(intrinsics, reach)

    def show_frame(self, frame):
        """Hands ``frame``'s arrays to OpenGL (timed: ``draw_ms``)."""
        if self.view is None:
            return
        self.body.setCurrentWidget(self.container)
        start = time.perf_counter()
        self.view.show_frame(frame)
        self.upload_ms = (time.perf_counter() - start) * 1e3

    def show_message(self, text):
        """``text`` in place of the view (a model without depth)."""
        self.placeholder.setText(text)
        self.body.setCurrentWidget(self.placeholder)

    @property
    def frame(self):
        return self.view.frame if self.view is not None else None

    @property
    def draw_ms(self):
        """Handing the newest frame to OpenGL and the last repaint, on the GUI thread."""
        if self.view is None or self.upload_ms is None:
            return None
        return self.upload_ms + (self.view.paint_ms or 0.0)

    def show_measure(self, camera_points, text):
        """The measured points (camera frame, 0 to 2) with ``text`` by their line."""
        if self.view is not None:
            self.view.show_measure(view_axes(camera_points), text)

    def reset_view(self):
        if self.view is not None:
            self.view.reset_view()

    def _picked(self, index):
        frame = self.view.frame
        if index is not None and frame is not None:
            self.picked.emit((tuple(int(v) for v in frame.pixels[index]), frame))
