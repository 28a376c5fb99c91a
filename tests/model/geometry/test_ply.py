"""PLY files read back with plyfile, an independent reader."""
import os

import numpy as np
import pytest
from plyfile import PlyData

from model.geometry.intrinsics import Intrinsics
from model.geometry.ply import write_ply
from model.geometry.pointcloud import PointCloud, back_project

CAMERA = Intrinsics(518.8579, 519.4696, 325.5824, 253.7362, 640, 480, name="NYUDv2 Kinect")


def random_cloud(rng, count, num_classes=40, colours=True, labels=True):
    return PointCloud(
        points=rng.normal(0, 3, size=(count, 3)).astype(np.float32),
        colours=rng.integers(0, 256, size=(count, 3), dtype=np.uint8) if colours else None,
        labels=rng.integers(0, num_classes, size=count).astype(np.uint8 if num_classes <= 256 else np.int64)
        if labels else None,
        pixels=np.zeros((count, 2), np.int32),
    )


def refuse_to_rename(*_):
    raise OSError("disk full")


def class_names_in(ply):
    """``comment class <index> <name>`` lines, the names undone from their unicode_escape spelling."""
    names = {}
    for comment in ply.comments:
        keyword, _, rest = comment.partition(" ")
        if keyword == "class":
            index, _, name = rest.partition(" ")
            names[int(index)] = name.encode("ascii").decode("unicode_escape")
    return [names[i] for i in range(len(names))]


def test_points_colours_labels_and_class_names_read_back(tmp_path, rng):
    cloud = random_cloud(rng, 1000)
    names = ["wall", "floor mat", "night stand", "other  furniture", "café", "a\\b", "x\ty"] + [
        f"class {i}" for i in range(7, 40)]
    path = tmp_path / "scene.ply"
    write_ply(path, cloud, class_names=names, intrinsics=CAMERA)

    ply = PlyData.read(str(path))
    assert ply.text is False and ply.byte_order == "<"
    vertex = ply["vertex"].data
    assert vertex.dtype.names == ("x", "y", "z", "red", "green", "blue", "label")
    assert vertex["x"].dtype == np.float32 and vertex["red"].dtype == np.uint8 and vertex["label"].dtype == np.uint8
    np.testing.assert_array_equal(np.stack([vertex["x"], vertex["y"], vertex["z"]], axis=1), cloud.points)
    np.testing.assert_array_equal(np.stack([vertex["red"], vertex["green"], vertex["blue"]], axis=1), cloud.colours)
    np.testing.assert_array_equal(vertex["label"], cloud.labels)
    assert class_names_in(ply) == names


def test_the_intrinsics_used_are_in_a_comment(tmp_path, rng):
    path = tmp_path / "scene.ply"
    write_ply(path, random_cloud(rng, 10), intrinsics=CAMERA)
    (line,) = [c for c in PlyData.read(str(path)).comments if c.startswith("intrinsics ")]
    words = line.split()[1:]
    values = dict(zip(words[::2], map(float, words[1::2])))
    assert values == dict(fx=CAMERA.fx, fy=CAMERA.fy, cx=CAMERA.cx, cy=CAMERA.cy, width=640, height=480)
    assert "camera NYUDv2 Kinect" in PlyData.read(str(path)).comments


def test_more_than_256_classes_store_labels_as_uint16(tmp_path, rng):
    cloud = random_cloud(rng, 500, num_classes=300)
    assert cloud.labels.max() > 255
    names = [f"class number {i}" for i in range(300)]
    path = tmp_path / "many.ply"
    write_ply(path, cloud, class_names=names)
    ply = PlyData.read(str(path))
    assert ply["vertex"].data["label"].dtype == np.uint16
    np.testing.assert_array_equal(ply["vertex"].data["label"], cloud.labels)
    assert class_names_in(ply) == names


def test_256_named_classes_still_fit_uint8(tmp_path, rng):
    path = tmp_path / "256.ply"
    write_ply(path, random_cloud(rng, 100, num_classes=256), class_names=[str(i) for i in range(256)])
    assert PlyData.read(str(path))["vertex"].data["label"].dtype == np.uint8


def test_clouds_without_colours_or_labels_leave_out_those_properties(tmp_path, rng):
    path = tmp_path / "bare.ply"
    cloud = random_cloud(rng, 50, colours=False, labels=False)
    write_ply(path, cloud)
    vertex = PlyData.read(str(path))["vertex"].data
    assert vertex.dtype.names == ("x", "y", "z")
    np.testing.assert_array_equal(vertex["z"], cloud.points[:, 2])


def test_a_full_frame_round_trips(tmp_path, rng):
    depth = rng.uniform(0.5, 8, size=(480, 640)).astype(np.float32)
    image = rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    labels = rng.integers(0, 40, size=(480, 640), dtype=np.uint8)
    cloud = back_project(depth, CAMERA, image=image, labels=labels, point_budget=None)
    path = tmp_path / "frame.ply"
    write_ply(path, cloud, class_names=[f"c{i}" for i in range(40)], intrinsics=CAMERA)
    vertex = PlyData.read(str(path))["vertex"].data
    assert len(vertex) == 480 * 640
    rows, cols = cloud.pixels[:, 0], cloud.pixels[:, 1]
    np.testing.assert_array_equal(vertex["z"], depth[rows, cols])
    np.testing.assert_array_equal(vertex["green"], image[rows, cols, 1])
    np.testing.assert_array_equal(vertex["label"], labels[rows, cols])


def test_an_empty_cloud_is_a_valid_file(tmp_path):
    path = tmp_path / "empty.ply"
    empty = PointCloud(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8), np.zeros(0, np.uint8),
                       np.zeros((0, 2), np.int32))
    write_ply(path, empty, class_names=["wall"])
    assert len(PlyData.read(str(path))["vertex"].data) == 0


def test_writing_leaves_no_temporary_file(tmp_path, rng):
    write_ply(tmp_path / "scene.ply", random_cloud(rng, 10))
    assert os.listdir(tmp_path) == ["scene.ply"]


def test_a_failed_write_leaves_the_previous_file_and_no_temporary_one(tmp_path, rng, monkeypatch):
    path = tmp_path / "scene.ply"
    write_ply(path, random_cloud(rng, 10))
    before = path.read_bytes()
    monkeypatch.setattr(os, "replace", refuse_to_rename)  # the last step: the whole file is written by then
    with pytest.raises(OSError, match="disk full"):
        write_ply(path, random_cloud(rng, 20))
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["scene.ply"]


def test_a_failed_first_write_leaves_no_file(tmp_path, rng, monkeypatch):
    monkeypatch.setattr(os, "replace", refuse_to_rename)
    with pytest.raises(OSError, match="disk full"):
        write_ply(tmp_path / "scene.ply", random_cloud(rng, 20))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("change, reason", [
    (dict(points=np.zeros((10, 2), np.float32)), "points must be N x 3"),
    (dict(colours=np.zeros((10, 3), np.float32)), "colours must be N x 3 uint8"),
    (dict(labels=np.zeros(9, np.uint8)), "one per point"),
    (dict(labels=np.zeros(10, np.float32)), "integer class indices"),
    (dict(labels=np.full(10, -1)), "negative"),
    (dict(labels=np.full(10, 70_000)), "ushort"),
])
def test_bad_clouds_are_refused_in_one_line_without_touching_the_disk(tmp_path, rng, change, reason):
    cloud = random_cloud(rng, 10)
    fields = dict(points=cloud.points, colours=cloud.colours, labels=cloud.labels, pixels=cloud.pixels)
    with pytest.raises(ValueError, match=reason) as excinfo:
        write_ply(tmp_path / "bad.ply", PointCloud(**dict(fields, **change)))
    assert "\n" not in str(excinfo.value) and os.listdir(tmp_path) == []
