"""The registry of source kinds: one contract every kind keeps, how a text picks a kind, how the flags do."""
import numpy as np
import pytest

from app import sources
from app.sources import (
    SOURCES,
    CameraSource,
    ImageFolderSource,
    SourceError,
    source_for_input,
    source_from_args,
    source_from_spec,
)
from run_demo import build_parser
from tests.app.sources.support import FakeCapture, H, W, read_all, write_images, write_video


def available(kind):
    if not SOURCES[kind].is_available():
        pytest.skip(f"this OpenCV cannot read {SOURCES[kind].what}: it needs {SOURCES[kind].needs}")


@pytest.mark.parametrize("kind", list(SOURCES))
def test_every_source_kind_keeps_the_contract(kind, make):
    available(kind)
    source, ends = make(kind)
    assert source.kind == kind and isinstance(source.name, str) and source.skipped == 0
    frames = read_all(source, limit=20)  # opens, reads, closes
    assert len(frames) == (12 if ends else 20)
    for frame in frames:
        assert frame.dtype == np.uint8 and frame.shape == (H, W, 3)
    if kind != "synthetic":
        assert frames[0][..., 0].mean() > 190  # red stays in channel 0: RGB, not BGR
    description = source.describe()
    assert "\n" not in description and source.name in description
    assert getattr(source, "capture", None) is None  # released on closing
    assert FakeCapture.released == (1 if kind == "camera" else 0)
    source.close()  # closing twice is harmless
    spec = source.spec()
    assert spec[0] == kind and isinstance(spec[1], str)
    rebuilt = source_from_spec(*spec)
    assert type(rebuilt) is type(source) and rebuilt.spec() == spec


@pytest.mark.parametrize("kind", [kind for kind in SOURCES if kind != "synthetic"])
def test_every_source_kind_fails_to_open_in_one_line(kind, make):
    available(kind)
    source, _ = make(kind, broken=True)
    with pytest.raises(SourceError) as failure:
        source.open()
    assert "\n" not in str(failure.value) and str(failure.value)
    assert getattr(source, "capture", None) is None  # nothing left open
    source.close()


def test_input_text_is_recognised_by_the_registry(tmp_path):
    video = write_video(tmp_path / "clip.avi")
    folder = write_images(tmp_path / "images")
    cases = {"2": "camera", str(video): "video", str(folder): "images", str(folder / "*.png"): "glob",
             "rtsp://cam.local/live": "stream", "https://example.org/a.m3u8": "stream", "synthetic": "synthetic"}
    for text, kind in cases.items():
        assert source_for_input(text).kind == kind, text
    with pytest.raises(SourceError, match=r"^gone\.mp4: no such file or folder"):
        source_for_input("gone.mp4")


def test_a_kind_this_installation_cannot_read_says_what_it_needs(monkeypatch):
    monkeypatch.setattr(SOURCES["stream"], "is_available", classmethod(lambda cls: False))
    with pytest.raises(SourceError, match=r"^rtsp://cam\.local/live is a stream URL, which needs an OpenCV built "
                                          r"with FFmpeg: not available here$"):
        source_for_input("rtsp://cam.local/live")
    assert source_from_spec("stream", "rtsp://cam.local/live") is None


def test_a_remembered_source_that_is_gone_or_unknown_is_not_rebuilt(tmp_path):
    assert source_from_spec("video", str(tmp_path / "deleted.mp4")) is None
    assert source_from_spec("images", str(tmp_path / "deleted")) is None
    assert source_from_spec("camera", "not an index") is None
    assert source_from_spec("a kind of a later version", "x") is None
    assert source_from_spec("synthetic", "").kind == "synthetic"  # as older versions remembered it


def test_flags_choose_the_source(tmp_path):
    parse = build_parser().parse_args
    video = write_video(tmp_path / "clip.avi")
    assert isinstance(source_from_args(parse(["--camera", "3"])), CameraSource)
    assert source_from_args(parse(["--video", str(video), "--loop"])).loop
    assert isinstance(source_from_args(parse(["--images", str(tmp_path)])), ImageFolderSource)
    assert source_from_args(parse(["-i", str(video)])).kind == "video"
    assert source_from_args(parse(["--synthetic"])).kind == "synthetic"
    assert source_from_args(parse([])) is None


def test_a_flag_of_another_kind_says_which_to_use(tmp_path):
    parse = build_parser().parse_args
    video = write_video(tmp_path / "clip.avi")
    with pytest.raises(SourceError, match=r"clip\.avi is a video file, not a folder of images: use --video or -i$"):
        source_from_args(parse(["--images", str(video)]))
    with pytest.raises(SourceError, match=r"is a folder of images, not a video file: use --images or -i$"):
        source_from_args(parse(["--video", str(tmp_path)]))
    with pytest.raises(SourceError, match=r"is a glob pattern of images, not a video file: use -i$"):
        source_from_args(parse(["--video", str(tmp_path / "*.png")]))


def test_every_kind_is_reachable_through_the_registry():
    assert list(SOURCES) == ["stream", "images", "video", "glob", "camera", "synthetic"]  # the order -i is read in
    for kind, cls in SOURCES.items():
        assert cls.kind == kind and cls.what and (cls.flag is None or cls.flag in vars(build_parser().parse_args([])))
        assert cls.is_available() or cls.needs
    assert sources.IMAGE_SUFFIXES >= {".png", ".jpg"}
