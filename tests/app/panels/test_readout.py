"""The readout's text, without Qt: hover values from maps at the network's size, the point and distances in
metres, and the Performance rows."""
import math
from dataclasses import replace

import numpy as np
import pytest

from app.panels.readout import (
    Measurements,
    backend_details,
    class_at,
    distance,
    distance_text,
    hover_text,
    map_pixel,
    performance_rows,
    postprocess_share,
    rows_html,
)
from app.stream.worker import Running
from model.export.guard import Agreement
from model.geometry.intrinsics import Intrinsics
from model.inference.run_settings import Applied, RunSettings
from tests.app.gui_support import known_result, low_resolution_result


def test_frame_pixels_map_to_the_map_pixel_that_covers_them():
    assert map_pixel((0, 0), (480, 640), (120, 160)) == (0, 0)
    assert map_pixel((479, 639), (480, 640), (120, 160)) == (119, 159)
    assert map_pixel((4, 7), (480, 640), (120, 160)) == (1, 1)
    assert map_pixel((3, 3), (480, 640), (120, 160)) == (0, 0)
    assert map_pixel((10, 20), (96, 128), (96, 128)) == (10, 20)  # same size: the same pixel


def test_hover_reads_class_and_depth_at_the_network_resolution():
    result = low_resolution_result(shape=(96, 128), network_shape=(48, 64))  # chair: map columns < 40
    assert hover_text(result, (90, 78)) == "x 78, y 90:  chair  ·  2.50 m"
    assert hover_text(result, (0, 80)) == "x 80, y 0:  floor  ·  6.00 m"
    assert class_at(result, (0, 80)) == result.preset.classes.index("floor")
    assert hover_text(result, (96, 0)) == "" and hover_text(result, None) == "" and hover_text(None, (1, 1)) == ""
    no_depth = replace(known_result(), depth=None)
    assert hover_text(no_depth, (1, 1)) == "x 1, y 1:  chair"


def plane(depth=4.0, shape=(96, 128), network_shape=(48, 64)):
    """A wall facing the camera at ``depth`` metres, maps at the network's size."""
    result = known_result(shape=shape, network_shape=network_shape)
    return replace(result, depth=np.full(network_shape, depth, np.float32))


def test_hover_gives_the_point_in_metres_in_the_camera_frame():
    result = plane()
    camera = Intrinsics(50, 40, 31.5, 23.5, 64, 48)  # for the 64 x 48 maps
    # frame pixel (row 10, col 100) -> map pixel (5, 50): x = (50 - 31.5) * 4 / 50, y = (5 - 23.5) * 4 / 40
    assert hover_text(result, (10, 100), camera) == "x 100, y 10:  floor  ·  4.00 m  ·  (+1.48, -1.85, 4.00) m"
    assert hover_text(result, (10, 100)) == "x 100, y 10:  floor  ·  4.00 m"  # no intrinsics: no point
    invalid = replace(result, depth=np.full((48, 64), np.nan, np.float32))
    assert hover_text(invalid, (10, 100), camera) == "x 100, y 10:  floor  ·  nan m"


def test_the_distance_between_two_pixels_of_a_plane_is_the_hand_computed_one():
    camera = Intrinsics(50, 40, 31.5, 23.5, 64, 48)
    result = plane(depth=4.0)
    a, b = (10, 20), (80, 120)  # frame pixels -> map pixels (5, 10) and (40, 60)
    by_hand = 4.0 * math.hypot((60 - 10) / 50, (40 - 5) / 40)  # the same depth: only x and y differ
    assert distance(result, camera, a, b) == pytest.approx(by_hand, rel=1e-6)
    assert distance_text(distance(result, camera, a, b), a, b) == f"{by_hand:.2f} m from x 20, y 10 to x 120, y 80"
    assert distance(result, camera, a, a) == 0.0
    holes = plane()
    holes.depth[5, 10] = 0.0  # no depth there
    assert distance(holes, camera, a, b) is None
    assert distance_text(distance(holes, camera, a, b), a, b) == "no depth to measure from x 20, y 10 to x 120, y 80"
    assert distance(replace(result, depth=None), camera, a, b) is None
    assert distance(result, camera, a, (96, 0)) is None  # outside the frame


def running(applied, chosen=True):
    result = known_result()
    return Running("nyud", "nyud", "mobilenet_v2", None, result.preset, ("segm", "depth"), applied, RunSettings(),
                   chosen)


def test_performance_rows_show_costs_and_what_runs_with_its_agreement():
    timings = {"upload": 1.25, "network": 20.0, "postprocess": 3.0, "download": 1.0}
    m = Measurements(display_fps=29.5, inference_fps=30.25, frames=100, dropped=7, timings=timings,
                     display_ms=1.5, end_to_end_ms=55.0, network_hw=(120, 160), frame_hw=(480, 640), recording=12)
    applied = Applied("cpu", "int8", "openvino", agreement=Agreement(0.991, 0.004),
                      rejected=("onnxruntime int8 failed the accuracy guard (labels 90.0 % vs fp32)",))
    rows = dict(performance_rows(m, running(applied)))
    assert rows["display"] == " 29.5 fps" and rows["inference"] == " 30.2 fps"
    assert rows["network"] == " 20.0 ms" and rows["pre / post"] == "1.2 / 4.0 ms" and rows["drawing"] == "  1.5 ms"
    assert rows["end to end"] == "   55 ms" and rows["input"] == "160×120 of 640×480"
    assert rows["dropped"] == "7 of 100" and rows["recording"] == "12 frames"
    assert rows["runs on"] == "CPU int8, openvino (1 left out: hover)"
    assert rows["vs fp32"] == "labels 99.1 %, depth 0.40 %"
    assert postprocess_share(timings) == 0.2
    assert "3D" not in rows and "camera" not in rows  # the 3D view hidden, nothing resolved yet
    three_d = replace(m, cloud_ms=4.25, cloud_draw_ms=2.5, cloud_points=100000, camera="NYUDv2 Kinect: fx 518.9")
    rows = dict(performance_rows(three_d))
    assert rows["3D"] == "4.2 build + 2.5 draw ms, 100,000 points" and rows["camera"] == "NYUDv2 Kinect: fx 518.9"


def test_before_the_first_frame_the_rows_say_the_choice_is_being_made():
    rows = dict(performance_rows(Measurements(), running(Applied("cpu", "auto", "auto"), chosen=False)))
    assert rows["runs on"] == "CPU: choosing the backend and precision"
    assert "network" not in rows and "end to end" not in rows


def test_backend_details_list_the_measurements_and_the_candidates_left_out():
    applied = Applied("cpu", "fp32", "openvino", measured={"torch fp32": 30.0, "openvino fp32": 20.0},
                      reason="int8 failed the accuracy guard",
                      rejected=("openvino int8 failed the accuracy guard (labels 90.0 % vs fp32)",))
    text = backend_details(applied)
    assert text.splitlines()[0] == "runs: CPU fp32, openvino"
    assert text.index("openvino fp32: 20.0 ms") < text.index("torch fp32: 30.0 ms")
    assert "  openvino int8 failed the accuracy guard" in text and "why: int8 failed" in text
    assert backend_details(None) == "" and "int8 in fp32" not in text and "note:" not in text
    note = "no int8 variant beats fp32 inside the accuracy guard here"
    assert backend_details(Applied("cpu", "fp32", "openvino", note=note)).splitlines()[-1] == f"note: {note}"


def test_backend_details_say_what_the_mixed_int8_graph_keeps_in_fp32():
    kept = ("mixed int8: 2 nodes in fp32, labels 98.5 % vs fp32", "  /conv1/Conv: output SQNR 12.0 dB")
    text = backend_details(Applied("cpu", "int8", "openvino", int8_fp32=kept))
    assert text.splitlines()[-3:] == ["int8 in fp32:", *kept]


def test_rows_become_an_html_table_with_labels_that_do_not_wrap():
    html = rows_html([("end to end", "5 < 6 ms")], "#999")
    assert "end&nbsp;to&nbsp;end" in html and "5 &lt; 6 ms" in html and html.startswith("<table")
