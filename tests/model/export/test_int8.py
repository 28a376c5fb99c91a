"""python -m model export --int8: the int8 QDQ graph beside the fp32 one, calibrated on a folder of images, with
its agreement with fp32 reported."""
import re
import shutil

import cv2
import onnx
import pytest

from model.export.onnx import main
from tests.conftest import EXAMPLES, REFERENCE_CKPT


@pytest.fixture
def checkpoint(tmp_path):
    """The reference checkpoint in a folder of its own: the int8 cache goes beside it, not into tests/data."""
    path = tmp_path / "net" / "reference.ckpt"
    path.parent.mkdir()
    shutil.copy(REFERENCE_CKPT, path)
    return path


@pytest.fixture
def frames(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    image = cv2.imread(str(EXAMPLES / "ExpNYUD_three" / "000433.png"))
    for i in range(2):
        cv2.imwrite(str(folder / f"{i}.jpg"), cv2.resize(image[i * 40:, i * 60:], (96, 72)))
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_int8_is_written_beside_the_fp32_graph_with_its_agreement(checkpoint, frames, tmp_path, capsys):
    out = tmp_path / "out" / "net.onnx"
    assert main([str(checkpoint), "--onnx", str(out), "--int8", "--calibrate", str(frames)]) == 0
    lines = capsys.readouterr().out.splitlines()
    int8 = out.with_name("net.int8.onnx")
    assert lines[0].startswith(f"wrote {out} ")
    assert re.fullmatch(rf"wrote {re.escape(str(int8))} \(\d+\.\d MB, int8 QDQ, calibrated on 2 images of "
                        rf"{re.escape(str(frames))}\); on the first of them: labels \d+\.\d %, depth \d+\.\d\d % "
                        r"vs fp32(; below the engine's accuracy guard .*)?", lines[1])
    ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert int8.stat().st_size < out.stat().st_size / 2


def test_int8_goes_where_it_is_told(checkpoint, frames, tmp_path):
    out, int8 = tmp_path / "net.onnx", tmp_path / "elsewhere" / "small.onnx"
    assert main([str(checkpoint), "--onnx", str(out), "--int8", str(int8), "--calibrate", str(frames)]) == 0
    assert out.is_file() and int8.is_file()


def test_calibration_problems_are_one_line_and_write_nothing(checkpoint, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "net.onnx"
    assert main([str(checkpoint), "--onnx", str(out), "--int8", "--calibrate", str(empty)]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {empty}: no images (.png, .jpg, .jpeg, .bmp) to calibrate on\n" and not out.exists()
    with pytest.raises(SystemExit):
        main([str(checkpoint), "--onnx", str(out), "--calibrate", str(empty)])
    assert capsys.readouterr().err.strip().endswith("--calibrate needs --int8")
