"""Headless processing: one output frame per input frame, saved maps and point clouds, the annotation, the
warm-up before the progress bar, interruption, and failures of the outputs and of the network."""
import os
import re
import signal
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
import torch
from plyfile import PlyData

from app import headless
from app.panels.compose import annotation_height
from app.recording import video_file as app_video
from model import Predictor, load_model
from model.geometry.intrinsics import Intrinsics
from model.inference.selection import NetworkError
from model.processing import depth_lut
from run_demo import main
from tests.app.gui_support import low_resolution_result
from tests.conftest import EXAMPLES, REFERENCE_CKPT, ROOT, read_rgb, read_video

H, W = 96, 128
FPS = 12.5
FAST = ["--size", "64", "--backend", "torch", "--precision", "fp32"]
VIEW = (H + annotation_height(W), 4 * W, 3)  # input | segmentation | depth | normals, the annotation below


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
    assert main(["--no-gui", "-i", str(video), "--weights", str(REFERENCE_CKPT), *FAST, "--output", str(out)]) == 0
    frames, fps = read_video(out)
    assert len(frames) == 30
    assert frames[0].shape == VIEW
    assert fps == pytest.approx(FPS, rel=1e-3)
    assert not list(tmp_path.glob("*part*")) and not list(tmp_path.glob(".*lock"))


def test_images_give_one_png_each_named_after_them(tmp_path, image_folder):
    (image_folder / "corrupt.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    assert main(["--no-gui", "--images", str(image_folder), "--weights", str(REFERENCE_CKPT), *FAST,
                 "--output", str(out), "--save-labels"]) == 0
    names = ["kitchen", "office", "stairs"]
    assert sorted(p.stem for p in out.glob("*.png")) == names
    assert cv2.imread(str(out / "office.png")).shape == VIEW
    predictor = Predictor(load_model(REFERENCE_CKPT), size=64, backend="torch", precision="fp32")
    for name in names:
        labels = cv2.imread(str(out / "labels" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        expected = predictor(read_rgb(image_folder / f"{name}.png")).labels
        assert labels.dtype == np.uint8 and np.array_equal(labels, expected)


def test_a_glob_names_the_outputs_after_its_files(tmp_path, image_folder):
    out = tmp_path / "out"
    assert main(["--no-gui", "-i", str(image_folder / "[ks]*.png"), "--weights", str(REFERENCE_CKPT), *FAST,
                 "--output", str(out)]) == 0
    assert sorted(p.stem for p in out.glob("*.png")) == ["kitchen", "stairs"]


@pytest.mark.parametrize("kind", ["png", "npz"])
def test_saved_depth_round_trips_the_metres(tmp_path, image_folder, metric_ckpt, kind):
    out = tmp_path / "out"
    assert main(["--no-gui", "--images", str(image_folder), "--weights", str(metric_ckpt), *FAST,
                 "--output", str(out), "--save-depth", kind]) == 0
    predictor = Predictor(load_model(metric_ckpt), size=64, backend="torch", precision="fp32")
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


def test_point_clouds_of_every_nth_frame_hold_the_frames_points(tmp_path, image_folder, metric_ckpt, capsys):
    out = tmp_path / "out"
    assert main(["--no-gui", "--images", str(image_folder), "--weights", str(metric_ckpt), *FAST,
                 "--output", str(out), "--save-ply", "2", "--hfov", "70"]) == 0
    assert sorted(p.name for p in (out / "ply").iterdir()) == ["kitchen.ply", "stairs.ply"]  # frames 0 and 2
    camera = Intrinsics.from_hfov(70, (H, W))
    err = capsys.readouterr().err
    assert err.count("point clouds: ") == 1 and camera.describe() in err
    model = load_model(metric_ckpt)
    result = Predictor(model, size=64, backend="torch", precision="fp32")(read_rgb(image_folder / "stairs.png"))
    ply = PlyData.read(str(out / "ply" / "stairs.ply"))
    vertex = ply["vertex"]
    assert vertex.count == H * W  # every pixel: the metric head's depth is valid everywhere
    rows, cols = np.divmod(np.arange(H * W), W)  # back-projected in raster order
    z = result.depth.ravel()
    np.testing.assert_allclose(vertex["z"], z, rtol=1e-6)
    np.testing.assert_allclose(vertex["x"], (cols - camera.cx) * z / camera.fx, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(vertex["y"], (rows - camera.cy) * z / camera.fy, rtol=1e-5, atol=1e-6)
    rgb = np.stack([vertex["red"], vertex["green"], vertex["blue"]], 1)
    assert np.array_equal(rgb, result.frame.reshape(-1, 3))
    assert np.array_equal(vertex["label"], result.labels.ravel())
    assert f"class 1 {model.preset.classes[1]}" in ply.comments


def test_the_view_is_annotated_unless_asked_not_to(tmp_path, image_folder):
    for flags, shape in (([], VIEW), (["--no-annotate"], (H, 4 * W, 3))):
        out = tmp_path / f"out{len(flags)}"
        assert main(["--no-gui", "--images", str(image_folder), "--weights", str(REFERENCE_CKPT), *FAST,
                     "--output", str(out), *flags]) == 0
        view = cv2.cvtColor(cv2.imread(str(out / "office.png")), cv2.COLOR_BGR2RGB)
        assert view.shape == shape
        if not flags:
            below_depth = {tuple(px) for px in view[H:, 2 * W:3 * W].reshape(-1, 3)}
            assert len(below_depth & {tuple(c) for c in depth_lut()}) > W // 2  # the colour bar


def test_the_warm_up_is_said_before_the_bar_starts(tmp_path, capsys):
    assert main(["--no-gui", "-i", "synthetic", "--weights", str(REFERENCE_CKPT), *FAST, "--max-frames", "2"]) == 0
    captured = capsys.readouterr()
    err = captured.err
    lines = [line for line in err.splitlines() if line]
    assert lines[0] == "input: synthetic scene (640x480)"
    assert lines[1].startswith("warming up at 640x480")
    assert lines[2] == "running: CPU fp32, torch"
    assert err.index("running: ") < err.index("%|")  # the progress bar comes after
    assert captured.out.startswith("2 frames in ") and "CPU fp32, torch" in captured.out


@pytest.mark.parametrize("error", [torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB\n"
                                                               "(details)"),
                                   NetworkError("the network gives NaN/inf: a corrupt or diverged checkpoint")],
                         ids=["cuda-oom", "network"])
def test_a_frame_the_network_fails_on_stops_with_one_line_and_a_playable_video(tmp_path, monkeypatch, capsys,
                                                                               error):
    class FailingOnTheFourthFrame(Predictor):
        calls = 0

        def __call__(self, frame):
            FailingOnTheFourthFrame.calls += 1
            if FailingOnTheFourthFrame.calls == 4:
                raise error
            return super().__call__(frame)

    monkeypatch.setattr(headless, "Predictor", FailingOnTheFourthFrame)
    video = make_video(tmp_path / "in.mp4", frames=10)
    out = tmp_path / "out.mp4"
    assert main(["--no-gui", "-i", str(video), "--weights", str(REFERENCE_CKPT), *FAST, "--output", str(out)]) == 1
    err = capsys.readouterr().err
    message = [line for line in err.splitlines() if line.startswith("error: ")]
    assert message == [f"error: frame 4: {str(error).splitlines()[0]}; stopped after 3 frames, kept what was "
                       f"written ({out})"]
    assert "Traceback" not in err
    frames, _ = read_video(out)
    assert len(frames) == 3 and frames[0].shape == VIEW


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_leaves_a_playable_video(tmp_path, sig):
    video = make_video(tmp_path / "in.mp4", frames=10)
    out = tmp_path / "out.mp4"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "run_demo.py"), "--no-gui", "--video", str(video), "--loop",
         "--weights", str(REFERENCE_CKPT), *FAST, "--output", str(out)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    part = tmp_path / "out.part.mp4"
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
    assert len(frames) == written > 0 and frames[0].shape == VIEW
    assert not part.exists()


class Progress:
    """The frame count a headless run's progress bar last showed, read from its stderr as it runs."""

    def __init__(self, stream):
        self.frames, self.text = 0, ""
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        while chunk := stream.read1(4096):
            self.text += chunk.decode(errors="replace")
            counts = re.findall(r"(\d+)frame \[", self.text[-500:])
            if counts:
                self.frames = int(counts[-1])


def test_a_killed_run_keeps_its_frames_and_no_other_run_replaces_them(tmp_path, capsys):
    video = make_video(tmp_path / "in.mp4", frames=10)
    out = tmp_path / "out.mp4"
    run = ["--no-gui", "--video", str(video), "--weights", str(REFERENCE_CKPT), *FAST, "--output", str(out)]
    process = subprocess.Popen([sys.executable, str(ROOT / "run_demo.py"), *run, "--loop"], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    progress = Progress(process.stderr)
    try:
        while progress.frames < 1:
            assert process.poll() is None, progress.text
            time.sleep(0.1)
        assert main(run) == 1  # a second run to the same output while the first writes it
        err = capsys.readouterr().err.splitlines()
        assert err[-1] == (f"error: {out} is being written by another run; wait for it to end or choose another "
                           "output") and "Traceback" not in "".join(err)
        while progress.frames < 20:
            assert process.poll() is None, progress.text
            time.sleep(0.05)
        process.kill()  # SIGKILL: nothing is finalised
        process.wait()
        reported = progress.frames
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    part = tmp_path / "out.part.mp4"
    frames, fps = read_video(part)
    assert len(frames) >= reported / 2 and frames[0].shape == VIEW and fps == pytest.approx(FPS, rel=1e-3)
    assert not out.exists()
    assert main([*run, "--max-frames", "2"]) == 0  # the next run moves the killed one's frames aside, never over
    kept = list(tmp_path.glob("out.interrupted-*.mp4"))
    assert len(kept) == 1 and f"kept the video of an interrupted run as {kept[0]}" in capsys.readouterr().err
    assert len(read_video(kept[0])[0]) == len(frames) and len(read_video(out)[0]) == 2 and not part.exists()


def test_an_output_is_an_mp4_or_a_folder(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("a file")
    (tmp_path / "existing.v2").mkdir()
    for fine in ("out.mp4", "OUT.MP4", "frames", "frames.v2/", "existing.v2"):
        assert headless.output_problem(f"{tmp_path}/{fine}") is None, fine
    for bad in (tmp_path / "out.txt", tmp_path / "notes.txt", "/dev/full"):
        with pytest.raises(SystemExit) as exit_code:
            main(["--no-gui", "--synthetic", "--output", str(bad)])
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert exit_code.value.code == 2 and err.startswith(f"run_demo.py: error: --output {bad} is neither an MP4 "
                                                            "(OUT.mp4) nor a folder (DIR, or DIR/")
    assert not (tmp_path / "out.txt").exists()


def test_written_names_only_what_holds_frames(tmp_path):
    outputs = headless.Outputs(tmp_path / "out.mp4", save_labels=True)
    outputs.close()
    assert outputs.describe() == "nothing" and not (tmp_path / "out.mp4").exists()
    outputs = headless.Outputs(tmp_path / "frames", save_depth="png")
    outputs.write("a", low_resolution_result().at_full_size(), 0)
    outputs.close()
    assert outputs.describe() == f"{tmp_path / 'frames'}, {tmp_path / 'frames' / 'depth'}"
    assert not list(tmp_path.glob(".*lock"))


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
    assert main(["--no-gui", "--video", str(video), "--weights", str(REFERENCE_CKPT), *FAST,
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
        assert main(["--no-gui", "--video", str(video), "--weights", str(REFERENCE_CKPT), *FAST,
                     "--output", str(output)]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: cannot create the folder") and "\n" not in err


def test_a_png_that_cannot_be_written_stops_the_run(tmp_path, image_folder, monkeypatch, capsys):
    out = tmp_path / "out"
    original = headless.write_file

    def failing(path, *args):
        if path.stem == "office":
            raise headless._os_problem(OSError(28, os.strerror(28)), path)
        original(path, *args)

    monkeypatch.setattr(headless, "write_file", failing)
    assert main(["--no-gui", "--images", str(image_folder), "--weights", str(REFERENCE_CKPT), *FAST,
                 "--output", str(out)]) == 1
    assert "error: disk full while writing" in capsys.readouterr().err
    assert [p.name for p in out.glob("*.png")] == ["kitchen.png"]


def test_without_weights_it_says_how_to_get_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JOINTSEG_WEIGHTS", str(tmp_path / "empty"))
    assert main(["--no-gui", "--synthetic", "--max-frames", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no --weights given") and "python -m model weights download" in err
    assert "\n" not in err


def test_max_frames_stops_an_endless_source(tmp_path):
    out = tmp_path / "out"
    assert main(["--no-gui", "--synthetic", "--weights", str(REFERENCE_CKPT), *FAST, "--max-frames", "3",
                 "--output", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["000000.png", "000001.png", "000002.png"]


def test_images_of_other_sizes_are_fitted_into_the_video(tmp_path, image_folder):
    big = read_rgb(EXAMPLES / "ExpNYUD_three" / "000433.png")[:2 * H, :W]
    cv2.imwrite(str(image_folder / "tall.png"), cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
    out = tmp_path / "out.mp4"
    assert main(["--no-gui", "--images", str(image_folder), "--weights", str(REFERENCE_CKPT), *FAST,
                 "--output", str(out), "--fps", "5"]) == 0
    frames, fps = read_video(out)
    assert len(frames) == 4 and {f.shape for f in frames} == {VIEW}
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
    assert main(["--no-gui", "--video", str(video), "--weights", str(REFERENCE_CKPT), *FAST,
                 "--output", str(out)]) == 0
    assert len(read_video(out)[0]) == 29
    assert any("frame 15 is unreadable" in r.getMessage() for r in caplog.records)
