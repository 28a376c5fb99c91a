"""Frame sources behind one interface: camera, video file, image folder, synthetic scene.

A source is pulled: ``open()``, then ``read()`` gives the next RGB uint8 frame or ``None`` at the end, then
``close()``. Failures raise ``SourceError`` with a one-line message. No Qt and no threads here: the GUI's
capture thread and the headless runner drive sources at their own pace.
"""
import logging
import math
import sys
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # OpenCV's own warnings would go to stderr
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
CORRUPT_FRAMES_IN_A_ROW = 25  # this many unreadable frames before the end of a file means the file is broken


class SourceError(RuntimeError):
    """A source that cannot deliver frames; the message is one line."""


class Source:
    kind = "source"
    fps = None  # native frame rate when known (video files); None for live or unpaced sources
    frame_count = None

    def __init__(self, loop=False):
        self.loop = loop
        self.skipped = 0  # unreadable frames or images passed over

    def open(self):
        pass

    def read(self):
        raise NotImplementedError

    def close(self):
        pass

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()


class CameraSource(Source):
    kind = "camera"

    def __init__(self, index=0, width=None, height=None):
        super().__init__()
        self.index = int(index)
        self.size = (width, height)
        self.capture = None

    @property
    def name(self):
        return f"camera {self.index}"

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

    def close(self):
        if self.capture is not None:
            self.capture.release()
            self.capture = None


class VideoSource(Source):
    kind = "video"

    def __init__(self, path, loop=False):
        super().__init__(loop)
        self.path = Path(path)
        self.capture = None
        self.position = 0  # index of the next frame

    @property
    def name(self):
        return self.path.name

    def open(self):
        if not self.path.is_file():
            raise SourceError(f"{self.path}: no such file")
        self.capture = cv2.VideoCapture(str(self.path))
        ok = self.capture.isOpened() and self.capture.grab()
        if not ok:
            self.close()
            raise SourceError(f"{self.path}: not a video that OpenCV can read")
        self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and math.isfinite(fps) and 0 < fps < 1000 else None
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 else None
        self.position = 0

    def read(self):
        if self.capture is None:
            raise SourceError(f"{self.path}: not open")
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
                self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                self.position = 0
                failures = 0
                continue
            return None

    def close(self):
        if self.capture is not None:
            self.capture.release()
            self.capture = None


class ImageFolderSource(Source):
    kind = "images"

    def __init__(self, folder, loop=False):
        super().__init__(loop)
        self.folder = Path(folder)
        self.files = []
        self.position = 0
        self.current = None  # path of the last image read

    @property
    def name(self):
        return self.folder.name or str(self.folder)

    def open(self):
        if not self.folder.is_dir():
            raise SourceError(f"{self.folder}: no such folder")
        self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise SourceError(f"{self.folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self.frame_count = len(self.files)
        self.position = 0

    def read(self):
        unreadable_in_a_row = 0
        while True:
            if self.position >= len(self.files):
                if not self.loop or unreadable_in_a_row >= len(self.files):
                    return None
                self.position = 0
            path = self.files[self.position]
            self.position += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                self.skipped += 1
                unreadable_in_a_row += 1
                log.warning("%s: not a readable image, skipped", path)
                continue
            self.current = path
            return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class SyntheticSource(Source):
    """A moving indoor-like scene, so that the app always shows something: no camera, file or network needed."""

    kind = "synthetic"
    name = "synthetic scene"

    def __init__(self, width=640, height=480, loop=True):
        super().__init__(loop)
        self.width, self.height = width, height
        self.position = 0
        y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
        x = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
        wall = np.array([200, 190, 170], np.float32) * (0.75 + 0.25 * x)
        floor = np.array([120, 90, 60], np.float32) * (0.6 + 0.4 * y)
        self.background = np.where(y > 0.62, floor, wall).astype(np.uint8)

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


SOURCES = {"camera": CameraSource, "video": VideoSource, "images": ImageFolderSource, "synthetic": SyntheticSource}


def source_from_args(args):
    """The source that ``run_demo.py``'s flags name, not yet opened; None when no source flag is given."""
    if args.camera is not None:
        return CameraSource(args.camera)
    if args.video:
        return VideoSource(args.video, loop=args.loop)
    if args.images:
        return ImageFolderSource(args.images, loop=args.loop)
    if args.synthetic:
        return SyntheticSource()
    return None


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


def list_cameras(limit=4):
    """Camera indices worth offering in a menu, without opening any (opening one can take a second).

    On Linux the ``/dev/videoN`` nodes (a camera may also have a metadata node, which fails to open);
    elsewhere indices ``0 .. limit-1``.
    """
    if sys.platform.startswith("linux"):
        return sorted(int(p.name[5:]) for p in Path("/dev").glob("video*") if p.name[5:].isdigit())
    return list(range(limit))
