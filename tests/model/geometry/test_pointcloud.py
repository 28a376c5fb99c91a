"""Back-projection in OpenCV's convention: the pixel in row v, column u is the ray through (u, v), its centre;
so a pixel at the principal point lands on the optical axis, and one fx columns to its right at 45 degrees."""
import math

import numpy as np
import pytest
import torch

from model.geometry.intrinsics import Intrinsics
from model.geometry.pointcloud import DEFAULT_POINT_BUDGET, back_project, pixel_distance, pixel_point

H, W = 30, 40
# whole-pixel principal point and focal lengths, so that hand-picked pixels sit exactly on known rays
CAMERA = Intrinsics(fx=20, fy=16, cx=5, cy=6, width=W, height=H)


def point_at(cloud, row, col):
    (index,) = np.flatnonzero((cloud.pixels[:, 0] == row) & (cloud.pixels[:, 1] == col))
    return cloud.points[index]


def coded_image_and_labels(height, width):
    """Colours that spell out each pixel's (row, column), and labels that differ between neighbours."""
    rows, cols = np.mgrid[:height, :width]
    image = np.stack([rows % 256, cols % 256, np.full_like(rows, 7)], axis=2).astype(np.uint8)
    labels = ((rows * width + cols) % 41).astype(np.uint8)
    return image, labels


def test_pixels_on_known_rays_land_on_hand_computed_points():
    depth = np.full((H, W), 3.0, dtype=np.float32)
    cloud = back_project(depth, CAMERA)
    np.testing.assert_allclose(point_at(cloud, row=6, col=5), (0, 0, 3), atol=1e-6)  # principal point
    np.testing.assert_allclose(point_at(cloud, row=6, col=5 + 20), (3, 0, 3), atol=1e-6)  # cx + fx: 45 degrees right
    np.testing.assert_allclose(point_at(cloud, row=6 + 16, col=5), (0, 3, 3), atol=1e-6)  # cy + fy: 45 degrees down
    np.testing.assert_allclose(point_at(cloud, row=0, col=0), (-5 * 3 / 20, -6 * 3 / 16, 3), atol=1e-6)  # up, left
    assert cloud.points.dtype == np.float32 and cloud.points.shape == (H * W, 3)


def test_every_point_lies_on_its_pixels_ray_at_its_depth(rng):
    depth = rng.uniform(0.5, 10, size=(H, W)).astype(np.float32)
    cloud = back_project(depth, CAMERA)
    rows, cols = cloud.pixels[:, 0], cloud.pixels[:, 1]
    z = depth[rows, cols]
    np.testing.assert_allclose(cloud.points[:, 2], z)
    # projecting back through the pinhole gives the pixel's centre
    np.testing.assert_allclose(CAMERA.fx * cloud.points[:, 0] / z + CAMERA.cx, cols, atol=1e-4)
    np.testing.assert_allclose(CAMERA.fy * cloud.points[:, 1] / z + CAMERA.cy, rows, atol=1e-4)


def test_colours_and_labels_come_from_each_points_pixel():
    image, labels = coded_image_and_labels(H, W)
    cloud = back_project(np.ones((H, W), np.float32), CAMERA, image=image, labels=labels)
    rows, cols = cloud.pixels[:, 0], cloud.pixels[:, 1]
    np.testing.assert_array_equal(cloud.colours, np.stack([rows, cols, np.full_like(rows, 7)], axis=1))
    np.testing.assert_array_equal(cloud.labels, (rows * W + cols) % 41)
    assert cloud.colours.dtype == np.uint8 and cloud.labels.dtype == np.uint8
    without = back_project(np.ones((H, W), np.float32), CAMERA)
    assert without.colours is None and without.labels is None


def test_invalid_and_distant_depth_is_dropped():
    depth = np.full((H, W), 2.0, dtype=np.float32)
    bad = {(0, 0): 0.0, (1, 1): -1.0, (2, 2): np.nan, (3, 3): np.inf, (4, 4): -np.inf, (5, 5): 8.5}
    for pixel, value in bad.items():
        depth[pixel] = value
    depth[6, 6] = 8.0  # exactly at the maximum: kept
    cloud = back_project(depth, CAMERA, max_depth=8.0)
    kept = {tuple(p) for p in cloud.pixels.tolist()}
    assert kept == {(r, c) for r in range(H) for c in range(W)} - set(bad)
    assert np.isfinite(cloud.points).all() and (cloud.points[:, 2] > 0).all()
    # without a maximum, only the distant pixel comes back
    assert len(back_project(depth, CAMERA)) == H * W - len(bad) + 1


def test_stride_keeps_every_kth_row_and_column():
    image, labels = coded_image_and_labels(H, W)
    depth = np.full((H, W), 4.0, dtype=np.float32)
    cloud = back_project(depth, CAMERA, image=image, labels=labels, stride=3)
    expected = {(r, c) for r in range(0, H, 3) for c in range(0, W, 3)}
    assert {tuple(p) for p in cloud.pixels.tolist()} == expected and len(cloud) == len(expected)
    # the points are those of the original pixels, not of a smaller image
    np.testing.assert_allclose(point_at(cloud, row=6, col=24), ((24 - 5) * 4 / 20, 0, 4), atol=1e-6)
    np.testing.assert_array_equal(cloud.colours[:, :2], cloud.pixels)


def test_point_budget_keeps_evenly_spread_points_and_the_same_ones_each_time():
    height, width = 200, 300
    camera = Intrinsics.from_hfov(60, (height, width))
    depth = np.full((height, width), 2.0, dtype=np.float32)
    cloud = back_project(depth, camera, point_budget=1000)
    assert len(cloud) == 1000 and len({tuple(p) for p in cloud.pixels.tolist()}) == 1000
    # every tenth of the rows, and of the columns, holds about a tenth of the points
    for axis, size in ((0, height), (1, width)):
        per_band = np.bincount(cloud.pixels[:, axis] * 10 // size, minlength=10)
        assert per_band.min() >= 70 and per_band.max() <= 130, per_band
    # no stripes: 1000 points scattered over 300 columns leave few of them empty (a regular raster pattern
    # with a step that divides the width would use a handful)
    assert len(np.unique(cloud.pixels[:, 1])) > 250
    # raster order, like the pixels themselves
    flat = cloud.pixels[:, 0] * width + cloud.pixels[:, 1]
    assert (np.diff(flat) > 0).all()
    np.testing.assert_array_equal(back_project(depth, camera, point_budget=1000).pixels, cloud.pixels)
    # budgets at or above the count, or none, keep everything
    assert len(back_project(depth, camera, point_budget=height * width)) == height * width
    assert len(back_project(depth, camera, point_budget=None)) == height * width
    assert DEFAULT_POINT_BUDGET == 100_000 and len(back_project(np.ones((480, 640), np.float32),
                                                                Intrinsics.from_hfov(60, (480, 640)))) == 100_000


def test_a_budgeted_cloud_keeps_its_pixels_when_a_few_others_lose_their_depth(rng):
    height, width = 200, 300
    camera = Intrinsics.from_hfov(60, (height, width))
    depth = np.full((height, width), 2.0, dtype=np.float32)
    before = {tuple(p) for p in back_project(depth, camera, point_budget=6000).pixels.tolist()}
    depth[rng.random((height, width)) < 0.05] = np.nan
    after = {tuple(p) for p in back_project(depth, camera, point_budget=6000).pixels.tolist()}
    assert len(after) == 6000 and len(before & after) > 0.9 * 6000


def test_the_budget_counts_valid_points_only():
    depth = np.full((H, W), np.nan, dtype=np.float32)
    depth[:, :10] = 1.0  # 300 valid pixels
    cloud = back_project(depth, CAMERA, point_budget=100)
    assert len(cloud) == 100 and (cloud.pixels[:, 1] < 10).all()


def test_a_flat_wall_facing_the_camera_spans_the_field_of_view():
    height, width, distance, hfov = 480, 640, 2.0, 60.0
    camera = Intrinsics.from_hfov(hfov, (height, width))
    cloud = back_project(np.full((height, width), distance, np.float32), camera, point_budget=None)
    assert len(cloud) == height * width
    assert np.ptp(cloud.points[:, 2]) < 1e-3
    # the wall's visible width, edge to edge, is 2 d tan(hfov / 2); the outermost pixel centres lie half a pixel
    # inside each edge, so they span (width - 1) / width of it; square pixels give the height in proportion
    visible_width = 2 * distance * math.tan(math.radians(hfov / 2))
    x, y = cloud.points[:, 0], cloud.points[:, 1]
    assert np.ptp(x) == pytest.approx(visible_width * (width - 1) / width, rel=1e-5)
    assert np.ptp(y) == pytest.approx(visible_width * (height - 1) / width, rel=1e-5)
    assert x.min() == pytest.approx(-x.max(), abs=1e-5) and y.min() == pytest.approx(-y.max(), abs=1e-5)


def test_torch_input_gives_the_same_cloud_as_numpy(rng):
    depth = rng.uniform(0.5, 10, size=(H, W)).astype(np.float32)
    depth[3, 4] = np.nan
    image, labels = coded_image_and_labels(H, W)
    from_numpy = back_project(depth, CAMERA, image=image, labels=labels, stride=2, max_depth=9, point_budget=150)
    from_torch = back_project(torch.from_numpy(depth), CAMERA, image=torch.from_numpy(image),
                              labels=torch.from_numpy(labels), stride=2, max_depth=9, point_budget=150)
    for field in ("points", "colours", "labels", "pixels"):
        np.testing.assert_array_equal(getattr(from_torch, field), getattr(from_numpy, field))
        assert isinstance(getattr(from_torch, field), np.ndarray)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_depth_gives_the_same_cloud_as_the_cpu(rng):
    depth = torch.from_numpy(rng.uniform(0.5, 10, size=(H, W)).astype(np.float32))
    image, labels = coded_image_and_labels(H, W)
    on_cpu = back_project(depth, CAMERA, image=image, labels=labels, point_budget=500)
    on_gpu = back_project(depth.cuda(), CAMERA, image=torch.from_numpy(image).cuda(), labels=labels, point_budget=500)
    np.testing.assert_allclose(on_gpu.points, on_cpu.points, rtol=1e-6)
    for field in ("colours", "labels", "pixels"):
        np.testing.assert_array_equal(getattr(on_gpu, field), getattr(on_cpu, field))


def test_read_only_and_float64_depth_is_accepted():
    depth = np.broadcast_to(np.float64(2.5), (H, W))  # read-only, zero strides
    cloud = back_project(depth, CAMERA)
    assert len(cloud) == H * W and np.all(cloud.points[:, 2] == 2.5)


@pytest.mark.parametrize("arguments, reason", [
    (dict(depth=np.ones((H, W, 1), np.float32)), "H x W map"),
    (dict(depth=np.ones((H, W), np.uint16)), "floating-point metres"),
    (dict(depth=np.ones((H // 2, W // 2), np.float32)), "scaled_to"),
    (dict(image=np.zeros((H, W), np.uint8)), "image must have shape"),
    (dict(image=np.zeros((H, W, 3), np.float32)), "uint8"),
    (dict(labels=np.zeros((H, W + 1), np.uint8)), "labels must have shape"),
    (dict(stride=0), "stride"),
    (dict(stride=1.5), "stride"),
    (dict(point_budget=0), "point_budget"),
    (dict(max_depth=0), "max_depth"),
])
def test_bad_input_is_refused_in_one_line(arguments, reason):
    arguments = dict(dict(depth=np.ones((H, W), np.float32), intrinsics=CAMERA), **arguments)
    with pytest.raises(ValueError, match=reason) as excinfo:
        back_project(**arguments)
    assert "\n" not in str(excinfo.value)


def test_pixel_point_and_distance_in_metres():
    depth = np.full((H, W), 3.0, dtype=np.float32)
    depth[0, 0] = 0.0
    np.testing.assert_allclose(pixel_point(depth, CAMERA, 6, 5), (0, 0, 3))
    np.testing.assert_allclose(pixel_point(torch.from_numpy(depth), CAMERA, 6, 25), (3, 0, 3))
    assert pixel_distance(depth, CAMERA, (6, 5), (6, 25)) == pytest.approx(3.0)
    # down by fy and right by fx at depth 3: 3 m along each axis
    assert pixel_distance(depth, CAMERA, (6, 5), (22, 25)) == pytest.approx(3 * math.sqrt(2))
    assert pixel_point(depth, CAMERA, 0, 0) is None and pixel_distance(depth, CAMERA, (0, 0), (6, 5)) is None
    with pytest.raises(ValueError, match="outside"):
        pixel_point(depth, CAMERA, H, 0)
    with pytest.raises(ValueError, match="outside"):
        pixel_point(depth, CAMERA, 0, -1)


def test_pixel_point_agrees_with_the_cloud(rng):
    depth = rng.uniform(0.5, 10, size=(H, W)).astype(np.float32)
    cloud = back_project(depth, CAMERA, stride=3)
    for index in (0, 17, len(cloud) - 1):
        row, col = cloud.pixels[index]
        np.testing.assert_allclose(pixel_point(depth, CAMERA, row, col), cloud.points[index], rtol=1e-6)
