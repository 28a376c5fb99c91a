"""``make``: a source of any registered kind, working or broken."""
import cv2
import pytest

from app.sources import CameraSource, GlobSource, ImageFolderSource, StreamSource, SyntheticSource, VideoSource
from tests.app.sources.support import FakeCapture, H, W, write_images, write_video


@pytest.fixture
def make(tmp_path, http_folder, monkeypatch):
    """``make(kind)`` -> ``(source, ends)``: a source of that kind with 12 red frames where it has a length
    (``ends``), else an endless one; ``make(kind, broken=True)``: one that cannot be opened."""
    monkeypatch.setattr(FakeCapture, "released", 0)

    def build(kind, broken=False):
        if kind == "camera":
            monkeypatch.setattr(FakeCapture, "present", not broken)
            monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
            return CameraSource(0), False
        if kind == "video":
            return VideoSource(tmp_path / "gone.avi" if broken else write_video(tmp_path / "clip.avi")), True
        if kind == "images":
            return ImageFolderSource(tmp_path / "gone" if broken else write_images(tmp_path / "images", 12)), True
        if kind == "glob":
            write_images(tmp_path / "images", 12)
            return GlobSource(str(tmp_path / "images" / ("*.jpg" if broken else "*.png"))), True
        if kind == "stream":
            folder, url = http_folder
            write_video(folder / "clip.avi")
            return StreamSource(f"{url}/{'gone' if broken else 'clip'}.avi"), True
        assert kind == "synthetic" and not broken  # nothing can keep the synthetic scene from opening
        return SyntheticSource(width=W, height=H), False

    return build
