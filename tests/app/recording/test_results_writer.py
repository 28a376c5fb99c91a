"""One result's files, as the snapshots and the headless runner both write them: one label type per class count,
depth in millimetres or metres, the labelled cloud."""
import dataclasses

import cv2
import numpy as np
from plyfile import PlyData

from app.recording.results_writer import label_image, write_cloud, write_depth, write_labels
from model.geometry.intrinsics import Intrinsics
from tests.app.gui_support import known_result


def test_label_pngs_are_8_bit_below_256_classes_whatever_the_frame_holds(tmp_path):
    result = known_result()  # nyud-three: 3 classes
    wide = dataclasses.replace(result, labels=result.labels.astype(np.int32))  # the engine's type past 256 classes
    write_labels(tmp_path / "a.png", wide)
    labels = cv2.imread(str(tmp_path / "a.png"), cv2.IMREAD_UNCHANGED)
    assert labels.dtype == np.uint8 and np.array_equal(labels, result.labels)
    assert label_image(np.array([[0, 254]], np.int32), 255).dtype == np.uint8
    many = label_image(np.array([[3, 300]], np.int32), 400)
    assert many.dtype == np.uint16 and many.tolist() == [[3, 300]]
    assert label_image(np.array([[3, 4]], np.int32), 256).dtype == np.uint16  # one type per class count


def test_depth_is_millimetres_in_a_png_or_metres_in_an_npz(tmp_path):
    depth = np.array([[2.5, np.nan], [0.0012, 70.0]], np.float32)
    write_depth(tmp_path / "d.png", depth)
    millimetres = cv2.imread(str(tmp_path / "d.png"), cv2.IMREAD_UNCHANGED)
    assert millimetres.dtype == np.uint16 and millimetres.tolist() == [[2500, 0], [1, 65535]]
    write_depth(tmp_path / "d.npz", depth, "npz")
    np.testing.assert_array_equal(np.load(tmp_path / "d.npz")["depth"], depth)


def test_the_cloud_holds_every_pixel_with_its_class(tmp_path):
    result = known_result()
    write_cloud(tmp_path / "c.ply", result, Intrinsics.from_hfov(60, result.depth.shape))
    vertex = PlyData.read(str(tmp_path / "c.ply"))["vertex"]
    assert vertex.count == 96 * 128 and set(vertex["z"]) == {2.5, 6.0}
    assert not list(tmp_path.glob(".*"))  # written atomically: no temporary left
