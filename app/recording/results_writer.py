"""The files of one result, written the same way by the window's snapshots and the headless runner: the composed
view (PNG), the class indices (PNG), the depth (16-bit PNG in millimetres, or .npz in metres) and the labelled,
coloured point cloud (binary PLY). Every file appears atomically (``model.files``).

Class-index PNGs are 8-bit when the classes number fewer than 256, so that every class index fits and 255 stays
free for the datasets' "ignore" value (``model.presets.IGNORE_LABEL``), as in the training data's label PNGs;
with more classes they are 16-bit. The bit depth follows the class count, never the values of one frame, so that
every file of a run has one type.
"""
import io

import numpy as np

from model.files import depth_millimetres, write_atomic, write_png
from model.geometry.ply import write_ply
from model.geometry.pointcloud import back_project

EIGHT_BIT_CLASSES = 255  # class counts up to this give 8-bit label PNGs


def label_image(labels, class_count):
    """``labels`` (class indices) as the image a label PNG holds: uint8 below 256 classes, else uint16."""
    return labels.astype(np.uint8 if class_count <= EIGHT_BIT_CLASSES else np.uint16, copy=False)


def write_view(path, rgb):
    write_png(path, rgb)


def write_labels(path, result):
    write_png(path, label_image(result.labels, len(result.preset.classes)))


def write_depth(path, depth, form="png"):
    """``depth`` (metres) as a 16-bit PNG in millimetres (0: no depth) or, for ``form`` "npz", float32 metres."""
    if form == "npz":
        buffer = io.BytesIO()
        np.savez_compressed(buffer, depth=depth.astype(np.float32))
        write_atomic(path, buffer.getvalue())
    else:
        write_png(path, depth_millimetres(depth))


def write_cloud(path, result, intrinsics):
    """Every pixel of ``result`` (at the frame's size, with depth) as a labelled, coloured 3D point."""
    cloud = back_project(result.depth, intrinsics, image=result.frame, labels=result.labels, point_budget=None)
    write_ply(path, cloud, class_names=result.preset.classes, intrinsics=intrinsics)
