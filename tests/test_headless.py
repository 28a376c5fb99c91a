"""Headless processing: one output frame per input frame, saved maps, interruption and write failures."""
import os
import re
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

import app.headless as headless
import app.video as app_video
from model import Predictor, load_model
from run_demo import main

from .conftest import EXAMPLES, REFERENCE_CKPT, ROOT, read_rgb, read_video

H, W = 96, 128
FPS = 12.5


def make_video(path, frames=30, fps=FPS):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (W, H))
    for i in range(frames):
        frame = np.full((H, W, 3), (8 * i, 100, 200 - 5 * i), np.uint8)
        cv2.circle(frame, (10 + 3 * i, H // 2), 10, (255, 255, 255), -1)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def image_folder(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    full = read_rgb(EXAMPLES / "ExpNYUD_three" / "000433.png")
    for i, name in enumerate(["kitchen", "office", "stairs"]):
        crop = full[i * 60: i * 60 + H, i * 100: i * 100 + W]
        cv2.imwrite(str(folder / f"{name}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    return folder


def test_a_30_frame_video_gives_a_30_frame_mp4_at_its_rate(tmp_path):
    video = make_video(tmp_path / "in.mp4")
    out = tmp_path / "out.mp4"
    assert main(["--no-gui", "--video", str(video), "--weights", str(REFERENCE_CKPT), "--size", "64",
                 "--output", str(out)]) == 0
    frames, fps = read_video(out)
    assert len(frames) == 30
    assert frames[0].shape == (H, 4 * W, 3)  # input | segmentation | depth | normals
    assert fps == pytest.approx(FPS, rel=1e-3)
    assert not list(tmp_path.glob(".*part*"))


def test_images_give_one_png_each_named_after_them(tmp_path, image_folder):
    (image_folder / "corrupt.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    assert main(["--no-gui", "--images", str(image_folder), "--weights", str(REFERENCE_CKPT), "--size", "64",
                 "--output", str(out), "--save-labels"]) == 0
    names = ["kitchen", "office", "stairs"]
    assert sorted(p.stem for p in out.glob("*.png")) == names
    view = cv2.imread(str(out / "office.png"))
    assert view.shape == (H, 4 * W, 3)
    predictor = Predictor(load_model(REFERENCE_CKPT), size=64)
    for name in names:
        labels = cv2.imread(str(out / "labels" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        expected = predictor(read_rgb(image_folder / f"{name}.png")).labels
        assert labels.dtype == np.uint8 and np.array_equal(labels, expected)


@pytest.mark.parametrize("kind", ["png", "npz"])
def test_saved_depth_round_trips_the_metres(tmp_path, image_folder, metric_ckpt, kind):
    out = tmp_path / "out"
    assert main(["--no-gui", "--images", str(image_folder), "--weights", str(metric_ckpt), "--size", "64",
                 "--output", str(out), "--save-depth", kind]) == 0
    predictor = Predictor(load_model(metric_ckpt), size=64)
    for image in sorted(image_folder.glob("*.png")):
        metres = predictor(read_rgb(image)).depth
        assert metres.max() > 1.0  # real metres, not the near-zero output of the unscaled random head
        if kind == "png":
            saved = cv2.imread(str(out / "depth" / f"{image.stem}.png"), cv2.IMREAD_UNCHANGED)
            assert saved.dtype == np.uint16
            saved = saved / 1000.0
        else:
            saved = np.load(out / "depth" / f"{image.stem}.npz")["depth"]
        assert np.abs(saved - metres).max() <= 0.001


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_leaves_a_playable_video(tmp_path, sig):
    video = make_video(tmp_path / "in.mp4", frames=10)
    out = tmp_path / "out.mp4"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "run_demo.py"), "--no-gui", "--video", str(video), "--loop",
         "--weights", str(REFERENCE_CKPT), "--size", "64", "--output", str(out)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    part = tmp_path / ".out.part.mp4"
    try:
        deadline = time.monotonic() + 120
        while not part.exists() and time.monotonic() < deadline:  # the writer opens on the first frame
            assert process.poll() is None, process.communicate()[1]
            time.sleep(0.1)
        time.sleep(2)
        process.send_signal(sig)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    written = int(re.search(r"stopped: (\d+) frames", err).group(1))
    frames, _ = read_video(out)
    assert len(frames) == written > 0 and frames[0].shape == (H, 4 * W, 3)
    assert not part.exists()


def test_a_full_disk_stops_with_a_message_and_keeps_a_playable_video(tmp_path, monkeypatch, capsys):
    video = make_video(tmp_path / "in.mp4", frames=10)
    real = app_video.shutil.disk_usage
    calls = []

    def filling(path):
        calls.append(path)
        usage = real(path)
        return usage._replace(free=0) if len(calls) > 4 else usage

    monkeypatch.setattr(app_video.shutil, "disk_usage", filling)
    out = tmp_path / "out.mp4"
    assert main(["--no-gui", "--video", str(video), "--weights", str(REFERENCE_CKPT), "--size", "64",
                 "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error: disk full" in err and "stopped after 4 frames" in err
    frames, _ = read_video(out)
    assert len(frames) == 4


def test_an_unwritable_output_is_a_one_line_error(tmp_path, capsys):
    video = make_video(tmp_path / "in.mp4", frames=2)
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    for output in (blocker / "out.mp4", blocker / "frames"):
        assert main(["--no-gui", "--video", str(video), "--weights", str(REFERENCE_CKPT),
                     "--output", str(output)]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: cannot create the folder") and "\n" not in err


def test_a_png_that_cannot_be_written_stops_the_run(tmp_path, image_folder, monkeypatch, capsys):
    out = tmp_path / "out"
    original = headless.write_file

    def failing(path, data):
        if path.stem == "office":
            raise headless._os_problem(OSError(28, os.strerror(28)), path)
        original(path, data)

    monkeypatch.setattr(headless, "write_file", failing)
    assert main(["--no-gui", "--images", str(image_folder), "--weights", str(REFERENCE_CKPT), "--size", "64",
                 "--output", str(out)]) == 1
    assert "error: disk full while writing" in capsys.readouterr().err
    assert [p.name for p in out.glob("*.png")] == ["kitchen.png"]


def test_without_weights_it_says_how_to_get_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JOINTSEG_WEIGHTS", str(tmp_path / "empty"))
    assert main(["--no-gui", "--synthetic", "--max-frames", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no --weights given") and "python -m model.weights download" in err
    assert "\n" not in err


def test_max_frames_stops_an_endless_source(tmp_path):
    out = tmp_path / "out"
    assert main(["--no-gui", "--synthetic", "--weights", str(REFERENCE_CKPT), "--size", "64", "--max-frames", "3",
                 "--output", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["000000.png", "000001.png", "000002.png"]


def test_images_of_other_sizes_are_fitted_into_the_video(tmp_path, image_folder):
    big = read_rgb(EXAMPLES / "ExpNYUD_three" / "000433.png")[:2 * H, :W]
    cv2.imwrite(str(image_folder / "tall.png"), cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
    out = tmp_path / "out.mp4"
    assert main(["--no-gui", "--images", str(image_folder), "--weights", str(REFERENCE_CKPT), "--size", "64",
                 "--output", str(out), "--fps", "5"]) == 0
    frames, fps = read_video(out)
    assert len(frames) == 4 and {f.shape for f in frames} == {(H, 4 * W, 3)}
    assert fps == pytest.approx(5)


def test_a_corrupt_frame_mid_file_is_skipped_with_a_warning(tmp_path, caplog):
    video = tmp_path / "in.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (W, H))
    for i in range(30):
        writer.write(np.full((H, W, 3), (8 * i, 100, 50), np.uint8))
    writer.release()
    data = bytearray(video.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i:i + 2] == b"\xff\xd8"]  # one JPEG per frame
    assert len(starts) == 30
    data[starts[15]:starts[16] - 8] = bytes(starts[16] - 8 - starts[15])  # frame 15 wiped
    video.write_bytes(bytes(data))
    out = tmp_path / "out.mp4"
    assert main(["--no-gui", "--video", str(video), "--weights", str(REFERENCE_CKPT), "--size", "64",
                 "--output", str(out)]) == 0
    assert len(read_video(out)[0]) == 29
    assert any("frame 15 is unreadable" in r.getMessage() for r in caplog.records)
