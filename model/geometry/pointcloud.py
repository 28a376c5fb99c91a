"""Depth maps as labelled, coloured 3D points in the camera frame, and distances between pixels in metres.

The camera frame is OpenCV's: x right, y down, z forward (the depth), in metres. The pixel in row ``v`` and
column ``u`` is the ray through its centre ``(u, v)`` (``model.geometry.intrinsics``' convention), so it lands at
``((u - cx) z / fx, (v - cy) z / fy, z)``.
"""
import functools
import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

DEFAULT_POINT_BUDGET = 100_000  # enough for a smooth view, few enough to draw in real time
_HASH_MULTIPLIER = 0x45D9F3B  # odd and below 2**31: products of 32-bit values stay inside int64


@dataclass(frozen=True)
class PointCloud:
    points: np.ndarray  # N x 3 float32 metres, camera frame
    colours: np.ndarray | None  # N x 3 uint8 RGB
    labels: np.ndarray | None  # N class indices, the label map's dtype
    pixels: np.ndarray  # N x 2 int32 (row, column) of each point's pixel in the depth map

    def __len__(self):
        return len(self.points)


def _as_depth_tensor(depth):
    """H x W float32 metres as a tensor on the depth's own device (numpy: the CPU)."""
    if torch.is_tensor(depth):
        depth, floating = depth.detach(), depth.is_floating_point()
    else:
        depth = np.asarray(depth)
        floating = depth.dtype.kind == "f"
    if depth.ndim != 2:
        raise ValueError(f"depth must be an H x W map, got shape {tuple(depth.shape)}")
    if not floating:
        raise ValueError(f"depth must be floating-point metres, got {str(depth.dtype).removeprefix('torch.')}")
    if torch.is_tensor(depth):
        return depth.float()
    # from_numpy wants a writable array with positive strides; copy only when it is not one
    return torch.from_numpy(np.require(depth, np.float32, ["C_CONTIGUOUS", "WRITEABLE"]))


def _check_intrinsics_fit(intrinsics, shape):
    if intrinsics.size != tuple(shape):
        raise ValueError(f"intrinsics are for {intrinsics.width}x{intrinsics.height} but the depth is "
                         f"{shape[1]}x{shape[0]}; use intrinsics.scaled_to(depth.shape)")


def _gather(array, flat_indices, name, shape, channels):
    """``array``'s values at the flat pixel indices, on its own device, as numpy."""
    expected = tuple(shape) + ((channels,) if channels else ())
    if tuple(array.shape) != expected:
        raise ValueError(f"{name} must have shape {expected} to match the depth, got {tuple(array.shape)}")
    if torch.is_tensor(array):
        flat = array.detach().reshape(shape[0] * shape[1], *expected[2:])
        return flat[flat_indices.to(flat.device)].cpu().numpy()
    flat = np.asarray(array).reshape(shape[0] * shape[1], *expected[2:])
    return flat[flat_indices.cpu().numpy()]


def _pixel_rank(flat_indices):
    """A fixed pseudo-random rank per pixel: a bijective 32-bit integer hash of its flat index, so distinct
    pixels never tie."""
    x = flat_indices & 0xFFFFFFFF
    for _ in range(2):
        x = ((x ^ (x >> 16)) * _HASH_MULTIPLIER) & 0xFFFFFFFF
    return x ^ (x >> 16)


@functools.lru_cache(maxsize=8)
def _ranked_positions(height, width, stride, device):
    """The positions in the ``stride``-sampled grid of a height x width map, best rank (``_pixel_rank``) first:
    made once per map size, so that keeping the budget's best-ranked valid pixels is a lookup, not a sort."""
    rows, cols = (torch.arange(0, n, stride, device=device) for n in (height, width))
    return torch.argsort(_pixel_rank((rows[:, None] * width + cols[None, :]).reshape(-1)))


def _is_count(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


def back_project(depth, intrinsics, image=None, labels=None, *, stride=1, max_depth=None,
                 point_budget=DEFAULT_POINT_BUDGET):
    """The valid pixels of ``depth`` (H x W metres, numpy or torch on any device) as a ``PointCloud``.

    ``image`` (H x W x 3 uint8 RGB) and ``labels`` (H x W class indices), numpy or torch, give each point its
    colour and class. ``intrinsics`` must be for H x W. Depth that is not finite, not positive or beyond
    ``max_depth`` (metres along z) is dropped. ``stride`` keeps every k-th row and column; then, when more than
    ``point_budget`` points remain (None: no limit), the ``point_budget`` best-ranked of them are kept, by a fixed
    pseudo-random rank per pixel: spread evenly without the stripes a regular pattern would leave, and the same
    pixels frame after frame in a steady scene. The arithmetic runs on the depth's device; the points come
    back in raster order.
    """
    depth = _as_depth_tensor(depth)
    _check_intrinsics_fit(intrinsics, depth.shape)
    if not _is_count(stride):
        raise ValueError(f"stride must be a whole number >= 1, got {stride!r}")
    if point_budget is not None and not _is_count(point_budget):
        raise ValueError(f"point_budget must be a whole number >= 1 or None, got {point_budget!r}")
    if image is not None and image.dtype not in (np.uint8, torch.uint8):
        raise ValueError(f"image must be uint8 RGB, got {image.dtype}")
    if max_depth is not None and not max_depth > 0:
        raise ValueError(f"max_depth must be a positive number of metres or None, got {max_depth!r}")

    sampled = depth[::stride, ::stride].reshape(-1)  # a copy when strided: indexed flat from here on
    valid = torch.isfinite(sampled) & (sampled > 0)
    if max_depth is not None:
        valid &= sampled <= max_depth
    positions = valid.nonzero()[:, 0]
    if point_budget is not None and len(positions) > point_budget:
        order = _ranked_positions(*depth.shape, stride, depth.device)
        chosen = order.index_select(0, valid.index_select(0, order).nonzero()[:point_budget, 0])
        positions = torch.zeros_like(valid).index_fill_(0, chosen, True).nonzero()[:, 0]  # raster order
    z = sampled.index_select(0, positions)
    width = (depth.shape[1] + stride - 1) // stride
    rows, cols = positions // width * stride, positions % width * stride
    flat_indices = rows * depth.shape[1] + cols
    x = (cols.float() - intrinsics.cx) * z / intrinsics.fx
    y = (rows.float() - intrinsics.cy) * z / intrinsics.fy

    return PointCloud(
        points=torch.stack([x, y, z], dim=1).cpu().numpy(),
        colours=None if image is None else _gather(image, flat_indices, "image", depth.shape, 3),
        labels=None if labels is None else _gather(labels, flat_indices, "labels", depth.shape, 0),
        pixels=torch.stack([rows, cols], dim=1).to(torch.int32).cpu().numpy(),
    )


def pixel_point(depth, intrinsics, row, col):
    """The 3D point (x, y, z metres, float64) of the pixel at ``row``, ``col``; None where its depth is not
    finite and positive."""
    depth = _as_depth_tensor(depth)
    height, width = depth.shape
    _check_intrinsics_fit(intrinsics, depth.shape)
    if not (0 <= row < height and 0 <= col < width):
        raise ValueError(f"pixel (row {row}, column {col}) is outside the {width}x{height} depth map")
    z = float(depth[row, col])
    if not (math.isfinite(z) and z > 0):
        return None
    return np.array([(col - intrinsics.cx) * z / intrinsics.fx, (row - intrinsics.cy) * z / intrinsics.fy, z])


def pixel_distance(depth, intrinsics, a, b):
    """The Euclidean distance in metres between the 3D points of pixels ``a`` and ``b`` (each (row, col));
    None when either has no valid depth."""
    points = [pixel_point(depth, intrinsics, *pixel) for pixel in (a, b)]
    if any(p is None for p in points):
        return None
    return float(np.linalg.norm(points[0] - points[1]))
