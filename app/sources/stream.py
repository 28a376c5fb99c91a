"""A network stream that OpenCV opens through FFmpeg (rtsp://, http(s)://, rtmp://, udp:// ...)."""
import re
from urllib.parse import urlsplit, urlunsplit

import cv2

from .base import SourceError, register
from .capture import CaptureSource, frame_rate

URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
STREAM_TIMEOUT_MS = 10_000  # to open a stream, and to wait for each of its frames


@register
class StreamSource(CaptureSource):
    """Frames as they come, no frame count, no looping. One that stops before the end it announced (if any) is a
    ``SourceError``."""

    kind = "stream"
    what = "a stream URL"
    needs = "an OpenCV built with FFmpeg"

    def __init__(self, url, loop=False):
        super().__init__(loop=False)
        self.url = str(url)
        self.position = 0
        self.announced = None  # the frame count a served file announces; a live stream has none

    @classmethod
    def is_available(cls):
        return cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG)

    @staticmethod
    def claims(text):
        return bool(URL.match(text))

    @property
    def name(self):
        """The URL without its password, if it has one: it is printed."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))

    @property
    def text(self):
        return self.url  # with its password, if any: without it the stream could not be opened again

    def open(self):
        self.capture = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS])
        if not self.capture.isOpened():
            self.close()
            raise SourceError(f"{self.name}: cannot open the stream (unreachable, or not a format OpenCV reads)")
        self.fps = frame_rate(self.capture)
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.announced = count if count > 0 else None
        self.position = 0

    def read(self):
        ok, frame = self.capture.read() if self.capture is not None else (False, None)
        if ok and frame is not None:
            self.position += 1
            return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if self.announced is not None and self.position >= self.announced - 1:
            return None
        raise SourceError(f"{self.name}: the stream stopped after {self.position} frames")
