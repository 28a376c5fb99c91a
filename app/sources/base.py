"""What every frame source is, the registry of kinds, and how a text (``-i TEXT``, a flag, a remembered source)
picks one.

A source is pulled: ``open()``, then ``read()`` gives the next RGB uint8 frame or ``None`` at the end, then
``close()``. Failures raise ``SourceError`` with a one-line message. No Qt and no threads here: the GUI's
capture thread and the headless runner drive sources at their own pace.

Each kind registers itself (``register``) and says how it is named: ``claims(text)`` recognises ``-i TEXT``,
``from_text(text)`` builds it, ``spec()`` gives the ``(kind, text)`` to remember it by and ``from_spec`` rebuilds
it, so that every kind is chosen, typed and restored the same way.
"""
import cv2

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # OpenCV's own warnings would go to stderr
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
# The order in which -i TEXT is recognised: a URL, then existing folders and files (so that a file named "0" is a
# file), then patterns, camera indices and the word "synthetic". A kind not named here is asked last.
RECOGNITION_ORDER = ("stream", "images", "video", "glob", "camera", "synthetic")
SOURCES = {}  # kind -> Source subclass, in RECOGNITION_ORDER


class SourceError(RuntimeError):
    """A source that cannot deliver frames; the message is one line."""


class Source:
    kind = "source"
    what = "a source"  # for messages: "clip.mp4 is a video file"
    flag = None  # run_demo.py's dedicated flag (its dest) for this kind, besides -i; None: -i only
    needs = ""  # what this kind needs that an installation may lack, for the message when it is not available
    fps = None  # native frame rate when known (video files); None for live or unpaced sources
    frame_count = None
    unit = "frames"  # what frame_count counts

    def __init__(self, loop=False):
        self.loop = loop
        self.skipped = 0  # unreadable frames or images passed over

    @classmethod
    def is_available(cls):
        """Whether this installation can read this kind at all (an OpenCV built without FFmpeg reads no
        streams)."""
        return True

    @staticmethod
    def claims(text):
        """Whether ``-i TEXT`` names a source of this kind."""
        return False

    @classmethod
    def from_text(cls, text, loop=False):
        """The source that ``TEXT`` (``-i`` or this kind's flag) names."""
        return cls(text, loop=loop)

    def spec(self):
        """``(kind, text)``: what to remember this source by; ``from_spec`` of the text rebuilds it."""
        return self.kind, self.text

    @classmethod
    def from_spec(cls, text, loop=False):
        """The source remembered as ``text``, or None when it is no longer there (a file deleted since)."""
        return cls.from_text(text, loop) if cls.claims(text) else None

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


def register(cls):
    """Adds a kind of source to ``SOURCES`` (a class decorator)."""
    SOURCES[cls.kind] = cls
    ordered = sorted(SOURCES.values(), key=lambda c: RECOGNITION_ORDER.index(c.kind) if c.kind in RECOGNITION_ORDER
                     else len(RECOGNITION_ORDER))
    SOURCES.clear()
    SOURCES.update((c.kind, c) for c in ordered)
    return cls


def available(cls, text):
    """``cls`` when this installation can read its kind, else a ``SourceError`` that says what is missing."""
    if not cls.is_available():
        raise SourceError(f"{text} is {cls.what}, which needs {cls.needs}: not available here")
    return cls


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
    return available(SOURCES[kind], text).from_text(text, loop)


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
        return available(cls, value).from_text(str(value), loop)
    return None


def source_from_spec(kind, text, loop=False):
    """The source remembered as ``(kind, text)`` (``Source.spec()``), not yet opened; None when that kind is
    unknown or unavailable here, or the source is no longer there."""
    cls = SOURCES.get(kind)
    return cls.from_spec(str(text), loop) if cls is not None and cls.is_available() else None
