"""Atomic file writes (bytes, text, PNG): a file is either complete or absent, never half-written."""
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np


@contextmanager
def atomic_path(path, suffix=".tmp"):
    """A temporary path beside ``path``, renamed onto it when the block ends normally and removed otherwise.

    ``suffix`` matters to writers that choose the format by extension (OpenCV's, e.g. ``.part.mp4``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the file from other users
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path, data):
    """Writes ``data`` (bytes, or text as UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)


def write_png(path, image):
    """An image as a PNG, atomically: RGB (3 channels), grey, or 16-bit (e.g. depth in millimetres)."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise ValueError(f"{path}: OpenCV cannot encode this image as PNG")
    write_atomic(path, data.tobytes())


def depth_millimetres(depth):
    """Metres -> the usual 16-bit depth PNG values: millimetres, 0 = no depth (also for NaN and inf), saturating
    at 65.535 m."""
    depth = np.where(np.isfinite(depth), depth, 0.0)
    return np.clip(np.rint(depth * 1000.0), 0, np.iinfo(np.uint16).max).astype(np.uint16)
