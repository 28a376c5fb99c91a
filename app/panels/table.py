"""The panel table (no Qt, no images): each panel's title on screen, its caption in composed views and the result
field holding its image; the layouts and what the single layout can show; and which panels an arrangement shows
for a result."""
from dataclasses import dataclass

import numpy as np
import torch

from model.processing import colour_normals


@dataclass(frozen=True)
class Panel:
    title: str  # over the panel in the window
    caption: str  # written on the panel in composed views (recordings, snapshots, the headless output)
    field: str | None  # the ``Result`` attribute holding its image; None: drawn from others (the blend)


SINGLE_CHOICES = ("input", "segmentation", "depth", "normals")
PANEL_TABLE = {"input": Panel("input", "input", "frame"),
               "segmentation": Panel("segmentation", "segmentation", "segm_rgb"),
               "depth": Panel("depth (m)", "depth", "depth_rgb"),
               "normals": Panel("surface normals", "normals", "normals_rgb"),
               "blend": Panel("segmentation over input", "segmentation over input", None)}
PANELS = tuple(PANEL_TABLE)  # the single choices, then the blend
THREE_D = "3d"  # the single layout's 3D view: drawn beside the 2D scene, not in it (app.cloud3d)
VIEW_CHOICES = (*SINGLE_CHOICES, THREE_D)  # what the single layout can show
VIEW_TITLES = {**{name: name for name in SINGLE_CHOICES}, THREE_D: "3D"}
LAYOUTS = ("side", "blend", "single")
LAYOUT_TITLES = {"side": "Side by side", "blend": "Blend", "single": "Single"}


@dataclass(frozen=True)
class Arrangement:
    """How results are shown: the layout, the panel of the single layout, and the blend's opacity."""

    layout: str = "side"  # one of LAYOUTS
    single: str = "segmentation"  # one of VIEW_CHOICES
    opacity: float = 0.5  # of the segmentation over the input, 0..1


def has_panel(result, name):
    """Whether ``result`` holds the image of panel ``name`` (one of ``SINGLE_CHOICES``)."""
    return getattr(result, PANEL_TABLE[name].field) is not None


def view_available(result, name):
    """Whether the single layout can show ``name`` (``VIEW_CHOICES``) for ``result`` (None: not known yet)."""
    if result is None:
        return True
    return result.depth is not None if name == THREE_D else has_panel(result, name)


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
    present = [n for n in SINGLE_CHOICES if result is None or has_panel(result, n)]
    if arrangement.layout == "single":
        return [arrangement.single if arrangement.single in present else present[0]]
    return present


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
