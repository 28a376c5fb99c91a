"""Point clouds as binary little-endian PLY files, with each point's class and the class names in the header.

Vertices have ``x y z`` (float32 metres, camera frame: x right, y down, z forward), ``red green blue``
(uchar) when the cloud has colours, and ``label`` (uchar, or ushort beyond 256 classes) when it has labels.
Header comments carry ``class <index> <name>`` per class and ``intrinsics fx .. fy .. cx .. cy .. width ..
height ..``. PLY headers are ASCII, so names are written with Python's ``unicode_escape`` codec: plain ASCII
names appear as they are, and ``name.encode("ascii").decode("unicode_escape")`` undoes it for the rest.
"""
import numpy as np

from model.files import atomic_path

FRAME_COMMENT = "frame camera: x right, y down, z forward, metres"


def _escape(text):
    return text.encode("unicode_escape").decode("ascii")


def _label_type(labels, class_names):
    """The PLY and numpy types for the labels: uchar while every label and class index fits in it."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be integer class indices, got {labels.dtype}")
    if len(labels) and labels.min() < 0:
        raise ValueError(f"labels must not be negative, got {labels.min()}")
    count = max(len(class_names or ()), int(labels.max()) + 1 if len(labels) else 0)
    if count > 1 << 16:
        raise ValueError(f"labels go up to {count - 1}, more than a PLY ushort holds")
    return ("uchar", "u1") if count <= 1 << 8 else ("ushort", "<u2")


def _vertices(cloud, class_names):
    """The vertex records (a structured array) and their header lines."""
    points = np.asarray(cloud.points)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points must be N x 3, got shape {points.shape}")
    fields = [(axis, "<f4") for axis in "xyz"]
    lines = [f"property float {axis}" for axis in "xyz"]
    columns = {axis: points[:, i] for i, axis in enumerate("xyz")}
    if cloud.colours is not None:
        colours = np.asarray(cloud.colours)
        if colours.shape != points.shape or colours.dtype != np.uint8:
            raise ValueError(f"colours must be N x 3 uint8 like the points, got {colours.dtype} {colours.shape}")
        for i, channel in enumerate(("red", "green", "blue")):
            fields.append((channel, "u1"))
            lines.append(f"property uchar {channel}")
            columns[channel] = colours[:, i]
    if cloud.labels is not None:
        if np.shape(cloud.labels) != (len(points),):
            raise ValueError(f"labels must be one per point ({len(points)}), got shape {np.shape(cloud.labels)}")
        ply_type, dtype = _label_type(cloud.labels, class_names)
        fields.append(("label", dtype))
        lines.append(f"property {ply_type} label")
        columns["label"] = cloud.labels
    vertices = np.empty(len(points), dtype=fields)
    for name, column in columns.items():
        vertices[name] = column
    return vertices, lines


def write_ply(path, cloud, class_names=None, intrinsics=None):
    """Writes ``cloud`` (a ``model.geometry.pointcloud.PointCloud``) to ``path`` atomically: the file is complete or
    untouched. ``class_names`` (index order, e.g. ``preset.classes``) and ``intrinsics`` go into comments."""
    vertices, properties = _vertices(cloud, class_names)
    comments = [FRAME_COMMENT]
    if intrinsics is not None:
        comments.append(f"intrinsics fx {intrinsics.fx!r} fy {intrinsics.fy!r} cx {intrinsics.cx!r} "
                        f"cy {intrinsics.cy!r} width {intrinsics.width} height {intrinsics.height}")
        if intrinsics.name:
            comments.append(f"camera {_escape(intrinsics.name)}")
    comments += [f"class {i} {_escape(str(name))}" for i, name in enumerate(class_names or ())]
    header = "\n".join(["ply", "format binary_little_endian 1.0", *(f"comment {c}" for c in comments),
                        f"element vertex {len(vertices)}", *properties, "end_header"]) + "\n"
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        file.write(header.encode("ascii"))
        file.write(vertices.tobytes())
