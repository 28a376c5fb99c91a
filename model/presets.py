"""Dataset presets (class names, colours, depth range), read from ``presets.json``."""
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from model.geometry.intrinsics import Intrinsics

TASKS = ("segm", "depth", "normals")
IGNORE_LABEL = 255


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    classes: tuple
    colours: np.ndarray  # num_classes x 3 uint8, indexed by the network's class index
    max_depth: float  # metres: the fixed top of the depth colour scale
    depth_png_scale: float  # ground-truth depth PNG value per metre
    tasks: tuple
    # The camera of the training images, whose focal length the network's metric depth assumes. nyud-kitti
    # carries NYUD's Kinect: the usual 4:3 (or 16:9) frames are far from KITTI's 1242x375, whose intrinsics
    # would scale to very non-square pixels there; give KITTI frames their camera with --intrinsics.
    intrinsics: Intrinsics | None = None

    @property
    def num_classes(self):
        return len(self.classes)


@cache
def presets():
    """All presets by name."""
    raw = json.loads((Path(__file__).with_name("presets.json")).read_text())
    return {
        name: Preset(
            name=name,
            description=p["description"],
            classes=tuple(p["classes"]),
            colours=np.asarray(p["colours"], dtype=np.uint8),
            max_depth=float(p["max_depth"]),
            depth_png_scale=float(p["depth_png_scale"]),
            tasks=tuple(p["tasks"]),
            intrinsics=Intrinsics(**p["intrinsics"]) if p.get("intrinsics") else None,
        )
        for name, p in raw.items()
    }


def get_preset(name):
    try:
        return presets()[name]
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(presets())}") from None


def infer_preset(num_classes, tasks):
    """The preset of an official checkpoint: by its class count, and by its normals head."""
    with_normals = "normals" in tasks
    for preset in presets().values():
        if preset.num_classes == num_classes and ("normals" in preset.tasks) == with_normals:
            return preset
    return None


def generic_preset(num_classes, tasks, classes=None, max_depth=10.0):
    """A preset for classes that no named preset has: given or numbered names, fixed random colours, and no
    camera (``intrinsics`` None), so that ``choose_intrinsics`` says it falls back to its default field of view."""
    rng = np.random.default_rng(num_classes)
    return Preset(
        name="custom",
        description=f"{num_classes} custom classes",
        classes=tuple(classes) if classes else tuple(f"class {i}" for i in range(num_classes)),
        colours=rng.integers(0, 256, size=(num_classes, 3), dtype=np.uint8),
        max_depth=max_depth,
        depth_png_scale=1000.0,
        tasks=tuple(tasks),
    )
