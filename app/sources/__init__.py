"""Frame sources behind one interface: camera, video file, image folder, glob pattern, stream URL, synthetic scene.

A source is pulled: ``open()``, then ``read()`` gives the next RGB uint8 frame or ``None`` at the end, then
``close()``. Failures raise ``SourceError`` with a one-line message. No Qt and no threads here: the GUI's
capture thread and the headless runner drive sources at their own pace.

``SOURCES`` is the registry of kinds: ``source_from_args`` builds the one that ``run_demo.py``'s flags name, and
``source_for_input`` recognises the kind of ``-i/--input TEXT`` by asking each kind in turn whether it claims it.
"""
import glob
import logging
import math
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

log = logging.getLogger(__name__)
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # OpenCV's own warnings would go to stderr
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
CORRUPT_FRAMES_IN_A_ROW = 25  # this many unreadable frames before the end of a file means the file is broken
GLOB_CHARACTERS = re.compile(r"[*?\[]")
URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
STREAM_TIMEOUT_MS = 10_000  # to open a stream, and to wait for each of its frames


class SourceError(RuntimeError):
    """A source that cannot deliver frames; the message is one line."""


class Source:
    kind = "source"
    what = "a source"  # for messages: "clip.mp4 is a video file"
    flag = None  # run_demo.py's dedicated flag (its dest) for this kind, besides -i; None: -i only
    fps = None  # native frame rate when known (video files); None for live or unpaced sources
    frame_count = None
    unit = "frames"  # what frame_count counts

    def __init__(self, loop=False):
        self.loop = loop
        self.skipped = 0  # unreadable frames or images passed over

    @staticmethod
    def claims(text):
        """Whether ``-i TEXT`` names a source of this kind."""
        return False

    @classmethod
    def from_text(cls, text, loop=False):
        """The source that ``TEXT`` (``-i`` or this kind's flag) names."""
        return cls(text, loop=loop)

    def open(self):
        pass

    def read(self):
        raise NotImplementedError

    def close(self):
        pass

    def describe(self):
        """One line: what the source is, with its rate and length once open."""
        details = [f"{self.fps:g} fps"] if self.fps else []
        if self.frame_count:
            details.append(f"{self.frame_count} {self.unit if self.frame_count > 1 else self.unit[:-1]}")
        return f"{self.what.removeprefix('a ')} {self.name}" + (f" ({', '.join(details)})" if details else "")

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()


class CaptureSource(Source):
    """A source read through an OpenCV ``VideoCapture``."""

    capture = None

    def close(self):
        if self.capture is not None:
            self.capture.release()
            self.capture = None


class CameraSource(CaptureSource):
    kind = "camera"
    what = "a camera index"
    flag = "camera"

    def __init__(self, index=0, width=None, height=None):
        super().__init__()
        self.index = int(index)
        self.size = (width, height)

    @staticmethod
    def claims(text):
        return text.isdigit()

    @classmethod
    def from_text(cls, text, loop=False):
        return cls(int(text))  # a camera has no end to loop at

    @property
    def name(self):
        return f"camera {self.index}"

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


class VideoSource(CaptureSource):
    kind = "video"
    what = "a video file"
    flag = "video"

    def __init__(self, path, loop=False):
        super().__init__(loop)
        self.path = Path(path)
        self.position = 0  # index of the next frame

    @staticmethod
    def claims(text):
        return Path(text).is_file() and Path(text).suffix.lower() not in IMAGE_SUFFIXES

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
        self.fps = frame_rate(self.capture)
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


class ImageFilesSource(Source):
    """Image files in order, one frame each; unreadable ones are skipped with a warning. Subclasses list them."""

    unit = "images"

    def __init__(self, loop=False):
        super().__init__(loop)
        self.files = []
        self.position = 0
        self.current = None  # path of the last image read

    def list_files(self):
        raise NotImplementedError

    def open(self):
        self.files = self.list_files()
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


class ImageFolderSource(ImageFilesSource):
    kind = "images"
    what = "a folder of images"
    flag = "images"

    def __init__(self, folder, loop=False):
        super().__init__(loop)
        self.folder = Path(folder)

    @staticmethod
    def claims(text):
        return Path(text).is_dir()

    @property
    def name(self):
        return self.folder.name or str(self.folder)

    def list_files(self):
        if not self.folder.is_dir():
            raise SourceError(f"{self.folder}: no such folder")
        files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SourceError(f"{self.folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return files


class GlobSource(ImageFilesSource):
    """The image files a pattern matches (``frames/*.png``, ``**`` for subfolders), sorted; a single image file
    is a pattern that matches itself."""

    kind = "glob"
    what = "a glob pattern of images"

    def __init__(self, pattern, loop=False):
        super().__init__(loop)
        self.pattern = str(pattern)

    @staticmethod
    def claims(text):
        return bool(GLOB_CHARACTERS.search(text)) or (
            Path(text).is_file() and Path(text).suffix.lower() in IMAGE_SUFFIXES)

    @property
    def name(self):
        return self.pattern

    def list_files(self):
        matches = sorted(Path(p) for p in glob.glob(self.pattern, recursive=True))
        files = [p for p in matches if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
        if not files:
            found = f"{len(matches)} files, none an image" if matches else "no files"
            raise SourceError(f"{self.pattern}: {found} ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return files


class StreamSource(CaptureSource):
    """A network stream that OpenCV opens (rtsp://, http(s)://, rtmp://, udp:// ...): frames as they come, no
    frame count, no looping. One that stops before the end it announced (if any) is a ``SourceError``."""

    kind = "stream"
    what = "a stream URL"

    def __init__(self, url, loop=False):
        super().__init__(loop=False)
        self.url = str(url)
        self.position = 0
        self.announced = None  # the frame count a served file announces; a live stream has none

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


class SyntheticSource(Source):
    """A moving indoor-like scene, so that the app always shows something: no camera, file or network needed."""

    kind = "synthetic"
    what = "the synthetic scene"
    flag = "synthetic"
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

    @staticmethod
    def claims(text):
        return text == "synthetic"

    @classmethod
    def from_text(cls, text, loop=False):
        return cls()  # endless

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


# The order is the order in which -i TEXT is recognised: a URL, then existing folders and files (so that a file
# named "0" is a file), then patterns, camera indices and the word "synthetic".
SOURCES = {cls.kind: cls for cls in (StreamSource, ImageFolderSource, VideoSource, GlobSource, CameraSource,
                                     SyntheticSource)}


def frame_rate(capture):
    fps = capture.get(cv2.CAP_PROP_FPS)
    return fps if fps and math.isfinite(fps) and 0 < fps < 1000 else None


def kind_of(text):
    """The registry's kind that claims ``text``, or None."""
    return next((kind for kind, cls in SOURCES.items() if cls.claims(str(text))), None)


def wrong_kind(text, kind):
    """Why ``text`` does not suit the flag of ``kind`` (one line) when it names another kind of source; None when
    it suits, or names nothing (opening it will say what is missing)."""
    if SOURCES[kind].claims(text):
        return None
    found = kind_of(text)
    if found is None:
        return None
    other = SOURCES[found]
    use = f"--{other.flag} or -i" if other.flag else "-i"
    return f"{text} is {other.what}, not {SOURCES[kind].what}: use {use}"


def source_for_input(text, loop=False):
    """The source ``-i/--input TEXT`` names, not yet opened: a camera index, a video file, an image folder, a
    glob pattern, a stream URL or ``synthetic``. A ``SourceError`` when it names none of them."""
    text = str(text)
    kind = kind_of(text)
    if kind is None:
        raise SourceError(f"{text}: no such file or folder (-i takes a camera index, a video file, a folder of "
                          "images, a glob pattern, a stream URL or 'synthetic')")
    return SOURCES[kind].from_text(text, loop)


def source_from_args(args):
    """The source that ``run_demo.py``'s flags name (``-i`` or a dedicated flag), not yet opened; None when no
    source flag is given. A ``SourceError`` when a dedicated flag names another kind of source."""
    loop = bool(getattr(args, "loop", False))
    if getattr(args, "input", None) is not None:
        return source_for_input(args.input, loop)
    for kind, cls in SOURCES.items():
        value = getattr(args, cls.flag, None) if cls.flag else None
        if value is None or value is False:
            continue
        if value is True:  # --synthetic
            return cls.from_text(kind, loop)
        problem = wrong_kind(str(value), kind)
        if problem:
            raise SourceError(problem)
        return cls.from_text(str(value), loop)
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
