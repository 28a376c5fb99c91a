"""The 3D view's points, without Qt: a result's labelled point cloud at the point budget, coloured by class, by
the image or by depth, less the classes hidden, in the view's axes; the camera's frustum; and the point nearest
a position on the screen.

The view's axes are z-up, as pyqtgraph's orbiting camera expects: x right, y forward (the camera's z), z up
(minus the camera's y). The camera sits at the origin looking along +y.
"""
import time
from dataclasses import dataclass, field

import numpy as np

from model.geometry.pointcloud import DEFAULT_POINT_BUDGET, back_project

COLOURINGS = ("class", "image", "depth")
COLOURING_TITLES = {"class": "by class", "image": "by image", "depth": "by depth"}
FLOOR_PERCENTILE = 2  # the ground grid goes this far up the points' heights: below all but the stray few


@dataclass(frozen=True)
class CloudRequest:
    """What to build: ``result``'s cloud with ``intrinsics`` for its maps' size."""

    result: object  # model.inference.engine.Result, maps at any size
    intrinsics: object  # model.geometry.intrinsics.Intrinsics for result.depth's shape
    colouring: str = "class"  # one of COLOURINGS
    hidden: frozenset = frozenset()  # class indices left out
    budget: int = DEFAULT_POINT_BUDGET


@dataclass(frozen=True)
class CloudFrame:
    """What the 3D view draws for one result."""

    positions: np.ndarray  # N x 3 float32 metres, the view's axes
    colours: np.ndarray  # N x 3 uint8 RGB
    pixels: np.ndarray  # N x 2 int32 (row, col) of each point in the maps
    total: int  # points within the budget, before the hidden classes were taken out
    floor: float  # the view's z the ground grid goes at
    build_ms: float
    request: CloudRequest = field(repr=False)

    def __len__(self):
        return len(self.positions)


def view_axes(points):
    """Camera-frame points (x right, y down, z forward) in the view's axes (x right, y forward, z up)."""
    points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    return np.stack([points[:, 0], points[:, 2], -points[:, 1]], axis=1)


def map_to_frame(pixels, map_hw, frame_hw):
    """The frame pixel at the centre of each map pixel (row, col): maps are drawn stretched over the frame."""
    (mh, mw), (fh, fw) = map_hw, frame_hw
    rows = np.minimum(((pixels[:, 0] + 0.5) * fh / mh).astype(np.int64), fh - 1)
    cols = np.minimum(((pixels[:, 1] + 0.5) * fw / mw).astype(np.int64), fw - 1)
    return rows, cols


def point_colours(result, pixels, colouring):
    """N x 3 uint8 RGB of the points at map ``pixels``: the segmentation's colours, the frame's, or the depth
    panel's (its fixed range in metres)."""
    if colouring == "image":
        return result.frame[map_to_frame(pixels, result.depth.shape, result.frame.shape[:2])]
    image = result.segm_rgb if colouring == "class" else result.depth_rgb
    return image[pixels[:, 0], pixels[:, 1]]


def build_cloud_frame(request):
    """The ``CloudFrame`` of ``request``: back-projected at its budget (the same pixels frame after frame in a
    steady scene), then the hidden classes taken out, so that hiding a class removes exactly its points."""
    start = time.perf_counter()
    result = request.result
    if request.colouring not in COLOURINGS:
        raise ValueError(f"colouring must be one of {', '.join(COLOURINGS)}, got {request.colouring!r}")
    if result.depth is None:
        raise ValueError("this model has no depth: nothing to show in 3D")
    cloud = back_project(result.depth, request.intrinsics, labels=result.labels, point_budget=request.budget)
    keep = ~np.isin(cloud.labels, np.fromiter(request.hidden, np.int64)) if request.hidden else slice(None)
    positions = view_axes(cloud.points[keep])
    pixels = cloud.pixels[keep]
    heights = positions[:, 2] if len(positions) else view_axes(cloud.points)[:, 2]
    floor = float(np.percentile(heights, FLOOR_PERCENTILE)) if len(heights) else 0.0
    return CloudFrame(positions, point_colours(result, pixels, request.colouring), pixels, len(cloud), floor,
                      (time.perf_counter() - start) * 1e3, request)


def frustum_lines(intrinsics, distance):
    """The camera's frustum to ``distance`` metres as line segments (16 x 3, pairs of points, the view's axes):
    the four rays through the image's corners and the image's outline at that depth."""
    left, top = (-0.5 - intrinsics.cx) / intrinsics.fx, (-0.5 - intrinsics.cy) / intrinsics.fy
    right = (intrinsics.width - 0.5 - intrinsics.cx) / intrinsics.fx
    bottom = (intrinsics.height - 0.5 - intrinsics.cy) / intrinsics.fy
    corners = [np.array([x, y, 1.0]) * distance for x, y in ((left, top), (right, top), (right, bottom),
                                                             (left, bottom))]
    segments = []
    for i, corner in enumerate(corners):
        segments += [np.zeros(3), corner, corner, corners[(i + 1) % 4]]
    return view_axes(np.array(segments))


def nearest_on_screen(positions, matrix, size, where, radius=8.0):
    """The index of the point drawn nearest the screen position ``where`` (x, y widget pixels, y down) and within
    ``radius`` pixels of it, the one closest to the eye where several are; None when none is.

    ``matrix``: the 4 x 4 projection times view matrix (row-major numpy); ``size``: the viewport's (width,
    height) in the same pixels as ``where``."""
    if not len(positions):
        return None
    homogeneous = np.hstack([positions, np.ones((len(positions), 1), np.float32)]) @ np.asarray(matrix).T
    w = homogeneous[:, 3]
    in_front = w > 1e-9
    ndc = homogeneous[:, :3] / np.where(in_front, w, 1.0)[:, None]
    x = (ndc[:, 0] + 1) * 0.5 * size[0]
    y = (1 - ndc[:, 1]) * 0.5 * size[1]
    near = in_front & (np.abs(ndc[:, 2]) <= 1) & ((x - where[0]) ** 2 + (y - where[1]) ** 2 <= radius ** 2)
    candidates = np.flatnonzero(near)
    if not len(candidates):
        return None
    return int(candidates[np.argmin(ndc[candidates, 2])])
