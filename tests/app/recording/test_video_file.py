"""MP4 files of composed views: one frame size, even sides, renamed into place when finalised, one writer at a
time, and what a killed writer left kept."""
import errno
import re

import cv2
import numpy as np
import pytest

from app.recording import video_file as video
from app.recording.output_lock import OutputBusy
from app.recording.video_file import VideoFile, fit
from tests.conftest import read_video


def test_fit_keeps_the_aspect_on_black(rng):
    image = rng.integers(1, 256, (50, 100, 3), dtype=np.uint8)
    fitted = fit(image, (100, 100))
    assert fitted.shape == (100, 100, 3)
    assert not fitted[:25].any() and not fitted[75:].any() and fitted[25:75].all()
    assert fit(image, (100, 50)) is image


def test_frames_are_written_at_the_first_frames_even_size_and_renamed_on_close(tmp_path, rng):
    path = tmp_path / "out.mp4"
    file = VideoFile(path, 12.0)
    for shape in [(61, 83, 3), (40, 40, 3), (61, 83, 3)]:  # a later frame of another size is fitted
        file.write(rng.integers(0, 256, shape, dtype=np.uint8))
    assert not path.exists() and file.tmp.exists()  # nothing at the final name until finalised
    assert file.close() == 3 and path.exists() and not file.tmp.exists()
    frames, fps = read_video(path)
    assert len(frames) == 3 and frames[0].shape == (60, 82, 3) and fps == pytest.approx(12.0)


def test_a_file_without_frames_leaves_nothing(tmp_path):
    file = VideoFile(tmp_path / "empty.mp4", 30)
    assert file.close() == 0 and list(tmp_path.iterdir()) == []


def test_a_nearly_full_disk_stops_writing_and_keeps_a_playable_file(tmp_path, rng, monkeypatch):
    path = tmp_path / "out.mp4"
    file = VideoFile(path, 10)
    file.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    real = video.shutil.disk_usage
    monkeypatch.setattr(video.shutil, "disk_usage",
                        lambda p: real(p)._replace(free=video.FREE_SPACE_MARGIN - 1))
    with pytest.raises(OSError) as error:
        file.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    assert error.value.errno == errno.ENOSPC
    assert file.close() == 1 and cv2.VideoCapture(str(path)).read()[0]


def test_an_output_being_written_is_refused_to_a_second_writer_in_one_line(tmp_path, rng):
    path = tmp_path / "out.mp4"
    first = VideoFile(path, 10)
    first.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    with pytest.raises(OutputBusy) as refused:
        VideoFile(path, 10)
    assert str(refused.value) == f"{path} is being written by another run; wait for it to end or choose another output"
    assert first.close() == 1 and len(read_video(path)[0]) == 1
    second = VideoFile(path, 10)  # free again once the first is finalised
    assert second.close() == 0 and list(tmp_path.iterdir()) == [path]  # no lock file left behind


def test_the_part_file_of_a_killed_run_is_moved_aside_by_the_next(tmp_path, rng):
    path = tmp_path / "out.mp4"
    killed = VideoFile(path, 10)
    for _ in range(3):
        killed.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    killed._lock.release()  # what the kernel does to a killed process's lock; its part file stays
    assert killed.tmp == tmp_path / "out.part.mp4" and len(read_video(killed.tmp)[0]) >= 2
    after = VideoFile(path, 10)
    assert re.fullmatch(r"out\.interrupted-\d{8}-\d{6}\.mp4", after.kept.name) and not after.tmp.exists()
    assert len(read_video(after.kept)[0]) >= 2  # every frame but the last: each is flushed when the next comes
    after.close()


def test_without_pyav_a_video_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(video, "av", None)
    with pytest.raises(OSError) as missing:
        VideoFile(tmp_path / "out.mp4", 10)
    assert str(missing.value) == "writing out.mp4 needs PyAV, which is not installed: pip install av"
    assert list(tmp_path.iterdir()) == []
