"""A camera by its index, and the indices worth offering."""
import sys
from pathlib import Path

import cv2

from .base import SourceError, register
from .capture import CaptureSource


@register
class CameraSource(CaptureSource):
    kind = "camera"
    what = "a camera index"
    flag = "camera"
    needs = "an OpenCV with a camera backend"

    def __init__(self, index=0, width=None, height=None):
        super().__init__()
        self.index = int(index)
        self.size = (width, height)

    @classmethod
    def is_available(cls):
        return bool(cv2.videoio_registry.getCameraBackends())

    @staticmethod
    def claims(text):
        return text.isdigit()

    @classmethod
    def from_text(cls, text, loop=False):
        return cls(int(text))  # a camera has no end to loop at

    @property
    def name(self):
        return f"camera {self.index}"

    @property
    def text(self):
        return str(self.index)

    def describe(self):
        return self.name

    def open(self):
        self.capture = cv2.VideoCapture(self.index)
        if not self.capture.isOpened():
            self.close()
            raise SourceError(f"{self.name}: cannot be opened (not connected, or in use by another program)")
        width, height = self.size
        if width and height:
            self.capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self.capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)

    def read(self):
        ok, frame = self.capture.read() if self.capture is not None else (False, None)
        if not ok or frame is None:
            raise SourceError(f"{self.name}: stopped delivering frames (unplugged?)")
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def list_cameras(limit=4):
    """Camera indices worth offering in a menu, without opening any (opening one can take a second).

    On Linux the ``/dev/videoN`` nodes (a camera may also have a metadata node, which fails to open);
    elsewhere indices ``0 .. limit-1``.
    """
    if sys.platform.startswith("linux"):
        return sorted(int(p.name[5:]) for p in Path("/dev").glob("video*") if p.name[5:].isdigit())
    return list(range(limit))
