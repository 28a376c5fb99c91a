"""The 3D view's points without OpenGL: the point budget, the three colourings, hidden classes, the view's axes,
the frustum, picking on the screen, the cloud's own thread and the intrinsics in use."""
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from app.cloud3d import cloud as cloud_module
from app.cloud3d.builder import CloudBuilder
from app.cloud3d.cloud import (
    CloudRequest,
    build_cloud_frame,
    frustum_lines,
    map_to_frame,
    nearest_on_screen,
    point_colours,
    view_axes,
)
from app.cloud3d.intrinsics_choice import CameraIntrinsics, IntrinsicsChoice
from model.geometry.intrinsics import Intrinsics, IntrinsicsError
from model.geometry.pointcloud import DEFAULT_POINT_BUDGET
from tests.app.gui_support import known_result, low_resolution_result


def camera_for(result):
    return Intrinsics.from_hfov(60, result.depth.shape)


def request(result, **changes):
    return CloudRequest(result, camera_for(result), **changes)


def test_the_cloud_keeps_to_the_point_budget():
    result = known_result(shape=(480, 640))  # 307,200 valid pixels
    frame = build_cloud_frame(request(result))
    assert len(frame) == frame.total == DEFAULT_POINT_BUDGET
    small = build_cloud_frame(request(result, budget=5000))
    assert len(small) == 5000
    assert set(map(tuple, small.pixels)) <= set(map(tuple, frame.pixels))  # the same pixels, fewer of them
    everything = build_cloud_frame(request(known_result(shape=(96, 128))))
    assert len(everything) == 96 * 128  # under the budget: every pixel


def test_points_are_where_the_depth_and_intrinsics_put_them_in_the_views_axes():
    result = known_result(shape=(96, 128))
    camera = camera_for(result)
    frame = build_cloud_frame(request(result))
    row, col = frame.pixels[500]
    z = result.depth[row, col]
    expected = [(col - camera.cx) * z / camera.fx, z, -(row - camera.cy) * z / camera.fy]  # x right, y ahead, z up
    np.testing.assert_allclose(frame.positions[500], expected, rtol=1e-5)
    assert frame.floor == pytest.approx(np.percentile(frame.positions[:, 2], 2))


def test_the_three_colourings_take_the_segmentation_the_frame_or_the_depth_panel():
    result = low_resolution_result(shape=(96, 128), network_shape=(48, 64))  # maps at half the frame's size
    for colouring, image in (("class", result.segm_rgb), ("depth", result.depth_rgb)):
        frame = build_cloud_frame(request(result, colouring=colouring))
        rows, cols = frame.pixels.T
        np.testing.assert_array_equal(frame.colours, image[rows, cols])
        assert frame.colours.dtype == np.uint8 and frame.colours.shape == (len(frame), 3)
    frame = build_cloud_frame(request(result, colouring="image"))
    rows, cols = frame.pixels.T
    np.testing.assert_array_equal(frame.colours, result.frame[2 * rows + 1, 2 * cols + 1])
    classes = build_cloud_frame(request(result, colouring="class")).colours
    assert not np.array_equal(classes, frame.colours)
    with pytest.raises(ValueError, match="colouring"):
        build_cloud_frame(request(result, colouring="rainbow"))


def test_map_pixels_go_to_the_frame_pixel_at_their_centre():
    rows, cols = map_to_frame(np.array([[0, 0], [47, 63], [10, 20]]), (48, 64), (96, 128))
    assert rows.tolist() == [1, 95, 21] and cols.tolist() == [1, 127, 41]
    assert point_colours(known_result(), np.zeros((0, 2), np.int32), "class").shape == (0, 3)


def test_hiding_a_class_removes_exactly_its_points():
    result = known_result(shape=(480, 640))
    chair = result.preset.classes.index("chair")
    everything = build_cloud_frame(request(result))
    without = build_cloud_frame(request(result, hidden=frozenset({chair})))
    is_chair = result.labels[everything.pixels[:, 0], everything.pixels[:, 1]] == chair
    assert 0 < is_chair.sum() < len(everything)
    np.testing.assert_array_equal(without.positions, everything.positions[~is_chair])
    np.testing.assert_array_equal(without.colours, everything.colours[~is_chair])
    assert without.total == everything.total == DEFAULT_POINT_BUDGET  # the budget is spent before hiding
    assert len(build_cloud_frame(request(result, hidden=frozenset(range(40))))) == 0


def test_a_model_without_depth_has_no_cloud():
    with pytest.raises(ValueError, match="no depth"):
        build_cloud_frame(CloudRequest(replace(known_result(), depth=None), None))


def test_the_frustum_goes_through_the_images_corners():
    camera = Intrinsics(100, 100, 49.5, 39.5, 100, 80)
    lines = frustum_lines(camera, 2.0)
    assert lines.shape == (16, 3)
    np.testing.assert_allclose(lines[0], [0, 0, 0])  # each ray starts at the camera
    np.testing.assert_allclose(lines[1], [-1.0, 2.0, 0.8])  # the top-left corner: left, 2 m ahead, up
    np.testing.assert_allclose(view_axes([[1, 2, 3]]), [[1, 3, -2]])


def test_the_point_nearest_a_screen_position_is_picked_the_nearest_to_the_eye_first():
    matrix = np.eye(4)  # clip = the position: screen x = (x + 1) / 2 * width, y = (1 - y) / 2 * height
    positions = np.array([[0.0, 0.0, 0.5], [0.0, 0.0, -0.5], [0.5, 0.5, 0.0]], np.float32)
    assert nearest_on_screen(positions, matrix, (200, 100), (100, 50)) == 1  # in front of point 0
    assert nearest_on_screen(positions, matrix, (200, 100), (150, 25)) == 2
    assert nearest_on_screen(positions, matrix, (200, 100), (10, 90)) is None
    assert nearest_on_screen(positions[:0], matrix, (200, 100), (100, 50)) is None


def test_the_cloud_thread_builds_the_newest_request_and_says_failures(monkeypatch):
    calls = []
    real = cloud_module.back_project

    def slow(*args, **kwargs):
        calls.append(threading.current_thread().name)
        time.sleep(0.05)
        return real(*args, **kwargs)

    monkeypatch.setattr(cloud_module, "back_project", slow)
    builder = CloudBuilder()
    assert builder._thread is None  # nothing runs before the first request
    results = [known_result(shape=(96, 128)) for _ in range(5)]
    for result in results:
        builder.submit(request(result))
    deadline = time.perf_counter() + 10
    frames = []
    while time.perf_counter() < deadline and not (frames and frames[-1].request.result is results[-1]):
        frame = builder.latest()
        frames += [frame] if frame is not None else []
        time.sleep(0.01)
    assert frames[-1].request.result is results[-1]
    assert len(calls) < len(results) and set(calls) == {"pointcloud"}  # requests waiting were replaced
    builder.submit(CloudRequest(replace(known_result(), depth=None), None))
    deadline = time.perf_counter() + 10
    while (problem := builder.problem()) is None and time.perf_counter() < deadline:
        time.sleep(0.01)
    assert problem == "this model has no depth: nothing to show in 3D"
    assert builder.close() and not builder._thread.is_alive()


def test_intrinsics_follow_the_priorities_and_scale_to_the_maps(tmp_path):
    result = low_resolution_result(shape=(96, 128), network_shape=(48, 64))
    camera = CameraIntrinsics()
    kinect = camera.for_maps(result)
    assert kinect == result.preset.intrinsics.scaled_to((48, 64)) and "preset nyud-three" in camera.describe()
    assert camera.for_frame(result) == result.preset.intrinsics.scaled_to((96, 128))
    camera.set_choice(IntrinsicsChoice(explicit="100,100,63.5,47.5"))  # pixels of the 128 x 96 frame
    half = camera.for_maps(result)
    assert (half.fx, half.cx, half.size) == (50, 31.5, (48, 64))
    camera.set_choice(IntrinsicsChoice(hfov=90))
    assert camera.for_maps(result).fx == pytest.approx(32)  # half the width over tan(45 degrees)
    calibration = tmp_path / "camera.yaml"
    calibration.write_text("%YAML:1.0\nimage_width: 256\nimage_height: 192\ncamera_matrix: !!opencv-matrix\n"
                           "  rows: 3\n  cols: 3\n  dt: d\n  data: [200, 0, 127.5, 0, 200, 95.5, 0, 0, 1]\n")
    camera.set_choice(IntrinsicsChoice.of_kind("calibration", str(calibration)))
    assert camera.for_maps(result).fx == pytest.approx(50) and "camera.yaml" in camera.describe()
    calibration.unlink()  # gone since: said once, and the automatic camera is used
    camera.set_choice(IntrinsicsChoice(calibration=str(calibration)))
    assert camera.for_maps(result) == kinect
    assert "no such calibration file; using the automatic intrinsics" in camera.problem()
    assert camera.problem() is None and camera.choice == IntrinsicsChoice()


@pytest.mark.parametrize("kind, text, message", [("explicit", "1,2,3", "expected 4 comma-separated numbers"),
                                                 ("explicit", "", "give fx,fy,cx,cy"),
                                                 ("hfov", "200", "between 0 and 180"),
                                                 ("hfov", "wide", "must be a number of degrees"),
                                                 ("calibration", "/nowhere.yaml", "no such calibration file")])
def test_wrong_intrinsics_are_refused_in_one_line(kind, text, message):
    with pytest.raises(IntrinsicsError, match=message) as caught:
        IntrinsicsChoice.of_kind(kind, text)
    assert "\n" not in str(caught.value)
    choice = IntrinsicsChoice.of_kind("explicit", " 500,500,320,240 ")
    assert (choice.kind, choice.value) == ("explicit", "500,500,320,240")
    assert IntrinsicsChoice.of_kind("automatic", "anything").kind == "automatic"
