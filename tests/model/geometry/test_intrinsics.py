import math

import cv2
import numpy as np
import pytest

from model.geometry.intrinsics import DEFAULT_HFOV_DEGREES, Intrinsics, IntrinsicsError, choose_intrinsics
from model.presets import generic_preset, get_preset

NYUD_KINECT = (518.8579, 519.4696, 325.5824, 253.7362, 640, 480)
KITTI_LEFT_COLOUR = (721.5377, 721.5377, 609.5593, 172.8540, 1242, 375)


def numbers(intrinsics):
    return (intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy, intrinsics.width, intrinsics.height)


def write_calibration(path, matrix=None, image_size=(480, 640), key="camera_matrix"):
    """A calibration file as OpenCV's calibration sample writes it (the format follows the extension)."""
    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    if image_size is not None:
        storage.write("image_width", image_size[1])
        storage.write("image_height", image_size[0])
    if matrix is not None:
        storage.write(key, np.asarray(matrix, dtype=np.float64))
    storage.write("distortion_coefficients", np.zeros((5, 1)))
    storage.release()
    return path


K_600 = [[600.0, 0.0, 330.0], [0.0, 610.0, 250.0], [0.0, 0.0, 1.0]]


def assert_one_line_error(excinfo):
    assert isinstance(excinfo.value, ValueError)
    assert "\n" not in str(excinfo.value) and str(excinfo.value)


# --- scaling and the pixel-centre convention


def test_scaling_maps_pixel_edges_onto_pixel_edges():
    # pixel 0's centre (x = 0) of a 4-wide image covers x in [-0.5, 0.5]: pixels 0 and 1 of an 8-wide image,
    # whose shared edge is at x = 0.5; likewise vertically from 3 rows to 6
    small = Intrinsics(fx=10, fy=20, cx=0, cy=0, width=4, height=3)
    big = small.scaled_to((6, 8))
    assert numbers(big) == pytest.approx((20, 40, 0.5, 0.5, 8, 6))


def test_scaling_keeps_a_centred_principal_point_centred_and_scales_focal_lengths_per_axis():
    camera = Intrinsics(fx=500, fy=400, cx=319.5, cy=239.5, width=640, height=480)
    resized = camera.scaled_to((240, 1280))  # half the height, twice the width
    assert numbers(resized) == pytest.approx((1000, 200, (1280 - 1) / 2, (240 - 1) / 2, 1280, 240))


def test_scaling_there_and_back_is_the_identity():
    camera = Intrinsics(*NYUD_KINECT)
    back = camera.scaled_to((375, 1242)).scaled_to((480, 640))
    assert numbers(back) == pytest.approx(NYUD_KINECT)
    assert camera.scaled_to((480, 640)) == camera


def test_a_scaled_camera_projects_a_3d_point_to_the_same_place_in_the_resized_image():
    camera = Intrinsics(*NYUD_KINECT)
    resized = camera.scaled_to((240, 320))
    x, y, z = 0.7, -0.4, 2.5
    u, v = camera.fx * x / z + camera.cx, camera.fy * y / z + camera.cy
    # the same scene point in the half-size image: its pixel edges halve, so (u + 0.5) halves
    assert resized.fx * x / z + resized.cx == pytest.approx((u + 0.5) / 2 - 0.5)
    assert resized.fy * y / z + resized.cy == pytest.approx((v + 0.5) / 2 - 0.5)


# --- field of view and text


def test_a_90_degree_field_of_view_puts_the_image_edge_one_focal_length_from_the_centre():
    camera = Intrinsics.from_hfov(90, (480, 640))
    assert numbers(camera) == pytest.approx((320, 320, 319.5, 239.5, 640, 480))


def test_the_field_of_view_spans_edge_to_edge():
    camera = Intrinsics.from_hfov(DEFAULT_HFOV_DEGREES, (720, 1280))
    left_edge, right_edge = -0.5, 1280 - 0.5
    angle = math.atan((right_edge - camera.cx) / camera.fx) - math.atan((left_edge - camera.cx) / camera.fx)
    assert math.degrees(angle) == pytest.approx(60)


@pytest.mark.parametrize("degrees", [0, 180, -10, "wide"])
def test_impossible_fields_of_view_are_refused(degrees):
    with pytest.raises(ValueError) as excinfo:
        Intrinsics.from_hfov(degrees, (480, 640))
    assert_one_line_error(excinfo)


def test_parse_reads_fx_fy_cx_cy_in_frame_pixels():
    camera = Intrinsics.parse(" 500.5, 501 ,320,240.25", (480, 640))
    assert numbers(camera) == (500.5, 501, 320, 240.25, 640, 480)


@pytest.mark.parametrize("text, reason", [
    ("500,500,320", "4 comma-separated numbers"),
    ("500,500,320,240,1", "4 comma-separated numbers"),
    ("", "4 comma-separated numbers"),
    ("500,five hundred,320,240", "must all be numbers"),
    ("500;500;320;240", "4 comma-separated numbers"),
    ("0,500,320,240", "focal lengths must be positive"),
    ("500,-1,320,240", "focal lengths must be positive"),
    ("nan,500,320,240", "finite"),
    ("500,500,inf,240", "finite"),
])
def test_parse_refuses_bad_text_in_one_line(text, reason):
    with pytest.raises(ValueError, match=reason) as excinfo:
        Intrinsics.parse(text, (480, 640))
    assert_one_line_error(excinfo)


def test_describe_is_one_line_for_the_ui():
    assert get_preset("nyud").intrinsics.describe() == "NYUDv2 Kinect: fx 518.9 fy 519.5 cx 325.6 cy 253.7 at 640x480"
    assert Intrinsics(1, 2, 3, 4, 5, 6).describe() == "fx 1.0 fy 2.0 cx 3.0 cy 4.0 at 5x6"


def test_matrix_is_the_camera_matrix():
    np.testing.assert_array_equal(Intrinsics(600, 610, 330, 250, 640, 480).matrix, K_600)


# --- calibration files


@pytest.mark.parametrize("suffix", [".yaml", ".xml", ".json"])
@pytest.mark.parametrize("key", ["camera_matrix", "cameraMatrix", "K"])
def test_calibration_file_written_by_opencv(tmp_path, suffix, key):
    path = write_calibration(tmp_path / f"calib{suffix}", K_600, image_size=(720, 1280), key=key)
    camera = Intrinsics.from_calibration_file(path)
    assert numbers(camera) == (600, 610, 330, 250, 1280, 720)
    assert camera.name == f"calibration calib{suffix}"


def test_calibration_file_without_image_size_is_taken_at_the_given_size(tmp_path):
    path = write_calibration(tmp_path / "calib.yaml", K_600, image_size=None)
    assert numbers(Intrinsics.from_calibration_file(path, (480, 640))) == (600, 610, 330, 250, 640, 480)
    with pytest.raises(ValueError, match="no image_width/image_height") as excinfo:
        Intrinsics.from_calibration_file(path)
    assert_one_line_error(excinfo)


def test_calibration_file_errors_are_one_line(tmp_path):
    cases = {
        "no such calibration file": tmp_path / "missing.yaml",
        "no camera matrix": write_calibration(tmp_path / "nomatrix.yaml"),
        "is 3x4, expected 3x3": write_calibration(tmp_path / "projection.yaml", np.hstack([K_600, [[0], [0], [1]]])),
        "expected \\[0, 0, 1\\]": write_calibration(tmp_path / "transposed.yaml", np.transpose(K_600)),
        "focal lengths must be positive": write_calibration(tmp_path / "negative.yaml", np.diag([-600.0, 610, 1])),
        "frame size must be positive": write_calibration(tmp_path / "nosize.yaml", K_600, image_size=(0, 0)),
    }
    (tmp_path / "broken.yaml").write_text("%YAML:1.0\n---\ncamera_matrix: [1, 2\n  rows: }}}\n")
    cases["not a valid OpenCV"] = tmp_path / "broken.yaml"
    (tmp_path / "list.yaml").write_text("%YAML:1.0\n---\ncamera_matrix: [600, 0, 330, 0, 610, 250, 0, 0, 1]\n")
    cases["not a well-formed OpenCV matrix"] = tmp_path / "list.yaml"
    (tmp_path / "short.yaml").write_text("%YAML:1.0\n---\ncamera_matrix: !!opencv-matrix\n  rows: 3\n  cols: 3\n"
                                         "  dt: d\n  data: [600, 0, 330, 0, 610, 250]\n")
    cases["camera_matrix is not a well-formed"] = tmp_path / "short.yaml"
    (tmp_path / "notes.txt").write_text("fx is about 600\n")
    cases["not a valid OpenCV YAML/XML/JSON file \\(line 1: Only collections"] = tmp_path / "notes.txt"
    for reason, path in cases.items():
        with pytest.raises(ValueError, match=reason) as excinfo:
            Intrinsics.from_calibration_file(path, (480, 640))
        assert_one_line_error(excinfo)
        assert str(path) in str(excinfo.value)


# --- presets and the choice between sources


def test_presets_carry_their_cameras():
    for name in ("nyud", "nyud-three", "nyud-kitti"):
        assert numbers(get_preset(name).intrinsics) == NYUD_KINECT
    assert numbers(get_preset("kitti").intrinsics) == pytest.approx(KITTI_LEFT_COLOUR)
    assert generic_preset(3, ("segm", "depth")).intrinsics is None


def test_choose_intrinsics_follows_the_priority_order(tmp_path):
    size = (360, 640)
    calibration = write_calibration(tmp_path / "calib.yaml", K_600, image_size=(720, 1280))
    options = dict(explicit="400,410,300,200", calibration_file=calibration, hfov=90, preset=get_preset("kitti"))

    camera, origin = choose_intrinsics(size, **options)
    assert numbers(camera) == (400, 410, 300, 200, 640, 360) and "given" in origin

    del options["explicit"]
    camera, origin = choose_intrinsics(size, **options)
    # calibrated at 1280x720: half of it, edges onto edges
    assert numbers(camera) == pytest.approx((300, 305, 164.75, 124.75, 640, 360))
    assert "calib.yaml" in origin

    del options["calibration_file"]
    camera, origin = choose_intrinsics(size, **options)
    assert numbers(camera) == pytest.approx((320, 320, 319.5, 179.5, 640, 360)) and "90 degree" in origin

    del options["hfov"]
    camera, origin = choose_intrinsics(size, **options)
    kitti_fx, kitti_fy, kitti_cx, kitti_cy, kitti_w, kitti_h = KITTI_LEFT_COLOUR
    sx, sy = 640 / kitti_w, 360 / kitti_h
    assert numbers(camera) == pytest.approx((kitti_fx * sx, kitti_fy * sy, (kitti_cx + 0.5) * sx - 0.5,
                                             (kitti_cy + 0.5) * sy - 0.5, 640, 360))
    assert "kitti" in origin

    for preset in (None, generic_preset(3, ("segm", "depth"))):
        camera, origin = choose_intrinsics(size, preset=preset)
        assert camera == Intrinsics.from_hfov(60, size) and "default 60 degree" in origin


def test_choose_intrinsics_passes_on_errors_in_one_line(tmp_path):
    with pytest.raises(ValueError) as excinfo:
        choose_intrinsics((480, 640), explicit="1,2,3")
    assert_one_line_error(excinfo)
    with pytest.raises(IntrinsicsError) as excinfo:
        choose_intrinsics((480, 640), calibration_file=tmp_path / "missing.yml")
    assert_one_line_error(excinfo)


@pytest.mark.parametrize("fields", [(0, 1, 0, 0, 4, 4), (1, 1, 0, 0, 0, 4), (1, 1, float("nan"), 0, 4, 4)])
def test_impossible_cameras_are_refused(fields):
    with pytest.raises(ValueError) as excinfo:
        Intrinsics(*fields)
    assert_one_line_error(excinfo)
