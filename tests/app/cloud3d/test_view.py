"""The 3D view in the window: built and drawn under a real OpenGL context (Xvfb and Mesa; skipped, saying why,
where none can be made), its colourings and hidden classes, shown alone or beside the 2D panels, measuring in 2D
and in 3D, fitting the screen; greyed out without OpenGL; no cost at all while hidden; the snapshot's PLY."""
import sys
from dataclasses import replace

import numpy as np
import pytest
from plyfile import PlyData
from PyQt5.QtCore import QPoint, QPointF, QRect, QSize, Qt

from app.cloud3d import cloud as cloud_module
from app.cloud3d import view as cloud_view
from app.cloud3d.view import gl_problem
from app.panels.readout import distance
from app.window.screen_fit import initial_size
from model.geometry.pointcloud import pixel_point
from tests.app.gui_support import WAIT_MS, feed, known_result, low_resolution_result, missing_video


def drawn(qtbot, window, condition=lambda frame: True):
    """The cloud the 3D view draws once it meets ``condition`` (the redraw timer hands it over)."""
    panel = window.semantic3d.panel
    qtbot.waitUntil(lambda: panel.frame is not None and condition(panel.frame), timeout=WAIT_MS)
    return panel.frame


def framebuffer(view):
    """What the OpenGL view shows, as H x W x 3 RGB."""
    image = view.grabFramebuffer().convertToFormat(view.grabFramebuffer().Format_RGB888)
    pointer = image.bits()
    pointer.setsize(image.byteCount())
    return np.frombuffer(pointer, np.uint8).reshape(image.height(), image.bytesPerLine())[:, :image.width() * 3] \
        .reshape(image.height(), image.width(), 3).copy()


def covers(rgb, colour, tolerance=3):
    """Pixels of ``rgb`` within ``tolerance`` of ``colour``."""
    return int((np.abs(rgb.astype(int) - np.asarray(colour, int)).max(axis=2) <= tolerance).sum())


@pytest.fixture
def window_3d(make_window, tmp_path, qtbot):
    window = make_window(source=missing_video(tmp_path))
    window.resize(1366, 768)
    feed(window, known_result(shape=(96, 128)))
    window.semantic3d.beside_action.trigger()  # T
    return window


def test_the_3d_view_draws_the_labelled_cloud_under_a_real_opengl_context(opengl, window_3d, qtbot):
    window = window_3d
    panel = window.semantic3d.panel
    assert panel.isVisible() and window.views.isVisible() and panel.view.isValid()
    frame = drawn(qtbot, window)
    assert len(frame) == 96 * 128  # under the budget: every pixel
    np.testing.assert_array_equal(panel.view.points.positions, frame.positions)
    np.testing.assert_array_equal(panel.view.points.colours, frame.colours)
    qtbot.wait(100)
    rgb = framebuffer(panel.view)
    preset = window.result.preset
    for name in ("chair", "floor"):
        assert covers(rgb, preset.colours[preset.classes.index(name)]) > 200, name  # both classes on screen
    first = window.semantic3d.builder.builds
    feed(window, known_result(shape=(96, 128)), index=1)  # updated live, frame after frame
    qtbot.waitUntil(lambda: window.semantic3d.builder.builds > first, timeout=WAIT_MS)
    window.update_readout()
    text = window.performance.readout.text()
    assert "12,288&nbsp;points" in text.replace(" ", "&nbsp;") and "build" in text
    assert "NYUDv2 Kinect" in panel.camera.text() and "NYUDv2 Kinect" in text
    assert panel.draw_ms is not None and frame.build_ms > 0
    feed(window, replace(known_result(), depth=None), index=2)  # a model without depth: said in the panel
    assert panel.body.currentWidget() is panel.placeholder and "no depth head" in panel.placeholder.text()


def test_the_colouring_key_and_the_legend_change_what_the_3d_view_draws(opengl, window_3d, qtbot):
    window = window_3d
    result = window.result
    drawn(qtbot, window)
    window.semantic3d.colouring_action.trigger()  # Shift+T: by image
    frame = drawn(qtbot, window, lambda f: f.request.colouring == "image")
    rows, cols = frame.pixels.T
    np.testing.assert_array_equal(window.semantic3d.panel.view.points.colours, result.frame[rows, cols])
    window.semantic3d.colouring_action.trigger()
    frame = drawn(qtbot, window, lambda f: f.request.colouring == "depth")
    np.testing.assert_array_equal(frame.colours, result.depth_rgb[rows, cols])

    window.update_readout()  # fills the legend
    legend = window.legend
    chair = result.preset.classes.index("chair")
    item = legend.item(legend.classes.index(chair))
    qtbot.mouseClick(legend.viewport(), Qt.LeftButton, pos=legend.visualItemRect(item).center())
    assert window.semantic3d.hidden == {chair} and item.font().strikeOut()
    frame = drawn(qtbot, window, lambda f: f.request.hidden == {chair})
    assert len(frame) == int((result.labels != chair).sum())  # exactly the chair's points left out
    assert not np.isin(result.labels[frame.pixels[:, 0], frame.pixels[:, 1]], [chair]).any()
    assert "1 class hidden" in window.semantic3d.panel.title.text()
    qtbot.mouseClick(legend.viewport(), Qt.LeftButton, pos=legend.visualItemRect(item).center())
    frame = drawn(qtbot, window, lambda f: not f.request.hidden)
    assert len(frame) == 96 * 128 and not item.font().strikeOut()


def test_the_3d_view_alone_in_the_single_layout_and_beside_the_panels(opengl, window_3d, qtbot):
    window = window_3d
    drawn(qtbot, window)
    window.semantic3d.beside_action.trigger()  # T again: hidden
    assert not window.semantic3d.panel.isVisible() and not window.semantic3d.showing
    builds = window.semantic3d.builder.builds
    for i in range(3):  # closed again: nothing is built any more
        feed(window, known_result(shape=(96, 128)), index=i + 1)
    qtbot.wait(100)
    assert window.semantic3d.builder.builds == builds
    window.state.set_single_view("3d")
    assert window.semantic3d.panel.isVisible() and not window.views.isVisible() and window.views.names == []
    assert window.controls.single_box.currentText() == "3D"
    drawn(qtbot, window)
    window.controls.next_view_action.trigger()  # V: from 3D to the first 2D panel
    assert window.views.isVisible() and window.views.names == ["input"] and not window.semantic3d.panel.isVisible()


def screen_position(view, point):
    clip = view.screen_matrix() @ np.append(point, 1.0)
    ndc = clip[:3] / clip[3]
    return QPoint(round((ndc[0] + 1) / 2 * view.width()), round((1 - ndc[1]) / 2 * view.height()))


def test_shift_clicks_measure_metres_in_2d_and_in_3d(opengl, window_3d, qtbot):
    window = window_3d
    window.semantic3d.budget = 40  # few points, far apart on the screen: each click picks the one under it
    feed(window, known_result(shape=(96, 128)), index=1)
    frame = drawn(qtbot, window, lambda f: len(f) == 40)
    views = window.views
    qtbot.wait(100)
    camera = window.semantic3d.map_intrinsics(window.result)
    for pixel in ((40, 10), (20, 110)):  # chair, then floor: Shift-clicks on the input panel
        panel = views.panels["input"].view
        where = views.mapFromScene(panel.mapViewToScene(QPointF(pixel[1] + 0.5, pixel[0] + 0.5)))
        qtbot.mouseClick(views.viewport(), Qt.LeftButton, Qt.ShiftModifier, where)
    assert window.semantic3d.pixels == [(40, 10), (20, 110)]
    metres = distance(window.result, camera, (40, 10), (20, 110))
    assert window.status.measure.text() == f"↔ {metres:.2f} m" and window.status.measure.isVisible()
    assert f"{metres:.2f} m from x 10, y 40 to x 110, y 20" in window.statusBar().currentMessage()
    assert len(views.panels["segmentation"].measure_marks.data) == 2
    assert window.semantic3d.panel.view.measure_line.visible()

    view = window.semantic3d.panel.view
    view.reset_view()
    qtbot.wait(50)
    middle = QRect(20, 20, view.width() - 40, view.height() - 40)
    inside = [i for i, p in enumerate(frame.positions) if middle.contains(screen_position(view, p))]
    a, b = inside[0], inside[-1]
    for index in (a, b):
        qtbot.mouseClick(view, Qt.LeftButton, Qt.ShiftModifier, screen_position(view, frame.positions[index]))
    assert len(window.semantic3d.pixels) == 2
    expected = float(np.linalg.norm(frame.positions[a] - frame.positions[b]))
    cells = [tuple(frame.pixels[i]) for i in (a, b)]
    by_pixels = np.linalg.norm(pixel_point(window.result.depth, camera, *cells[0]) -
                               pixel_point(window.result.depth, camera, *cells[1]))
    assert by_pixels == pytest.approx(expected, rel=1e-5)
    assert window.status.measure.text() == f"↔ {expected:.2f} m"
    window.semantic3d.clear_measure_action.trigger()  # Esc
    assert window.semantic3d.pixels == [] and not window.status.measure.isVisible()


@pytest.mark.parametrize("size", [QSize(1280, 720), QSize(1366, 768)])
def test_the_window_fits_the_screen_with_the_3d_view_shown(opengl, make_window, tmp_path, qtbot, size):
    window = make_window(source=missing_video(tmp_path))
    feed(window, known_result(shape=(480, 640)))
    window.semantic3d.beside_action.trigger()
    window.resize(initial_size(size))
    qtbot.wait(100)
    assert window.width() <= size.width() and window.height() <= size.height()
    panel = window.semantic3d.panel
    for widget in (window.statusBar(), window.views, panel, panel.container, window.legend_dock):
        assert widget.isVisible() and window.rect().contains(QRect(widget.mapTo(window, QPoint(0, 0)),
                                                                   widget.size()))
    assert panel.view.width() >= 250 and panel.view.height() >= 250
    image = window.views.panels["input"].view.sceneBoundingRect()
    assert image.width() >= 150  # the 2D panels keep a useful size beside it


def test_a_hidden_3d_view_costs_nothing(make_window, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(cloud_module, "back_project", lambda *a, **k: calls.append(1))
    window = make_window(source=missing_video(tmp_path))
    for i in range(5):
        feed(window, known_result(), index=i)
        window.redraw()
    window.update_readout()
    assert calls == [] and window.semantic3d.builder._thread is None  # no back-projection, no thread
    assert not window.semantic3d.panel.isVisible() and window.semantic3d.panel.view is None
    assert "3D" not in window.performance.readout.text()


def test_without_opengl_the_3d_view_is_greyed_out_and_everything_else_runs(make_window, tmp_path, qtbot,
                                                                            monkeypatch, capsys):
    reason = "no OpenGL context can be made on this display (Qt platform remote)"
    monkeypatch.setattr(cloud_view, "gl_problem", lambda: reason)
    window = make_window(source=missing_video(tmp_path))
    feed(window, low_resolution_result())
    window.semantic3d.beside_action.trigger()
    panel = window.semantic3d.panel
    assert panel.isVisible() and panel.view is None and not panel.placeholder.isEnabled()
    assert panel.placeholder.text() == f"3D view unavailable: {reason}" and "\n" not in panel.placeholder.text()
    assert window.statusBar().currentMessage() == f"⚠ 3D view unavailable: {reason}"
    assert f"error: 3D view unavailable: {reason}" in capsys.readouterr().err
    assert not window.semantic3d.colouring_action.isEnabled() and window.semantic3d.beside_action.isEnabled()
    result = known_result()
    feed(window, result, index=1)  # the 2D panels go on
    np.testing.assert_array_equal(window.views.shown_image("segmentation"), result.segm_rgb)
    assert window.semantic3d.builder._thread is None
    window.semantic3d.add_measure_point((10, 10))  # measuring needs no OpenGL
    window.semantic3d.add_measure_point((10, 100))
    assert window.status.measure.text().endswith(" m")
    window.controls.snapshot_action.trigger()  # and the PLY is written without it
    assert window.pipeline.recorder.close()
    assert len(list((tmp_path / "snaps").glob("*_cloud.ply"))) == 1


def test_a_missing_pyopengl_is_said_in_one_line(qapp, monkeypatch):
    for name in ("OpenGL", "OpenGL.GL", "pyqtgraph.opengl"):
        monkeypatch.setitem(sys.modules, name, None)
    problem = gl_problem()
    assert problem.startswith("PyOpenGL is not installed") and problem.endswith("pip install PyOpenGL")
    assert "\n" not in problem


def test_the_snapshot_writes_the_full_resolution_cloud_as_ply(make_window, tmp_path, qtbot):
    window = make_window(source=missing_video(tmp_path))
    result = low_resolution_result(shape=(96, 128), network_shape=(48, 64))
    feed(window, result)
    window.controls.snapshot_action.trigger()  # P
    assert window.pipeline.recorder.close()
    path = next((tmp_path / "snaps").glob("*_cloud.ply"))
    assert not list(path.parent.glob(".*part*"))  # written atomically
    ply = PlyData.read(str(path))
    vertex = ply["vertex"]
    full = result.at_full_size()
    assert vertex.count == 96 * 128  # full resolution, no budget
    np.testing.assert_array_equal(vertex["label"], full.labels.ravel())
    rgb = np.stack([vertex["red"], vertex["green"], vertex["blue"]], 1)
    np.testing.assert_array_equal(rgb, full.frame.reshape(-1, 3))
    camera = result.preset.intrinsics.scaled_to((96, 128))
    np.testing.assert_allclose([vertex["x"][130], vertex["y"][130], vertex["z"][130]],
                               pixel_point(full.depth, camera, 1, 2), rtol=1e-5)  # vertex 130: row 1, col 2
    assert "class 0 wall" in ply.comments and any(c.startswith("intrinsics fx") for c in ply.comments)


def test_the_command_line_opens_the_3d_view_alone(opengl, make_window, tmp_path, qtbot):
    window = make_window("--overlay", "single", "--view", "3d", source=missing_video(tmp_path))
    feed(window, known_result(shape=(96, 128)))
    assert window.semantic3d.panel.isVisible() and not window.views.isVisible()
    assert window.controls.single_box.currentText() == "3D"
