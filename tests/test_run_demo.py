"""run_demo.py's command line: -i for any source, the wrong-kind messages, the flags the user typed, and the run
settings taking effect the same way in the window's arguments and headless."""
import sys
import types

import cv2
import numpy as np
import pytest

from app.sources import source_from_args
from model import Predictor, load_model
from model.inference.run_settings import SettingsError, from_args
from run_demo import main, parse_args
from tests.conftest import REFERENCE_CKPT

H, W = 64, 96
FAST = ["--size", "64", "--backend", "torch", "--precision", "fp32"]


def write_video(path, frames=12, fps=15.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (W, H))
    for i in range(frames):
        writer.write(np.full((H, W, 3), (20 * i, 100, 200), np.uint8))
    writer.release()
    return path


@pytest.fixture
def served_video(http_folder):
    """The URL of a 12-frame video served over HTTP on 127.0.0.1 for the test's duration."""
    folder, url = http_folder
    write_video(folder / "clip.avi")
    return f"{url}/clip.avi"


@pytest.fixture
def inputs(tmp_path):
    video = write_video(tmp_path / "clip.avi")
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((H, W, 3), 40 * i, np.uint8))
    return {"video": video, "folder": folder, "glob": folder / "*.png"}


def refused(argv, capsys):
    """The one-line message of a command line that argparse refuses (exit code 2)."""
    with pytest.raises(SystemExit) as exit_code:
        parse_args(argv)
    assert exit_code.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1].removeprefix("run_demo.py: error: ")


def test_input_takes_any_kind_of_source(inputs):
    cases = {str(inputs["video"]): "video", str(inputs["folder"]): "images", "1": "camera",
             str(inputs["glob"]): "glob", "rtsp://192.168.1.20/stream": "stream", "synthetic": "synthetic"}
    for text, kind in cases.items():
        for flag in ("-i", "--input"):
            assert source_from_args(parse_args([flag, text])).kind == kind, text


def test_a_stream_url_runs_headless(served_video, capsys):
    assert main(["--no-gui", "-i", served_video, "--weights", str(REFERENCE_CKPT), *FAST]) == 0
    captured = capsys.readouterr()
    assert f"input: stream URL {served_video} (15 fps)" in captured.err.splitlines()
    assert captured.out.startswith("12 frames in ")


def test_the_input_line_names_the_source_and_its_length(inputs, capsys):
    assert main(["--no-gui", "-i", str(inputs["video"]), "--weights", str(REFERENCE_CKPT), *FAST]) == 0
    assert capsys.readouterr().err.splitlines()[0] == "input: video file clip.avi (15 fps, 12 frames)"


def test_a_source_of_the_wrong_kind_says_what_was_expected(inputs, capsys):
    video, folder = inputs["video"], inputs["folder"]
    assert refused(["--images", str(video)], capsys) == \
        f"{video} is a video file, not a folder of images: use --video or -i"
    assert refused(["--video", str(folder)], capsys) == \
        f"{folder} is a folder of images, not a video file: use --images or -i"
    assert refused(["--video", str(inputs["glob"])], capsys) == \
        f"{inputs['glob']} is a glob pattern of images, not a video file: use -i"
    assert refused(["--camera", str(video)], capsys).endswith(
        f"{video} is a video file, not a camera index: use --video or -i")
    assert refused(["-i", "gone.mp4"], capsys).startswith("gone.mp4: no such file or folder")
    assert refused(["--images", str(folder), "-i", "0"], capsys) == \
        "argument -i/--input: not allowed with argument --images"


def test_flags_of_the_other_mode_and_bad_numbers_are_refused(capsys):
    assert refused(["--output", "out.mp4"], capsys) == "--output applies only with --no-gui"
    assert refused(["--no-gui", "--record", "a.mp4", "--overlay", "blend"], capsys) == \
        "--overlay, --record apply to the window only"
    assert refused(["--save-ply", "0", "--no-gui"], capsys).endswith("expected a whole number >= 1, got '0'")
    assert refused(["--intrinsics", "500,500,320"], capsys).endswith("expected 4 comma-separated numbers "
                                                                    "fx,fy,cx,cy, got 3")
    assert refused(["--size", "8"], capsys) == "input size 8 must be a whole number of pixels, 32 at least"


def test_a_calibration_file_is_checked_before_anything_runs(tmp_path, capsys):
    calibration = tmp_path / "camera.yaml"
    calibration.write_text("%YAML:1.0\n---\nimage_width: 640\n")
    assert refused(["--no-gui", "-i", "0", "--calibration", str(calibration)], capsys) == \
        f"{calibration}: no camera matrix (looked for camera_matrix, cameraMatrix, K)"


def test_given_holds_exactly_the_flags_typed():
    args = parse_args(["-d", "cpu", "--guard-labels", "0.98", "-i", "0", "--loop", "--save-depth", "--no-gui"])
    assert args.given == {"device", "guard_labels", "input", "loop", "save_depth", "no_gui"}  # 0.98: the default
    assert args.guard_labels == 0.98 and args.save_depth == "png" and args.precision == "auto"
    assert parse_args([]).given == set()


def test_the_window_gets_the_arguments_and_headless_the_rest(monkeypatch):
    received = []
    monkeypatch.setitem(sys.modules, "app.gui", types.SimpleNamespace(run=lambda args: received.append(args) or 7))
    assert main(["-w", "nyud", "--overlay", "blend"]) == 7
    assert received[0].given == {"weights", "overlay"} and received[0].weights == "nyud"


def test_the_backend_asked_for_is_the_one_headless_runs(inputs, capsys):
    assert main(["--no-gui", "-i", str(inputs["video"]), "--weights", str(REFERENCE_CKPT), "--size", "64",
                 "--backend", "onnxruntime", "--precision", "fp32"]) == 0
    captured = capsys.readouterr()
    assert "running: CPU fp32, onnxruntime" in captured.err.splitlines()
    assert "FPS, CPU fp32, onnxruntime)" in captured.out


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_cpu_fp16_is_accepted_or_refused_alike_by_the_window_and_headless(inputs, capsys, backend):
    flags = ["-d", "cpu", "--precision", "fp16", "--backend", backend, "--size", "64"]
    predictor = Predictor(load_model(REFERENCE_CKPT), from_args(parse_args(flags)))  # as the window builds it
    try:
        window = predictor.warmup((H, W)).description
    except SettingsError as e:
        window = f"error: {e}"
    code = main(["--no-gui", "-i", str(inputs["video"]), "--weights", str(REFERENCE_CKPT), *flags])
    captured = capsys.readouterr()
    if window.startswith("error: "):
        assert backend == "onnxruntime"  # it serves no fp16 on the CPU
        assert code == 1 and captured.err.strip().splitlines()[-1] == window
    else:
        assert backend == "torch"  # fp16 on the CPU when it passes the accuracy guard, else fp32 and why
        assert code == 0 and f"FPS, {window})" in captured.out
