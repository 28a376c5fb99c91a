"""Pinhole camera intrinsics: presets' cameras, a field of view, ``fx,fy,cx,cy`` text, OpenCV calibration files.

Pixel coordinates follow OpenCV: the centre of the pixel in column ``u`` and row ``v`` is at ``(u, v)``, so the
image spans ``-0.5 .. width - 0.5`` horizontally and its centre is at ``((width - 1) / 2, (height - 1) / 2)``.
"""
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

DEFAULT_HFOV_DEGREES = 60.0  # a typical uncalibrated webcam
CAMERA_MATRIX_KEYS = ("camera_matrix", "cameraMatrix", "K")


class IntrinsicsError(ValueError):
    """Intrinsics that cannot be built from what was given (text, calibration file, numbers)."""


def _frame_size(size):
    try:
        height, width = (int(n) for n in size)
    except (TypeError, ValueError):
        raise IntrinsicsError(f"frame size must be (height, width), got {size!r}") from None
    if height <= 0 or width <= 0:
        raise IntrinsicsError(f"frame size must be positive, got {height}x{width} (height x width)")
    return height, width


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera in pixels of a ``width`` x ``height`` image; ``(cx, cy)`` in OpenCV's pixel-centre
    convention (the module's docstring). ``name`` says which camera it is, for ``describe``."""
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    name: str = ""

    def __post_init__(self):
        for field in ("fx", "fy", "cx", "cy"):
            value = float(getattr(self, field))
            if not math.isfinite(value):
                raise IntrinsicsError(f"intrinsics: {field} must be a finite number, got {value}")
            object.__setattr__(self, field, value)
        if self.fx <= 0 or self.fy <= 0:
            raise IntrinsicsError(f"intrinsics: focal lengths must be positive, got fx {self.fx:g} fy {self.fy:g}")
        height, width = _frame_size((self.height, self.width))
        object.__setattr__(self, "height", height)
        object.__setattr__(self, "width", width)

    @property
    def size(self):
        """(height, width), the order of an image array's shape."""
        return self.height, self.width

    @property
    def matrix(self):
        """The 3 x 3 camera matrix K (float64)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def scaled_to(self, size):
        """The same camera for its image resized to ``size`` (height, width): fx and cx scale with the width,
        fy and cy with the height. The image's edges (-0.5 and width - 0.5) map onto the new edges, so
        ``cx' = (cx + 0.5) * sx - 0.5``; a centred principal point stays centred."""
        height, width = _frame_size(size)
        if (height, width) == self.size:
            return self
        sx, sy = width / self.width, height / self.height
        return replace(self, fx=self.fx * sx, fy=self.fy * sy, cx=(self.cx + 0.5) * sx - 0.5,
                       cy=(self.cy + 0.5) * sy - 0.5, width=width, height=height)

    @classmethod
    def from_hfov(cls, degrees, size):
        """A camera with a horizontal field of view of ``degrees`` (edge to edge of the image), square pixels
        and the principal point at the image's centre."""
        height, width = _frame_size(size)
        try:
            degrees = float(degrees)
        except (TypeError, ValueError):
            raise IntrinsicsError(f"field of view must be a number of degrees, got {degrees!r}") from None
        if not 0 < degrees < 180:
            raise IntrinsicsError(f"horizontal field of view must be between 0 and 180 degrees, got {degrees:g}")
        focal = (width / 2) / math.tan(math.radians(degrees) / 2)
        return cls(focal, focal, (width - 1) / 2, (height - 1) / 2, width, height,
                   name=f"{degrees:g} degree horizontal field of view")

    @classmethod
    def parse(cls, text, size):
        """``"fx,fy,cx,cy"`` in pixels of a frame of ``size`` (height, width), e.g. a ``--intrinsics`` flag."""
        parts = [p.strip() for p in str(text).split(",")]
        if len(parts) != 4:
            raise IntrinsicsError(f"intrinsics {text!r}: expected 4 comma-separated numbers fx,fy,cx,cy, "
                                  f"got {len(parts)}")
        try:
            fx, fy, cx, cy = (float(p) for p in parts)
        except ValueError:
            raise IntrinsicsError(f"intrinsics {text!r}: fx,fy,cx,cy must all be numbers") from None
        height, width = _frame_size(size)
        return cls(fx, fy, cx, cy, width, height, name="given fx,fy,cx,cy")

    @classmethod
    def from_calibration_file(cls, path, size=None):
        """The camera matrix of an OpenCV ``FileStorage`` file (YAML, XML or JSON, e.g. written by OpenCV's
        calibration sample) under ``camera_matrix``, ``cameraMatrix`` or ``K``, at the file's
        ``image_width`` x ``image_height``; a file without them is taken to be calibrated at ``size``
        (height, width). Scale the result to a frame with ``scaled_to``."""
        path = Path(path)
        if not path.is_file():
            raise IntrinsicsError(f"{path}: no such calibration file")
        storage = cv2.FileStorage()  # opened separately: the constructor turns parse errors into SystemError
        try:
            opened = storage.open(str(path), cv2.FILE_STORAGE_READ)
        except cv2.error as e:
            parse_error = re.search(r"\((\d+)\): (.*?)'?$", str(e).strip())  # "...file.yaml(4): Missing , ..."
            reason = f" (line {parse_error[1]}: {parse_error[2]})" if parse_error else ""
            raise IntrinsicsError(f"{path}: not a valid OpenCV YAML/XML/JSON file{reason}") from None
        try:
            if not opened:
                raise IntrinsicsError(f"{path}: OpenCV cannot read it as a YAML/XML/JSON file")
            matrix = _camera_matrix(storage, path)
            width, height = (storage.getNode(key) for key in ("image_width", "image_height"))
            if not width.empty() and not height.empty():
                size = (int(height.real()), int(width.real()))
            elif size is None:
                raise IntrinsicsError(f"{path}: no image_width/image_height; give the size it was calibrated at")
        finally:
            storage.release()
        try:
            height, width = _frame_size(size)
            return cls(matrix[0, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2], width, height,
                       name=f"calibration {path.name}")
        except IntrinsicsError as e:
            raise IntrinsicsError(f"{path}: {e}") from None

    def describe(self):
        """One line for the UI, e.g. ``NYUDv2 Kinect: fx 518.9 fy 519.5 cx 325.6 cy 253.7 at 640x480``."""
        numbers = (f"fx {self.fx:.1f} fy {self.fy:.1f} cx {self.cx:.1f} cy {self.cy:.1f} "
                   f"at {self.width}x{self.height}")
        return f"{self.name}: {numbers}" if self.name else numbers


def _camera_matrix(storage, path):
    """The 3 x 3 matrix under the first camera-matrix key that ``storage`` has."""
    nodes = [storage.getNode(key) for key in CAMERA_MATRIX_KEYS]
    node = next((n for n in nodes if not n.empty()), None)
    if node is None:
        raise IntrinsicsError(f"{path}: no camera matrix (looked for {', '.join(CAMERA_MATRIX_KEYS)})")
    try:
        matrix = node.mat() if node.isMap() else None
    except cv2.error:  # rows x cols disagreeing with its data
        matrix = None
    if matrix is None:
        raise IntrinsicsError(f"{path}: {node.name()} is not a well-formed OpenCV matrix (rows, cols, dt, data)")
    if matrix.shape != (3, 3):
        raise IntrinsicsError(f"{path}: {node.name()} is {'x'.join(map(str, matrix.shape))}, expected 3x3")
    if not np.allclose(matrix[2], (0, 0, 1)):
        raise IntrinsicsError(f"{path}: {node.name()}'s last row is {matrix[2].tolist()}, expected [0, 0, 1] "
                              f"(is it transposed?)")
    return matrix.astype(np.float64)


def choose_intrinsics(size, *, explicit=None, calibration_file=None, hfov=None, preset=None):
    """The intrinsics for frames of ``size`` (height, width) and where they came from, by priority:
    ``explicit`` ``"fx,fy,cx,cy"`` text (pixels of the frame) > ``calibration_file`` > ``hfov`` degrees >
    the ``preset``'s camera > a ``DEFAULT_HFOV_DEGREES`` field of view. Returns ``(Intrinsics, origin)``."""
    if explicit is not None:
        return Intrinsics.parse(explicit, size), "given fx,fy,cx,cy"
    if calibration_file is not None:
        return (Intrinsics.from_calibration_file(calibration_file, size).scaled_to(size),
                f"calibration file {calibration_file}")
    if hfov is not None:
        return Intrinsics.from_hfov(hfov, size), f"{float(hfov):g} degree field of view"
    camera = getattr(preset, "intrinsics", None)
    if camera is not None:
        return camera.scaled_to(size), f"preset {preset.name}'s camera"
    return (Intrinsics.from_hfov(DEFAULT_HFOV_DEGREES, size),
            f"default {DEFAULT_HFOV_DEGREES:g} degree field of view (uncalibrated)")
