"""What the sources read through an OpenCV ``VideoCapture`` (camera, video file, stream) share."""
import math

import cv2

from .base import Source


class CaptureSource(Source):
    """A source read through an OpenCV ``VideoCapture``."""

    capture = None

    def close(self):
        if self.capture is not None:
            self.capture.release()
            self.capture = None


def frame_rate(capture):
    """The capture's frame rate, or None when it announces none that makes sense."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    return fps if fps and math.isfinite(fps) and 0 < fps < 1000 else None
