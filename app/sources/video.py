"""A video file, frame by frame, every frame: skipping unreadable ones, looping when asked."""
import logging
from pathlib import Path

import cv2

from .base import IMAGE_SUFFIXES, SourceError, register
from .capture import CaptureSource, frame_rate

log = logging.getLogger(__name__)
CORRUPT_FRAMES_IN_A_ROW = 25  # this many unreadable frames before the end of a file means the file is broken


@register
class VideoSource(CaptureSource):
    kind = "video"
    what = "a video file"
    flag = "video"
    needs = "an OpenCV with a video backend"

    def __init__(self, path, loop=False):
        super().__init__(loop)
        self.path = Path(path)
        self.position = 0  # index of the next frame
        self.first = None  # the frame that opening read to check the file, handed out first

    @classmethod
    def is_available(cls):
        return bool(cv2.videoio_registry.getStreamBackends())

    @staticmethod
    def claims(text):
        return Path(text).is_file() and Path(text).suffix.lower() not in IMAGE_SUFFIXES

    @property
    def name(self):
        return self.path.name

    @property
    def text(self):
        return str(self.path)

    def open(self):
        if not self.path.is_file():
            raise SourceError(f"{self.path}: no such file")
        self.capture = cv2.VideoCapture(str(self.path))
        # The check reads a frame and keeps it: seeking back to frame 0 instead loses the only frame of a
        # one-frame video (or of an image that OpenCV reads as one).
        ok, frame = self.capture.read() if self.capture.isOpened() else (False, None)
        if not ok or frame is None:
            self.close()
            raise SourceError(f"{self.path}: not a video that OpenCV can read")
        self.first = frame
        self.fps = frame_rate(self.capture)
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 else None
        self.position = 0

    def close(self):
        super().close()
        self.first = None

    def read(self):
        if self.capture is None:
            raise SourceError(f"{self.path}: not open")
        if self.first is not None:
            frame, self.first = self.first, None
            self.position += 1
            return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        failures = 0
        while True:
            ok, frame = self.capture.read()
            if ok and frame is not None:
                self.position += 1
                return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            if self.frame_count is not None and self.position + failures < self.frame_count - 1 \
                    and failures < CORRUPT_FRAMES_IN_A_ROW:
                failures += 1
                self.skipped += 1
                log.warning("%s: frame %d is unreadable, skipped", self.name, self.position + failures - 1)
                self.capture.set(cv2.CAP_PROP_POS_FRAMES, self.position + failures)
                continue
            if self.loop and self.position > 0:
                self.rewind()
                failures = 0
                continue
            return None

    def rewind(self):
        """Back to frame 0 by opening the file again: seeking there from the end reads nothing more in a
        one-frame video."""
        self.capture.release()
        self.capture = cv2.VideoCapture(str(self.path))
        self.position = 0
