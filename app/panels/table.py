"""What each layout shows (no Qt): the panels of a result, their images, and the composed view that recordings
and snapshots hold."""
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from model.processing import colour_normals

from .compose import blend, side_by_side

SINGLE_CHOICES = ("input", "segmentation", "depth", "normals")
PANELS = (*SINGLE_CHOICES, "blend")
THREE_D = "3d"  # the single layout's 3D view: drawn beside the 2D scene, not in it (app.cloud_view)
VIEW_CHOICES = (*SINGLE_CHOICES, THREE_D)  # what the single layout can show
VIEW_TITLES = {**{name: name for name in SINGLE_CHOICES}, THREE_D: "3D"}
LAYOUTS = ("side", "blend", "single")
LAYOUT_TITLES = {"side": "Side by side", "blend": "Blend", "single": "Single"}
PANEL_TITLES = {"input": "input", "segmentation": "segmentation", "depth": "depth (m)", "normals": "surface normals",
                "blend": "segmentation over input"}
RESULT_FIELDS = {"input": "frame", "segmentation": "segm_rgb", "depth": "depth_rgb", "normals": "normals_rgb"}


@dataclass(frozen=True)
class Arrangement:
    """How results are shown: the layout, the panel of the single layout, and the blend's opacity."""

    layout: str = "side"  # one of LAYOUTS
    single: str = "segmentation"  # one of VIEW_CHOICES
    opacity: float = 0.5  # of the segmentation over the input, 0..1


def panel_image(result, name, opacity=0.5):
    """The RGB image panel ``name`` shows for ``result``, or None when the model lacks that output. Maps may
    have the network's size; the blend is drawn at the frame's, the segmentation scaled up to it."""
    if name != "blend":
        return getattr(result, RESULT_FIELDS[name])
    overlay = result.segm_rgb
    h, w = result.frame.shape[:2]
    if overlay.shape[:2] != (h, w):
        overlay = cv2.resize(overlay, (w, h), interpolation=cv2.INTER_NEAREST)
    return blend(result.frame, overlay, opacity)


def view_available(result, name):
    """Whether the single layout can show ``name`` (``VIEW_CHOICES``) for ``result`` (None: not known yet)."""
    if result is None:
        return True
    return result.depth is not None if name == THREE_D else panel_image(result, name) is not None


def shows_3d_alone(result, arrangement):
    """Whether ``arrangement`` shows the 3D view and no 2D panel."""
    return arrangement.layout == "single" and arrangement.single == THREE_D and view_available(result, THREE_D)


def visible_panels(result, arrangement):
    """The 2D panel names ``arrangement`` shows, in order, for a model with or without depth and normals; none
    when it shows the 3D view alone."""
    if arrangement.layout == "blend":
        return ["blend"]
    if shows_3d_alone(result, arrangement):
        return []
    present = [n for n in SINGLE_CHOICES if result is None or panel_image(result, n) is not None]
    if arrangement.layout == "single":
        return [arrangement.single if arrangement.single in present else present[0]]
    return present


def composed_view(result, arrangement):
    """The view as one RGB image at the frame's resolution: what recordings and snapshots hold (for the 3D view
    alone, the side-by-side panels: the point cloud goes to PLY files)."""
    if not result.at_frame_size:
        result = result.at_full_size()
    if arrangement.layout == "side" or shows_3d_alone(result, arrangement):
        return side_by_side(result)
    return panel_image(result, visible_panels(result, arrangement)[0], arrangement.opacity)


def normals_key(size=64):
    """A size x size RGBA image of a sphere facing the camera, shaded with the normals panel's own colouring:
    each colour of that panel is the direction of the sphere's surface with the same colour."""
    v, u = np.mgrid[0:size, 0:size].astype(np.float32)
    x, y = (2 * u + 1) / size - 1, (2 * v + 1) / size - 1  # image axes: x right, y down
    inside = x * x + y * y <= 1
    z = -np.sqrt(np.clip(1 - x * x - y * y, 0, 1))  # towards the camera
    normals = torch.from_numpy(np.stack([x, y, z]))[None]
    rgb = colour_normals(normals)[0].numpy()
    return np.dstack([rgb, np.where(inside, 255, 0).astype(np.uint8)])
