"""Frame sources behind one interface: camera, video file, image folder, glob pattern, stream URL, synthetic scene.

``base`` holds the interface (``Source``, ``SourceError``), the registry of kinds (``SOURCES``) and the functions
that pick a source for a text; each kind lives in a module of its own and registers itself when imported here.
"""
from .base import (
    IMAGE_SUFFIXES,
    SOURCES,
    Source,
    SourceError,
    kind_of,
    source_for_input,
    source_from_args,
    source_from_spec,
    wrong_kind,
)
from .camera import CameraSource, list_cameras
from .capture import CaptureSource
from .images import GlobSource, ImageFilesSource, ImageFolderSource
from .stream import StreamSource
from .synthetic import SyntheticSource, open_default_source
from .video import VideoSource

__all__ = ["IMAGE_SUFFIXES", "SOURCES", "CameraSource", "CaptureSource", "GlobSource", "ImageFilesSource",
           "ImageFolderSource", "Source", "SourceError", "StreamSource", "SyntheticSource", "VideoSource", "kind_of",
           "list_cameras", "open_default_source", "source_for_input", "source_from_args", "source_from_spec",
           "wrong_kind"]
