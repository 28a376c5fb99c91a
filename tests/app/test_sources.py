"""Frame sources: one contract for every kind in the registry, then what each kind does of its own."""
import cv2
import numpy as np
import pytest

from app import sources
from app.sources import (
    SOURCES,
    CameraSource,
    GlobSource,
    ImageFolderSource,
    SourceError,
    StreamSource,
    SyntheticSource,
    VideoSource,
    open_default_source,
    source_for_input,
    source_from_args,
)
from run_demo import build_parser

H, W = 64, 96


def write_video(path, frames=12, size=(W, H), fps=15.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for i in range(frames):
        frame = np.full((size[1], size[0], 3), (i * 20) % 256, np.uint8)
        frame[:, :, 2] = 200  # red in BGR
        writer.write(frame)
    writer.release()
    return path


def write_images(folder, count=3):
    folder.mkdir(exist_ok=True)
    for i in range(count):
        frame = np.full((H, W, 3), i * 15, np.uint8)
        frame[:, :, 2] = 200
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame)
    return folder


def read_all(source, limit=1000):
    frames = []
    with source:
        while len(frames) < limit and (frame := source.read()) is not None:
            frames.append(frame)
    return frames


class FakeCapture:
    """A camera for ``cv2.VideoCapture``: BGR frames with red in channel 2, or none at all when ``present`` is
    False; it stops delivering after ``frames``."""

    present = True
    frames = 10**6

    def __init__(self, *args):
        self.delivered = 0

    def isOpened(self):
        return self.present

    def read(self):
        if self.delivered >= self.frames:
            return False, None
        self.delivered += 1
        frame = np.zeros((H, W, 3), np.uint8)
        frame[:, :, 2] = 200
        return True, frame

    def set(self, *args):
        return True

    def release(self):
        pass


@pytest.fixture
def make(tmp_path, http_folder, monkeypatch):
    """``make(kind)`` -> ``(source, ends)``: a source of that kind with 12 red frames where it has a length
    (``ends``), else an endless one; ``make(kind, broken=True)``: one that cannot be opened."""

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


@pytest.mark.parametrize("kind", list(SOURCES))
def test_every_source_kind_keeps_the_contract(kind, make):
    source, ends = make(kind)
    assert source.kind == kind and isinstance(source.name, str) and source.skipped == 0
    frames = read_all(source, limit=20)
    assert len(frames) == (12 if ends else 20)
    for frame in frames:
        assert frame.dtype == np.uint8 and frame.shape == (H, W, 3)
    if kind != "synthetic":
        assert frames[0][..., 0].mean() > 190  # red stays in channel 0: RGB, not BGR
    description = source.describe()
    assert "\n" not in description and source.name in description
    source.close()  # closing twice is harmless


@pytest.mark.parametrize("kind", [kind for kind in SOURCES if kind != "synthetic"])
def test_every_source_kind_fails_to_open_in_one_line(kind, make):
    source, _ = make(kind, broken=True)
    with pytest.raises(SourceError) as failure:
        source.open()
    assert "\n" not in str(failure.value) and str(failure.value)
    source.close()


def test_video_and_images_loop_when_asked(tmp_path):
    assert len(read_all(VideoSource(write_video(tmp_path / "clip.avi", frames=5), loop=True), limit=13)) == 13
    assert len(read_all(GlobSource(str(write_images(tmp_path / "images") / "*.png"), loop=True), limit=7)) == 7


def test_video_reports_rate_and_length(tmp_path):
    source = VideoSource(write_video(tmp_path / "clip.avi"))
    with source:
        assert source.fps == pytest.approx(15.0) and source.frame_count == 12
        assert source.describe() == "video file clip.avi (15 fps, 12 frames)"


def test_broken_and_missing_videos_say_so(tmp_path):
    (tmp_path / "notes.avi").write_text("not a video\n")
    with pytest.raises(SourceError, match="not a video that OpenCV can read"):
        VideoSource(tmp_path / "notes.avi").open()
    with pytest.raises(SourceError, match="no such file"):
        VideoSource(tmp_path / "gone.mp4").open()


def test_image_folder_sorted_skipping_unreadable(tmp_path):
    for i in (2, 0, 1):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((40, 50, 3), i * 50, np.uint8))
    (tmp_path / "003.png").write_bytes(b"broken")
    (tmp_path / "readme.txt").write_text("ignored")
    source = ImageFolderSource(tmp_path)
    frames = read_all(source)
    assert [int(f[0, 0, 0]) for f in frames] == [0, 50, 100]
    assert source.skipped == 1 and source.current.name == "002.png"
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no images"):
        ImageFolderSource(tmp_path / "empty").open()


def test_a_glob_takes_the_matching_images_in_order_and_a_single_image(tmp_path):
    folder = write_images(tmp_path / "images", 4)
    (folder / "notes.txt").write_text("not an image")
    source = GlobSource(str(folder / "00[13].png"))
    frames = read_all(source)
    assert [p.name for p in source.files] == ["001.png", "003.png"] and len(frames) == 2
    assert source.describe() == f"glob pattern of images {folder / '00[13].png'} (2 images)"
    assert len(read_all(source_for_input(str(folder / "002.png")))) == 1
    with pytest.raises(SourceError, match="1 files, none an image"):
        GlobSource(str(folder / "*.txt")).open()


def test_a_stream_that_stops_early_is_an_error(http_folder):
    folder, url = http_folder
    write_video(folder / "clip.avi")
    source = StreamSource(f"{url}/clip.avi")
    with source:
        assert source.frame_count is None and source.fps == pytest.approx(15.0)
        source.read()
        source.announced = 100  # as if the server had announced more frames than it sends
        for _ in range(11):
            source.read()
        with pytest.raises(SourceError, match=r"the stream stopped after 12 frames$"):
            source.read()


def test_a_stream_url_hides_its_password():
    assert StreamSource("rtsp://admin:secret@10.0.0.2:554/live").name == "rtsp://admin:***@10.0.0.2:554/live"


def test_a_camera_that_stops_delivering_says_so(monkeypatch):
    monkeypatch.setattr(FakeCapture, "frames", 2)
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    with CameraSource(3) as camera:
        camera.read(), camera.read()
        with pytest.raises(SourceError, match="camera 3: stopped delivering frames"):
            camera.read()


def test_a_missing_camera_falls_back_to_the_synthetic_scene(monkeypatch):
    monkeypatch.setattr(FakeCapture, "present", False)
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    source = open_default_source()
    assert source.kind == "synthetic" and source.read().shape[2] == 3


def test_synthetic_scene_moves():
    source = SyntheticSource(width=128, height=96)
    first, later = source.read(), [source.read() for _ in range(10)][-1]
    assert not np.array_equal(first, later)


def test_input_text_is_recognised_by_the_registry(tmp_path):
    video = write_video(tmp_path / "clip.avi")
    folder = write_images(tmp_path / "images")
    cases = {"2": "camera", str(video): "video", str(folder): "images", str(folder / "*.png"): "glob",
             "rtsp://cam.local/live": "stream", "https://example.org/a.m3u8": "stream", "synthetic": "synthetic"}
    for text, kind in cases.items():
        assert source_for_input(text).kind == kind, text
    with pytest.raises(SourceError, match=r"^gone\.mp4: no such file or folder"):
        source_for_input("gone.mp4")


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
    assert set(SOURCES) == {"camera", "video", "images", "glob", "stream", "synthetic"}
    for kind, cls in SOURCES.items():
        assert cls.kind == kind and cls.what and (cls.flag is None or cls.flag in vars(build_parser().parse_args([])))
    assert sources.IMAGE_SUFFIXES >= {".png", ".jpg"}
