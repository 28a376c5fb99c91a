"""The synthetic scene, and the fallback to it when there is no camera."""
import logging
import math

import cv2
import numpy as np

from .base import Source, SourceError, register
from .camera import CameraSource

log = logging.getLogger(__name__)


@register
class SyntheticSource(Source):
    """A moving indoor-like scene, so that the app always shows something: no camera, file or network needed."""

    kind = "synthetic"
    what = "the synthetic scene"
    flag = "synthetic"
    name = "synthetic scene"
    text = "synthetic"

    def __init__(self, width=640, height=480, loop=True):
        super().__init__(loop)
        self.width, self.height = width, height
        self.position = 0
        y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
        x = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
        wall = np.array([200, 190, 170], np.float32) * (0.75 + 0.25 * x)
        floor = np.array([120, 90, 60], np.float32) * (0.6 + 0.4 * y)
        self.background = np.where(y > 0.62, floor, wall).astype(np.uint8)

    @staticmethod
    def claims(text):
        return text == "synthetic"

    @classmethod
    def from_text(cls, text, loop=False):
        return cls()  # endless

    @classmethod
    def from_spec(cls, text, loop=False):
        return cls()  # always there (settings of old versions remember it with no text)

    def describe(self):
        return f"{self.name} ({self.width}x{self.height})"

    def read(self):
        t = self.position / 30.0
        self.position += 1
        frame = self.background.copy()
        w, h = self.width, self.height
        cv2.rectangle(frame, (int(w * 0.08), int(h * 0.15)), (int(w * 0.3), int(h * 0.45)), (90, 140, 200), -1)
        cx = int(w * (0.5 + 0.3 * math.sin(t)))
        cv2.rectangle(frame, (cx - w // 10, int(h * 0.5)), (cx + w // 10, int(h * 0.8)), (150, 75, 40), -1)
        cv2.circle(frame, (int(w * (0.5 + 0.35 * math.cos(1.3 * t))), int(h * 0.3)), h // 12, (230, 60, 60), -1)
        return frame


def open_default_source():
    """Camera 0 when there is one, else the synthetic scene: the first run always shows something."""
    camera = CameraSource(0)
    try:
        camera.open()
        return camera
    except SourceError as e:
        log.info("%s; showing the synthetic scene", e)
        source = SyntheticSource()
        source.open()
        return source
