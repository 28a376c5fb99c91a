"""Video files: rate and length, looping, broken files, and no frame lost, however short the video."""
import shutil

import cv2
import numpy as np
import pytest

from app.sources import SourceError, VideoSource, source_for_input
from run_demo import main
from tests.app.sources.support import H, W, read_all, write_video
from tests.conftest import REFERENCE_CKPT, read_video

FAST = ["--size", "64", "--backend", "torch", "--precision", "fp32"]


@pytest.fixture(params=["one-frame.mp4", "png-renamed.mp4"])
def one_frame(request, tmp_path):
    """A video of a single frame: an MP4 written by OpenCV, or a PNG renamed .mp4 (OpenCV reads it as one
    frame)."""
    path = tmp_path / request.param
    if request.param == "one-frame.mp4":
        write_video(path, frames=1, fourcc="mp4v")
    else:
        frame = np.zeros((H, W, 3), np.uint8)
        frame[:, :, 2] = 200
        cv2.imwrite(str(tmp_path / "frame.png"), frame)
        shutil.move(tmp_path / "frame.png", path)
    return path


def test_a_one_frame_video_gives_its_frame(one_frame):
    source = source_for_input(str(one_frame))
    frames = read_all(source)
    assert source.kind == "video" and len(frames) == 1
    assert frames[0].shape == (H, W, 3) and frames[0][..., 0].mean() > 190
    assert len(read_all(VideoSource(one_frame, loop=True), limit=3)) == 3  # and gives it again when looping


def test_a_one_frame_video_gives_a_one_frame_output(one_frame, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["--no-gui", "-i", str(one_frame), "--weights", str(REFERENCE_CKPT), *FAST, "-o", str(out)]) == 0
    assert out.is_file() and len(read_video(out)[0]) == 1
    summary = capsys.readouterr().out.splitlines()[-1]
    assert summary.startswith("1 frames in ") and summary.endswith(f"written: {out}")


def test_video_and_its_frames_in_order_then_looped(tmp_path):
    frames = read_all(VideoSource(write_video(tmp_path / "clip.avi", frames=5), loop=True), limit=13)
    assert [int(np.median(f[..., 1])) for f in frames] == [(i % 5) * 20 for i in range(13)]


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
    with pytest.raises(SourceError, match="not open$"):
        VideoSource(tmp_path / "notes.avi").read()
