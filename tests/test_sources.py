"""Frame sources: what each delivers, and one clear line when it cannot."""
import cv2
import numpy as np
import pytest

from app.sources import (CameraSource, ImageFolderSource, SourceError, SyntheticSource, VideoSource,
                         open_default_source, source_from_args)
from run_demo import build_parser


def write_video(path, frames=12, size=(96, 64), fps=15.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for i in range(frames):
        frame = np.full((size[1], size[0], 3), (i * 20) % 256, np.uint8)
        frame[:, :, 2] = 200  # red in BGR
        writer.write(frame)
    writer.release()
    return path


def read_all(source, limit=1000):
    frames = []
    with source:
        while len(frames) < limit and (frame := source.read()) is not None:
            frames.append(frame)
    return frames


def test_video_gives_every_frame_in_rgb_then_ends(tmp_path):
    source = VideoSource(write_video(tmp_path / "clip.avi"))
    frames = read_all(source)
    assert len(frames) == 12 and frames[0].shape == (64, 96, 3)
    assert frames[0][..., 0].mean() > 190  # red stays in channel 0: RGB, not BGR
    assert source.fps == pytest.approx(15.0) and source.frame_count == 12


def test_video_loops_when_asked(tmp_path):
    frames = read_all(VideoSource(write_video(tmp_path / "clip.avi", frames=5), loop=True), limit=13)
    assert len(frames) == 13


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
    assert source.skipped == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no images"):
        ImageFolderSource(tmp_path / "empty").open()


def test_missing_camera_is_a_clear_error_and_the_default_falls_back():
    with pytest.raises(SourceError, match="camera 7: cannot be opened"):
        CameraSource(7).open()
    source = open_default_source()
    try:
        assert source.read().shape[2] == 3
    finally:
        source.close()


def test_synthetic_scene_moves():
    source = SyntheticSource(width=128, height=96)
    first, later = source.read(), [source.read() for _ in range(10)][-1]
    assert first.shape == (96, 128, 3) and first.dtype == np.uint8
    assert not np.array_equal(first, later)


def test_flags_choose_the_source(tmp_path):
    parse = build_parser().parse_args
    assert isinstance(source_from_args(parse(["--camera", "3"])), CameraSource)
    assert source_from_args(parse(["--video", "a.mp4", "--loop"])).loop
    assert isinstance(source_from_args(parse(["--images", str(tmp_path)])), ImageFolderSource)
    assert source_from_args(parse([])) is None
