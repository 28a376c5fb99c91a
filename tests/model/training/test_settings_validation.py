"""Training settings are checked before anything runs: each bad value named on its own line, exit code 2."""
import pytest

from model.training.config import CHECKS, DEFAULTS, SettingsInvalid, checked
from model.training.train import main


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


def run_config(tmp_path, data, text, capsys, flags=()):
    config = tmp_path / "bad.yaml"
    config.write_text(f"train: {data}\nout: {tmp_path / 'run'}\npretrained: none\n{text}")
    code = main(["--config", str(config), *flags])
    err = capsys.readouterr().err
    assert "Traceback" not in err and not (tmp_path / "run").exists()  # refused before anything ran
    return code, err.splitlines()


@pytest.mark.parametrize("text, line", [
    ("batch_size: 0\n", "error: batch_size: 0 is below 1"),
    ("batch_size: true\n", "error: batch_size: True is not a whole number"),
    ("epochs: -3\n", "error: epochs: -3 is below 1"),
    ("crop: -400\n", "error: crop: -400 is below 0"),
    ("workers: 1.5\n", "error: workers: 1.5 is not a whole number"),
    ("lr_encoder: abc\n", "error: lr_encoder: 'abc' is not a number"),
    ("lr_decoder: .inf\n", "error: lr_decoder: inf is not a finite number"),
    ("momentum: 1.5\n", "error: momentum: 1.5 is above 1"),
    ("lr_gamma: 0\n", "error: lr_gamma: 0 must be above 0"),
    ("loss_weights: {depth: .nan}\n", "error: loss_weights: depth nan is not a finite number"),
    ("loss_weights: {colour: 1.0}\n", "error: loss_weights: colour not among segm, depth, normals"),
    ("scale: [2.0, 0.5]\n", "error: scale: 2 0.5 is not a range (low high)"),
    ("scale: [0, 1]\n", "error: scale: 0 must be above 0"),
    ("scale: 1.5\n", "error: scale: 1.5 is not two numbers (low high)"),
    ("flip: maybe\n", "error: flip: 'maybe' is not yes or no"),
    ("tasks: [segm, colour]\n", "error: tasks: colour not among segm, depth, normals"),
    ("encoder: vgg16\n", "error: encoder: 'vgg16' is not one of mobilenet_v2, resnet50, resnet101, resnet152"),
    ("depth_png_scale: -5\n", "error: depth_png_scale: -5 must be above 0"),
    ("val: missing.txt\n", "error: val: missing.txt does not exist"),
])
def test_each_bad_setting_is_one_line_and_exit_code_2(tmp_path, data, capsys, text, line):
    code, lines = run_config(tmp_path, data, text, capsys)
    assert code == 2 and lines == [line]


def test_a_training_list_that_does_not_exist_and_a_root_that_is_no_folder(tmp_path, data, capsys):
    code, lines = run_config(tmp_path, data, f"train: {tmp_path / 'none.txt'}\nroot: {tmp_path / 'bad.yaml'}\n", capsys)
    assert code == 2
    assert lines == [f"error: train: {tmp_path / 'none.txt'} does not exist",
                     f"error: root: {tmp_path / 'bad.yaml'} is not a folder"]


def test_several_bad_settings_are_each_named(tmp_path, data, capsys):
    code, lines = run_config(tmp_path, data, "batch_size: 0\nepochs: -3\ncrop: -400\nlr_encoder: abc\n", capsys)
    assert code == 2 and [line.split(":")[1].strip() for line in lines] == ["epochs", "batch_size", "crop",
                                                                               "lr_encoder"]


@pytest.mark.parametrize("flags, line", [
    (["--batch-size", "0"], "error: batch_size: 0 is below 1"),
    (["--epochs", "-3"], "error: epochs: -3 is below 1"),
    (["--crop", "-400"], "error: crop: -400 is below 0"),
    (["--lr-encoder", "nan"], "error: lr_encoder: nan is not a finite number"),
    (["--loss-weights", "depth=inf"], "error: loss_weights: depth inf is not a finite number"),
    (["--loss-weights", "depth=x"], "error: --loss-weights: expected TASK=WEIGHT, got 'depth=x'"),
])
def test_bad_flags_are_refused_the_same_way(tmp_path, data, capsys, flags, line):
    code, lines = run_config(tmp_path, data, "", capsys, flags)
    assert code == 2 and lines == [line]


def test_good_settings_pass_and_yaml_number_text_becomes_a_number(data):
    config = checked({**DEFAULTS, "train": str(data), "lr_encoder": "1e-3", "epochs": 5})
    assert config["lr_encoder"] == 0.001 and config["epochs"] == 5 and config["scale"] == [0.5, 2.0]
    assert set(CHECKS) == set(DEFAULTS)  # no setting goes unchecked


def test_checked_raises_with_every_problem():
    with pytest.raises(SettingsInvalid) as raised:
        checked({**DEFAULTS, "batch_size": 0})
    assert raised.value.problems == ["no training data: set train (a list file or a folder) in the config or "
                                     "with --train", "batch_size: 0 is below 1"]
